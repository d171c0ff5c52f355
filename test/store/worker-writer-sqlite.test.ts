// WorkerWriter on a temporary SQLite file (fast tier): the tests it shares with MariaDB
// (worker-writer-cases.ts), then its own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/base/errors.js';
import { SeededRandom } from '../../src/base/random.js';
import { WorkerWriter } from '../../src/store/index.js';
import { sqliteBackend } from './backends.js';
import { randomEvents } from './events-fixture.js';
import { workerWriterTests } from './worker-writer-cases.js';

workerWriterTests('sqlite');

test('the worker reports an unreachable database as the same one-line UserError', async () => {
  await assert.rejects(
    WorkerWriter.open('mysql://root@127.0.0.1:1/x'),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === 1 &&
      /^cannot reach database mysql:\/\/root@127\.0\.0\.1:1\/x: connection refused/.test(e.message),
  );
});

test('pressure: the tracer is told to stop reading while too many events wait for the worker, and to go on once it took them', async () => {
  const backend = sqliteBackend();
  const spillDir = mkdtempSync(join(tmpdir(), 'memlens-worker-spill-'));
  try {
    const writer = await WorkerWriter.open(backend.url, { spillDir });
    assert.equal(writer.pressure(), undefined);
    const events = randomEvents(new SeededRandom(21), 10_000, 1n, ['pressure']);
    // Posted without a turn of the event loop: the worker's acknowledgements cannot arrive yet.
    let posted = 0;
    while (posted <= WorkerWriter.PAUSE_ABOVE_EVENTS) {
      writer.write(events);
      posted += events.length;
    }
    const behind = writer.pressure();
    assert.ok(behind !== undefined, 'more than the limit waits: the tracer must pause');
    assert.equal(writer.pressure(), behind, 'one promise for one pause');
    await behind;
    assert.equal(writer.pressure(), undefined);
    await writer.flush();
    assert.equal((await writer.stats()).committedEvents, posted);
    assert.ok((await writer.close()).complete);
  } finally {
    rmSync(spillDir, { recursive: true, force: true });
    await backend.drop();
  }
});
