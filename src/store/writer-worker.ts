// The worker thread that owns the store and its BufferedWriter, so that the SQL work (most of a
// SQLite insert's cost is in-process) runs beside the tracer's thread, not in it. It runs at the
// weakest priority (the tracer lowers its process's background threads, src/sources/own-threads.ts):
// on a busy machine the traced programs go first, and the tracer stops reading when too much waits
// here (WorkerWriter.pressure), so that the kernel, not memlens, drops and counts the excess.
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../base/errors.js';
import { BufferedWriter } from './buffered-writer.js';
import { decodeEventBatch } from './event-batch-codec.js';
import { openStore } from './index.js';
import type { FromWorker, ToWorker, WorkerInit } from './writer-protocol.js';

const port = parentPort;
if (port === null) throw new Error('writer-worker.js runs as a worker thread only');
const post = (m: FromWorker): void => port.postMessage(m);
const init = workerData as WorkerInit;
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

try {
  const store = await openStore(init.url);
  const writer = new BufferedWriter(store, { ...init.options, onError: (e, failures) => post({ type: 'db-error', message: messageOf(e), failures }) });
  let retentionTimer: NodeJS.Timeout | undefined;
  const retention = init.retention;
  if (retention !== null) {
    const prune = (): void => {
      store.applyRetention(retention).then(
        (r) => post({ type: 'retention', deletedEvents: r.deletedEvents, error: null }),
        (e: unknown) => post({ type: 'retention', deletedEvents: 0, error: messageOf(e) }),
      );
    };
    prune();
    retentionTimer = setInterval(prune, init.retentionEveryMs);
  }
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'write':
        writer.write(decodeEventBatch(m.batch));
        post({ type: 'taken', events: m.events });
        break;
      case 'start':
        writer.processStarted(m.start);
        break;
      case 'lost':
        writer.recordLost(m.host, m.counts);
        break;
      case 'flush':
        writer.flush().then(
          () => post({ type: 'flushed', id: m.id }),
          (e: unknown) => post({ type: 'failed', id: m.id, message: messageOf(e) }),
        );
        break;
      case 'stats':
        post({ type: 'stats', id: m.id, stats: writer.stats() });
        break;
      case 'close':
        if (retentionTimer !== undefined) clearInterval(retentionTimer);
        writer
          .close(m.timeoutMs)
          .then(async (result) => {
            await store.close().catch(() => undefined);
            post({ type: 'closed', id: m.id, result });
            port.close();
          })
          .catch((e: unknown) => post({ type: 'failed', id: m.id, message: messageOf(e) }));
        break;
    }
  });
  post({ type: 'ready', description: store.description });
} catch (e) {
  post({ type: 'open-failed', message: messageOf(e), exitCode: e instanceof UserError ? e.exitCode : 1 });
  port.close();
}
