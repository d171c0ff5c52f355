// WorkerWriter: the store in a worker thread, on SQLite and on the shared MariaDB (run by
// worker-writer-sqlite.test.ts and worker-writer-mariadb.live.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { WorkerWriter, openStore } from '../../src/store/index.js';
import { mariadbBackend, sqliteBackend, type BackendKind } from './backends.js';
import { randomEvents, withoutId } from './events-fixture.js';

export function workerWriterTests(kind: BackendKind): void {
  test(`events written through the worker thread arrive once, in order, with totals and lost counts (${kind})`, async () => {
    const backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_store_worker');
    const spillDir = mkdtempSync(join(tmpdir(), 'memlens-worker-spill-'));
    try {
      const writer = await WorkerWriter.open(backend.url, { spillDir, batchEvents: 1000 });
      const events = randomEvents(new SeededRandom(11), 8000, 1n, ['worker']);
      writer.processStarted({ host: 'worker', pid: 3, startNs: 0n, name: 'seeded', timeMs: 1 });
      for (let i = 0; i < events.length; i += 700) writer.write(events.slice(i, i + 700));
      writer.recordLost('worker', { lostEvents: 2, unpaired: 1, malformed: 0 });
      await writer.flush();
      const stats = await writer.stats();
      assert.equal(stats.committedEvents, events.length);
      const closed = await writer.close();
      assert.ok(closed.complete);
      assert.deepEqual(readdirSync(spillDir), []);

      const store = await openStore(backend.url);
      try {
        assert.deepEqual((await store.queryEvents({ limit: 10_000 })).map(withoutId), [...events].reverse());
        const host = (await store.hosts())[0];
        assert.equal(host?.eventCount, events.length);
        assert.deepEqual(host.lost, { lostEvents: 2, unpaired: 1, malformed: 0 });
        const mmapCalls = (await store.processTotals()).reduce((n, t) => n + t.mmapCalls, 0);
        assert.equal(mmapCalls, events.filter((e) => e.call === 'mmap').length);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(spillDir, { recursive: true, force: true });
      await backend.drop();
    }
  });
}
