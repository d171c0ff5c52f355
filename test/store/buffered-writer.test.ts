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
import { EventRecords } from '../../src/store/event-batch-codec.js';
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
    events: EventRecords.of([e]),
    starts: [{ host: 'h', pid: 1, startNs: 1n << 62n, name: 'n', timeMs: 5 }],
    lost: [{ host: 'h', counts: { lostEvents: 1, unpaired: 2, malformed: 3 } }],
  };
  const back = decodeBatch(encodeBatch(b).trimEnd());
  assert.deepEqual({ ...back, events: back.events.toEvents() }, { ...b, events: [e] });
});

test('a spill line of version 1 (calls as JSON tuples, as earlier runs wrote them) is still read', () => {
  const line =
    '{"v":1,"id":"b1","events":[[1763900000000.5,"9223372036854775813","h",7,8,"n","t","mremap","18446744073709547520","9007199254740993",null,1,null,"-12","ENOMEM","1152921504606846976","140737488355328"]],' +
    '"starts":[{"host":"h","pid":7,"startNs":"5","name":"n","timeMs":3}],"lost":[{"host":"h","counts":{"lostEvents":1,"unpaired":2,"malformed":3}}]}';
  const b = decodeBatch(line);
  assert.equal(b.id, 'b1');
  assert.deepEqual(b.events.toEvents(), [
    event({
      timeMs: 1763900000000.5,
      ktimeNs: (1n << 63n) + 5n,
      host: 'h',
      pid: 7,
      tid: 8,
      name: 'n',
      thread: 't',
      call: 'mremap',
      addr: (1n << 64n) - 4096n,
      lengthBytes: (1n << 53n) + 1n,
      prot: null,
      flags: 1,
      fd: null,
      result: -12n,
      error: 'ENOMEM',
      newLengthBytes: 1n << 60n,
      newAddr: 1n << 47n,
    }),
  ]);
  assert.deepEqual(b.starts, [{ host: 'h', pid: 7, startNs: 5n, name: 'n', timeMs: 3 }]);
  assert.deepEqual(b.lost, [{ host: 'h', counts: { lostEvents: 1, unpaired: 2, malformed: 3 } }]);
});

test('damaged spill lines are refused, never half read', () => {
  const good = encodeBatch({ id: 'x', events: EventRecords.of(randomEvents(new SeededRandom(8), 20, 1n)) }).trimEnd();
  const line = JSON.parse(good) as { records: string };
  const bytes = Buffer.from(line.records, 'base64');
  const damaged = (mutate: (b: Buffer) => Buffer): string =>
    JSON.stringify({ ...line, records: mutate(Buffer.from(bytes)).toString('base64') });
  for (const bad of [
    damaged((b) => b.subarray(0, b.length - 1)), // the string table cut short
    damaged((b) => b.subarray(0, 100)), // records cut short
    damaged((b) => (b.writeUInt32LE(0x7fffffff, 8), b)), // a count past the end
    damaged((b) => (b.writeUInt32LE(999, 16 + 88), b)), // a host index past the table
    damaged((b) => (b.writeUInt8(9, 16 + 104), b)), // an unknown call
    damaged((b) => (b.writeUInt8(0x80, 16 + 105), b)), // unknown null bits
    JSON.stringify({ ...line, records: '!!!' }),
    JSON.stringify({ ...line, records: 5 }),
    JSON.stringify({ ...line, v: 3 }),
    'null',
  ])
    assert.throws(() => decodeBatch(bad));
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
  f.append({ id: newBatchId(), events: EventRecords.of(old.slice(0, 150)) });
  f.append({ id: newBatchId(), events: EventRecords.of(old.slice(150)) });
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
