// BufferedWriter on SQLite: the memory bound, leftovers of a dead run, damaged spill files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { BufferedWriter, newBatchId, openStore } from '../../src/store/index.js';
import { spillKey } from '../../src/store/buffered-writer.js';
import { decodeBatch, encodeBatch } from '../../src/store/spill-codec.js';
import { SpillFile } from '../../src/store/spill-file.js';
import { sqliteBackend } from './backends.js';
import { event, randomEvents, withoutId } from './events-fixture.js';

const dirs: string[] = [];
const backends: { drop(): Promise<void> }[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'memlens-writer-'));
  dirs.push(d);
  return d;
};
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const b of backends) await b.drop();
});

test('the spill line format is lossless for 64-bit values', () => {
  const e = event({
    ktimeNs: (1n << 63n) + 5n,
    addr: (1n << 64n) - 4096n,
    lengthBytes: (1n << 53n) + 1n,
    result: -12n,
    error: 'ENOMEM',
    newLengthBytes: 1n << 60n,
    newAddr: 1n << 47n,
  });
  const b = {
    id: newBatchId(),
    events: [e],
    starts: [{ host: 'h', pid: 1, startNs: 1n << 62n, name: 'n', timeMs: 5 }],
    lost: [{ host: 'h', counts: { lostEvents: 1, unpaired: 2, malformed: 3 } }],
  };
  assert.deepEqual(decodeBatch(encodeBatch(b).trimEnd()), b);
});

test('past the memory bound, batches go through the spill file; order and count are kept', async () => {
  const backend = sqliteBackend();
  backends.push(backend);
  const store = await openStore(backend.url);
  const spillDir = tempDir();
  const writer = new BufferedWriter(store, { spillDir, batchEvents: 100, maxMemoryEvents: 1000 });
  const events = randomEvents(new SeededRandom(3), 6000, 1n, ['bound']);
  // All at once, before the worker can write anything: memory alone cannot hold them.
  for (let i = 0; i < events.length; i += 500) writer.write(events.slice(i, i + 500));
  assert.ok(writer.stats().memoryEvents <= 1000 + 500, 'memory stays bounded');
  await writer.flush();
  const stats = writer.stats();
  assert.ok(stats.spilledBatches > 0);
  assert.equal(stats.committedEvents, events.length);
  assert.ok((await writer.close()).complete);
  assert.deepEqual(readdirSync(spillDir), []);
  const stored = await store.queryEvents({ limit: 10_000 });
  assert.deepEqual(stored.map(withoutId), [...events].reverse());
  await store.close();
});

test('a dead run’s spill file is adopted and written first; damaged lines are skipped and counted', async () => {
  const backend = sqliteBackend();
  backends.push(backend);
  const store = await openStore(backend.url);
  const spillDir = tempDir();
  // What a writer of a memlens that died (a pid that has exited) left behind: two batches, then a
  // line that is not a batch, then a batch torn by the crash.
  const deadPid = spawnSync('true').pid;
  const key = spillKey(store.description);
  const leftover = join(spillDir, `${key}-${deadPid}.x.ndjson`);
  const old = randomEvents(new SeededRandom(4), 300, 1n, ['dead']);
  const f = new SpillFile(leftover, true);
  f.append({ id: newBatchId(), events: old.slice(0, 150) });
  f.append({ id: newBatchId(), events: old.slice(150) });
  f.close();
  appendFileSync(leftover, '{"not":"a batch"}\n{"v":1,"id":"torn","events":[[1,');

  const writer = new BufferedWriter(store, { spillDir });
  const fresh = randomEvents(new SeededRandom(5), 100, 10_000_000n, ['dead']);
  writer.write(fresh);
  await writer.flush();
  assert.equal(writer.stats().malformedSpillLines, 2, 'the line that is not a batch and the torn batch');
  await writer.close();
  const stored = await store.queryEvents({ limit: 10_000 });
  assert.deepEqual(stored.map(withoutId), [...old, ...fresh].reverse());
  await store.close();
});
