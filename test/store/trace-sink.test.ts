// The trace sink: what `memlens trace` stores through. Events and lost counts arrive; a fork seen
// by the tracer opens a new process instance, so a reused pid's calls are not added to the totals
// of the process that had the pid before; retention runs while tracing.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { openStore, openStoreSink } from '../../src/store/index.js';
import { mariadbBackend, sqliteBackend } from './backends.js';
import { event, randomEvents } from './events-fixture.js';

function collector(): { stream: Writable; said: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, said: () => text };
}

test('the trace sink stores events and the run’s lost counts', async () => {
  const backend = sqliteBackend();
  try {
    const err = collector();
    const sink = await openStoreSink(backend.url, { host: 'sink', stderr: err.stream });
    assert.match(sink.description, /^stored in sqlite:/);
    const events = randomEvents(new SeededRandom(12), 500, 1n, ['sink']);
    sink.write(events);
    await sink.close({ lostEvents: 4, unpaired: 0, malformed: 1 });
    assert.equal(err.said(), '');
    const store = await openStore(backend.url);
    try {
      assert.equal(await store.countEvents({ host: 'sink' }), events.length);
      assert.deepEqual((await store.hosts())[0]?.lost, { lostEvents: 4, unpaired: 0, malformed: 1 });
    } finally {
      await store.close();
    }
  } finally {
    await backend.drop();
  }
});

for (const kind of ['sqlite', 'mariadb'] as const) {
  test(`a pid reused after a fork the tracer saw starts new totals (${kind})`, async () => {
    const backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_trace_sink');
    try {
      const sink = await openStoreSink(backend.url, { host: 'h' });
      const mib = 1n << 20n;
      // pid 500 maps 3 MiB and exits; a fork then creates a new process that gets pid 500 again
      // and maps 1 MiB. Without the start, its totals would read 4 MiB under the new name.
      sink.write([event({ host: 'h', pid: 500, tid: 500, name: 'old', ktimeNs: 10n, lengthBytes: 3n * mib })], [{ kind: 'exit', ktimeNs: 20n, pid: 500, tid: 500, name: 'old' }]);
      sink.write(
        [event({ host: 'h', pid: 500, tid: 500, name: 'new', ktimeNs: 40n, lengthBytes: mib })],
        [
          { kind: 'fork', ktimeNs: 30n, parentPid: 1, childPid: 500, childTid: 500, isThread: false, name: 'new' },
          // A new thread is not a new process: no instance of its own.
          { kind: 'fork', ktimeNs: 35n, parentPid: 500, childPid: 500, childTid: 501, isThread: true, name: 'new' },
        ],
      );
      await sink.close({ lostEvents: 0, unpaired: 0, malformed: 0 });
      const store = await openStore(backend.url);
      try {
        const totals = await store.processTotals({ host: 'h', pid: 500 });
        assert.deepEqual(
          totals.map((t) => ({ name: t.name, startNs: t.startNs, mmapBytes: t.mmapBytes, calls: t.mmapCalls })),
          [
            { name: 'old', startNs: 0n, mmapBytes: 3n * mib, calls: 1 },
            { name: 'new', startNs: 30n, mmapBytes: mib, calls: 1 },
          ],
        );
      } finally {
        await store.close();
      }
    } finally {
      await backend.drop();
    }
  });
}

test('retention runs while tracing: --max-rows keeps the newest events', async () => {
  const backend = sqliteBackend();
  try {
    const old = randomEvents(new SeededRandom(3), 300, 1n, ['r']);
    const before = await openStore(backend.url);
    await before.appendEvents(old);
    await before.close();
    const err = collector();
    // The first pass runs when the sink opens; the interval then repeats it.
    const sink = await openStoreSink(backend.url, { host: 'r', retention: { maxRows: 100 }, retentionEveryMs: 50, stderr: err.stream });
    const fresh = randomEvents(new SeededRandom(4), 50, 1_000_000_000n, ['r']);
    sink.write(fresh);
    const store = await openStore(backend.url);
    try {
      // Wait for the first pass to have deleted the 200 oldest rows, then for the fresh events.
      while ((await store.countEvents({ host: 'r' })) > 150) await new Promise((r) => setTimeout(r, 20));
      await sink.close({ lostEvents: 0, unpaired: 0, malformed: 0 });
      assert.match(err.said(), /retention deleted 200 stored events/);
      const page = await store.queryEvents({ host: 'r', limit: 10_000 });
      const ktimes = page.map((e) => e.ktimeNs);
      // All 50 fresh events are kept, and what is left of the old ones is their newest part.
      for (const e of fresh) assert.ok(ktimes.includes(e.ktimeNs));
      assert.ok(page.length <= 150);
    } finally {
      await store.close();
    }
  } finally {
    await backend.drop();
  }
});
