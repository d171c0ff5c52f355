// The store's writer on a full disk (a small tmpfs this test mounts and fills): the SQLite file and
// the spill directory on it, as with the default data directory. Nothing can take events, so the
// worker holds what it has, tells the tracer to stop reading at once, and writes everything, once,
// when there is room again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SeededRandom } from '../../src/base/random.js';
import { WorkerWriter, openStore } from '../../src/store/index.js';
import { Teardown } from '../helpers/teardown.js';
import { waitAtMost } from '../helpers/waiting.js';
import { randomEvents, withoutId } from './events-fixture.js';
import { fillDisk } from '../helpers/disk-fill.js';

test('store and spill on a full disk: the worker holds the events, stops the tracer at once, says "disk full", and writes all once there is room', async () => {
  const local = new Teardown();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-disk-full-'));
    local.add(() => rmSync(dir, { recursive: true, force: true }));
    const mnt = join(dir, 'disk');
    mkdirSync(mnt);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { encoding: 'utf8' });
    assert.equal(r.status, 0, `mount: ${r.stderr}`);
    local.add(() => spawnSync('umount', ['-l', mnt]));
    const url = join(mnt, 'events.sqlite');
    const spillDir = join(mnt, 'spill');
    const writer = await WorkerWriter.open(
      url,
      { spillDir, batchEvents: 500, flushIntervalMs: 20, retryMinMs: 50, retryMaxMs: 200 },
      null,
      { unspillableEvents: 1000 },
    );
    local.add(() => writer.close(1000));
    const errors: string[] = [];
    const faults: (string | null)[] = [];
    writer.onError = (e) => errors.push(e.message);
    writer.onSpillFault = (f) => faults.push(f);
    const events = randomEvents(new SeededRandom(21), 6000, 1n, ['full']);
    writer.write(events.slice(0, 1000));
    await writer.flush();

    const filler = fillDisk(mnt);
    for (let i = 1000; i < 6000; i += 500) writer.write(events.slice(i, i + 500));
    await waitAtMost(2 * 60_000, 'the worker to report that the spill file cannot be written', async () => {
      while (faults.length === 0) await sleep(20);
    });
    assert.match(faults[0] ?? '', /^cannot write the spill file in .*: disk full \(ENOSPC/);
    assert.ok(
      errors.some((m) => /^disk full \(.*SQLITE_FULL/.test(m)),
      `the database's failure is "disk full": ${errors.join(' | ')}`,
    );
    await waitAtMost(2 * 60_000, 'the worker to tell the tracer to stop reading', async () => {
      while (writer.pressure() === undefined) await sleep(20);
    });
    const held = await writer.stats();
    assert.ok(held.memoryEvents > 0 && held.memoryEvents <= 5000, `events held in memory (${held.memoryEvents})`);
    assert.ok(held.spillFault !== null);
    assert.ok(writer.unacknowledgedEvents() > 0, 'what the worker holds is not acknowledged: the tracer reads no more');

    rmSync(filler);
    await waitAtMost(2 * 60_000, 'the tracer to be let read again once the disk has room', async () => {
      const p = writer.pressure();
      if (p !== undefined) await p;
    });
    await writer.flush();
    const closed = await writer.close();
    assert.ok(closed.complete);
    assert.equal(closed.lostEvents, 0);
    assert.equal(faults.at(-1), null, 'told that nothing is held any more');
    assert.deepEqual(
      readdirSync(spillDir).filter((f) => f.endsWith('.ndjson')),
      [],
    );
    const store = await openStore(url);
    try {
      assert.deepEqual(
        (await store.queryEvents({ limit: 10_000 })).map(withoutId),
        [...events].reverse(),
        'every event once, in order',
      );
    } finally {
      await store.close();
    }
  } finally {
    await local.run().catch(() => undefined);
  }
});
