// The worker thread that owns the store and its BufferedWriter, so that SQL work (most of a
// SQLite insert's cost is in-process) runs on another core than the tracer's decoding.
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../base/errors.js';
import { BufferedWriter } from './buffered-writer.js';
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
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'write':
        writer.write(m.events);
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
