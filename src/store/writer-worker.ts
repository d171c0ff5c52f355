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
/** Events waiting in the writer's memory above which a database that answers is "slow". */
const SLOW_DATABASE_EVENTS = init.flow?.slowDatabaseEvents ?? 100_000;
/**
 * A commit that has had no answer for this long means a database that is away without saying so
 * (a frozen server, a network path that drops packets: TCP may take a quarter of an hour to give
 * up). A batch of 5,000 events commits in about 0.2 s into MariaDB and less into SQLite here
 * (bench/README.md, store insert rate), so 2 s is ten times that. Past this bound what waits goes
 * to the spill file and the tracer reads on, instead of pausing while the kernel drops events.
 */
const STALLED_COMMIT_MS = init.flow?.stalledCommitMs ?? 2000;

try {
  const store = await openStore(init.url);
  // The spill bound sits above the slow-database bound: with the database up, flow control keeps
  // the queue below it and nothing is spilled.
  const writer = new BufferedWriter(store, { maxMemoryEvents: 3 * SLOW_DATABASE_EVENTS, ...init.options, onError: (e, failures) => post({ type: 'db-error', message: messageOf(e), failures }) });
  // Taken events are acknowledged at once, unless the database is up but slower than the events
  // come: then the acknowledgement waits until the writer's queue has gone down, the tracer's
  // thread stops reading (WorkerWriter.pressure) and the kernel drops and counts the excess. The
  // spill file is for a database that is away, not for one that cannot keep up: spilling there
  // would only add work where work is already too much.
  let heldEvents = 0;
  const release = (): void => {
    if (heldEvents === 0) return;
    const s = writer.stats();
    if (s.databaseUp && s.memoryEvents > SLOW_DATABASE_EVENTS) {
      if (s.commitWaitMs < STALLED_COMMIT_MS) return;
      writer.spillWaiting();
    }
    post({ type: 'taken', events: heldEvents });
    heldEvents = 0;
  };
  const releaseTimer = setInterval(release, 50);
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
        heldEvents += m.events;
        release();
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
        clearInterval(releaseTimer);
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
