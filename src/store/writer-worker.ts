// The worker thread that owns the store and its BufferedWriter, so that the SQL work (most of a
// SQLite insert's cost is in-process) runs beside the tracer's thread, not in it. It runs at the
// weakest priority (the tracer lowers its process's background threads, src/sources/own-threads.ts):
// on a busy machine the traced programs go first, and the tracer stops reading when too much waits
// here (WorkerWriter.pressure), so that the kernel, not memlens, drops and counts the excess.
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../base/errors.js';
import { BufferedWriter } from './buffered-writer.js';
import { EventRecords } from './event-batch-codec.js';
import { openStore } from './index.js';
import { startRetentionTimer } from './retention-timer.js';
import { describeStorageError, isDiskFull } from './storage-fault.js';
import type { FromWorker, ToWorker, WorkerInit } from './writer-protocol.js';

const port = parentPort;
if (port === null) throw new Error('writer-worker.js runs as a worker thread only');
const post = (m: FromWorker): void => port.postMessage(m);
const init = workerData as WorkerInit;
const messageOf = (e: unknown): string => describeStorageError(e);
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
/** Events held in memory, for want of a spill file, above which the tracer stops reading: two batches. */
const UNSPILLABLE_EVENTS = init.flow?.unspillableEvents ?? 10_000;
/** How long the store's connections may take to close at the end. */
const STORE_CLOSE_MS = 1000;

try {
  const store = await openStore(init.url, { notice: (line) => post({ type: 'notice', line }) });
  // The spill bound sits above the slow-database bound: with the database up, flow control keeps
  // the queue below it and nothing is spilled.
  const writer: BufferedWriter = new BufferedWriter(store, {
    maxMemoryEvents: 3 * SLOW_DATABASE_EVENTS,
    ...init.options,
    onError: (e, failures) =>
      post({
        type: 'db-error',
        message: messageOf(e),
        failures,
        diskFull: isDiskFull(e),
        spillFault: writer.stats().spillFault,
      }),
    onSpillFault: (fault) => post({ type: 'spill-fault', fault, spillDir: writer.stats().spillDir }),
  });
  // Taken events are acknowledged at once, unless the database is up but slower than the events
  // come: then the acknowledgement waits until the writer's queue has gone down, the tracer's
  // thread stops reading (WorkerWriter.pressure) and the kernel drops and counts the excess. The
  // spill file is for a database that is away, not for one that cannot keep up: spilling there
  // would only add work where work is already too much.
  // The same holds when the spill file cannot be written (a full disk) while the database cannot
  // take the events either: they stay in memory, so the tracer stops reading once the bound is
  // reached, and the kernel drops and counts what comes next instead of memlens losing events it
  // has accepted.
  // Events held that way are kept nowhere but here: a run that ends before the database takes them
  // loses them (and says how many). So the bound is much lower, and the tracer is told to stop
  // reading at once (a 'hold' message) rather than after PAUSE_ABOVE_EVENTS more.
  let heldEvents = 0;
  let holding = false;
  const hold = (on: boolean): void => {
    if (on !== holding) post({ type: 'hold', on });
    holding = on;
  };
  // Held acknowledgements are looked at again every 50 ms, by a timer that runs only while some
  // are held: a tracer of an idle machine leaves this thread asleep between its writes.
  let releaseTimer: NodeJS.Timeout | undefined;
  const release = (): void => {
    if (heldEvents === 0) return;
    let s = writer.stats();
    const keep = (): void => void (releaseTimer ??= setInterval(release, 50));
    if (s.memoryEvents > SLOW_DATABASE_EVENTS && s.spillFault === null && s.databaseUp) {
      if (s.commitWaitMs < STALLED_COMMIT_MS) {
        keep();
        return;
      }
      writer.spillWaiting();
      s = writer.stats();
    }
    if (s.memoryEvents > UNSPILLABLE_EVENTS && s.spillFault !== null) {
      hold(true);
      keep();
      return;
    }
    hold(false);
    post({ type: 'taken', events: heldEvents });
    heldEvents = 0;
    clearInterval(releaseTimer);
    releaseTimer = undefined;
  };
  const retention = init.retention;
  const stopRetention =
    retention === null
      ? undefined
      : startRetentionTimer(
          () => store.applyRetention(retention),
          init.retentionEveryMs,
          (r) =>
            post(
              r.ok
                ? { type: 'retention', deletedEvents: r.value.deletedEvents, error: null }
                : { type: 'retention', deletedEvents: 0, error: messageOf(r.error) },
            ),
        );
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'write':
        writer.write(EventRecords.read(m.batch), true);
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
        stopRetention?.();
        clearInterval(releaseTimer);
        writer
          .close(m.timeoutMs, STALLED_COMMIT_MS)
          .then(async (result) => {
            // Closing the connections of a frozen server waits for answers that never come (the
            // pool ends each connection with COM_QUIT and waits): bounded, and the thread is
            // terminated by WorkerWriter.close afterwards anyway.
            let bound: NodeJS.Timeout | undefined;
            await Promise.race([
              store.close().catch(() => undefined),
              new Promise<void>((resolve) => (bound = setTimeout(resolve, STORE_CLOSE_MS))),
            ]);
            clearTimeout(bound);
            post({ type: 'closed', id: m.id, result });
            port.close();
          })
          .catch((e: unknown) => post({ type: 'failed', id: m.id, message: messageOf(e) }));
        break;
    }
  });
  post({ type: 'ready', description: store.description, spillDir: writer.stats().spillDir });
} catch (e) {
  post({ type: 'open-failed', message: messageOf(e), exitCode: e instanceof UserError ? e.exitCode : 1 });
  port.close();
}
