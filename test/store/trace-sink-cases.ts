// The trace sink: what `memlens trace` stores through. Events and lost counts arrive; a fork seen
// by the tracer opens a new process instance, so a reused pid's calls are not added to the totals
// of the process that had the pid before; retention runs while tracing. The tests of both databases
// are here, run by trace-sink-sqlite.test.ts and trace-sink-mariadb.live.test.ts.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { openStore, openStoreSink } from '../../src/store/index.js';
import { mariadbBackend, sqliteBackend, type BackendKind } from './backends.js';
import { event } from './events-fixture.js';

export function collector(): { stream: Writable; said: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, said: () => text };
}

export function reusedPidTests(kind: BackendKind): void {
  test(`a pid reused after a fork the tracer saw starts new totals (${kind})`, async () => {
    const backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_trace_sink');
    try {
      const sink = await openStoreSink(backend.url, { host: 'h' });
      const mib = 1n << 20n;
      // pid 500 maps 3 MiB and exits; a fork then creates a new process that gets pid 500 again
      // and maps 1 MiB. Without the start, its totals would read 4 MiB under the new name.
      sink.write(
        [event({ host: 'h', pid: 500, tid: 500, name: 'old', ktimeNs: 10n, lengthBytes: 3n * mib })],
        [{ kind: 'exit', ktimeNs: 20n, pid: 500, tid: 500, name: 'old' }],
      );
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
