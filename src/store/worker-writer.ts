// WorkerWriter: the BufferedWriter in a worker thread of its own. The tracer's thread only encodes
// events into a binary buffer and transfers it (event-batch-codec.ts), while the store's SQL work,
// several microseconds per event on SQLite (bench/README.md), runs in the worker. Same guarantees
// as BufferedWriter, plus flow control: pressure() tells the tracer to stop reading while too many
// events wait for the worker to take them, so that memory stays bounded however slow the worker is.
import { Worker } from 'node:worker_threads';
import { UserError } from '../base/errors.js';
import type { LostCounts, MemEvent } from '../wire/events.js';
import { encodeEventBatch } from './event-batch-codec.js';
import type { BufferedWriterOptions, CloseResult, WriterStats } from './buffered-writer.js';
import type { ProcessStart } from './totals.js';
import type { StoreNotice } from './schema.js';
import type { FlowBounds, FromWorker, ToWorker, WorkerInit } from './writer-protocol.js';

/** See WorkerWriter.open. */
const WORKER_YOUNG_GENERATION_MB = 24;

type Pending = { resolve: (m: FromWorker) => void; reject: (e: Error) => void };

export class WorkerWriter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private gone: Error | undefined;
  /** Events posted that the worker has not taken yet. */
  private waitingEvents = 0;
  private drained: (() => void) | undefined;
  private drainedPromise: Promise<void> | undefined;
  /** The worker holds what it took in memory, with nowhere to keep it: read no more than is read. */
  private holding = false;

  private constructor(
    private readonly worker: Worker,
    readonly description: string,
    /** Where the worker's spill files go. */
    readonly spillDir: string,
  ) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'db-error')
        this.onError?.(new Error(m.message), m.failures, { diskFull: m.diskFull, spillFault: m.spillFault });
      else if (m.type === 'spill-fault') this.onSpillFault?.(m.fault, m.spillDir);
      else if (m.type === 'taken') this.took(m.events);
      else if (m.type === 'hold') this.holding = m.on;
      else if (m.type === 'retention') this.onRetention?.(m.deletedEvents, m.error);
      else if ('id' in m) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.type === 'failed') p?.reject(new Error(m.message));
        else p?.resolve(m);
      }
    });
    const fail = (e: Error): void => {
      this.gone = e;
      this.took(this.waitingEvents);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the store's worker thread exited (code ${code})`)));
  }

  /** Told about each failed write attempt (the worker keeps retrying); spillFault: why what waits cannot be spilled either. */
  onError:
    | ((error: Error, consecutiveFailures: number, info: { diskFull: boolean; spillFault: string | null }) => void)
    | undefined;
  /** Told when events are held in memory because the spill file cannot be written (fault), and when that ends (null). */
  onSpillFault: ((fault: string | null, spillDir: string) => void) | undefined;
  /** Told after each retention pass of the worker. */
  onRetention: ((deletedEvents: number, error: string | null) => void) | undefined;

  /**
   * Opens the store at a `--db` value in a new worker thread; open errors are the store's own
   * UserErrors. `notice` hears what a long migration says while the store opens.
   */
  static open(
    url: string | undefined,
    options: Omit<BufferedWriterOptions, 'onError'> = {},
    retention: { limit: { maxAgeMs?: number; maxRows?: number }; everyMs: number } | null = null,
    flow?: FlowBounds,
    notice: StoreNotice = () => undefined,
  ): Promise<WorkerWriter> {
    const init: WorkerInit = {
      url,
      options,
      retention: retention?.limit ?? null,
      retentionEveryMs: retention?.everyMs ?? 0,
      flow,
    };
    // The worker's young generation capped at 24 MiB, i.e. semi-spaces of 8 MiB instead of the
    // 16 MiB V8 grows them to (its young generation is three semi-spaces: V8's
    // Heap::YoungGenerationSizeFromSemiSpaceSize; Node's Worker resourceLimits,
    // https://nodejs.org/docs/latest-v20.x/api/worker_threads.html#new-workerfilename-options).
    // The worker makes about 125 bytes of garbage a call, little of it long-lived (its queue is
    // bytes outside the heap), so the smaller nursery costs no CPU that could be measured, and
    // takes 10 to 18 MiB off the peak RSS at 100,000 calls/s (bench/README.md, "Peak RSS at
    // 100,000 calls/s"). 8 MiB (semi-spaces of under 3 MiB) cost CPU and was dropped.
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), {
      workerData: init,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'notice') {
          notice(m.line);
          return;
        }
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (m.type === 'ready') resolve(new WorkerWriter(worker, m.description, m.spillDir));
        else if (m.type === 'open-failed') reject(new UserError(m.message, m.exitCode));
        else reject(new Error(`unexpected first message ${m.type} from the store's worker`));
      };
      const onError = (e: Error): void => {
        worker.off('message', onMessage);
        reject(e);
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
    });
  }

  private post(m: ToWorker): void {
    if (this.gone) throw this.gone;
    this.worker.postMessage(m);
  }

  private call(make: (id: number) => ToWorker): Promise<FromWorker> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.post(make(id));
      } catch (e) {
        this.pending.delete(id);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  private took(events: number): void {
    this.waitingEvents -= events;
    if (this.waitingEvents <= WorkerWriter.RESUME_BELOW_EVENTS && this.drained) {
      const d = this.drained;
      this.drained = undefined;
      this.drainedPromise = undefined;
      d();
    }
  }

  /** Above this many events waiting for the worker, pressure() asks the tracer to stop reading. */
  static readonly PAUSE_ABOVE_EVENTS = 200_000;
  static readonly RESUME_BELOW_EVENTS = 50_000;

  /** Events written that the worker has not acknowledged yet (what pressure() looks at). */
  unacknowledgedEvents(): number {
    return this.waitingEvents;
  }

  /** Queues events (in kernel-time order); never blocks. */
  write(events: readonly MemEvent[]): void {
    if (events.length === 0) return;
    const batch = encodeEventBatch(events);
    if (this.gone) throw this.gone;
    this.worker.postMessage({ type: 'write', batch, events: events.length } satisfies ToWorker, [batch]);
    this.waitingEvents += events.length;
  }

  /**
   * Undefined while the worker keeps up; else a promise that resolves once it has taken enough of
   * what waits (or is gone). A tracer awaits it before reading more.
   */
  pressure(): Promise<void> | undefined {
    const bound = this.holding ? 0 : WorkerWriter.PAUSE_ABOVE_EVENTS;
    if (this.waitingEvents <= bound && this.drained === undefined) return undefined;
    this.drainedPromise ??= new Promise<void>((resolve) => (this.drained = resolve));
    return this.drainedPromise;
  }

  processStarted(start: ProcessStart): void {
    this.post({ type: 'start', start });
  }

  /** Adds lost-event counts for a host (deltas, not running totals). */
  recordLost(host: string, counts: LostCounts): void {
    this.post({ type: 'lost', host, counts });
  }

  async flush(): Promise<void> {
    await this.call((id) => ({ type: 'flush', id }));
  }

  async stats(): Promise<WriterStats> {
    const m = await this.call((id) => ({ type: 'stats', id }));
    if (m.type !== 'stats') throw new Error(`unexpected answer ${m.type}`);
    return m.stats;
  }

  /**
   * Writes what it can within timeoutMs (less when the database fails or stops answering), closes
   * the store and ends the worker (see BufferedWriter.close). The worker answers within timeoutMs
   * and a second; if it does not within CLOSE_GRACE_MS more, it is ended and this throws.
   */
  async close(timeoutMs = 10_000): Promise<CloseResult> {
    let bound: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(
      (resolve) => (bound = setTimeout(() => resolve('late'), timeoutMs + WorkerWriter.CLOSE_GRACE_MS)),
    );
    try {
      const m = await Promise.race([this.call((id) => ({ type: 'close', id, timeoutMs })), late]);
      if (m === 'late')
        throw new Error(
          `the store's worker thread did not finish closing within ${(timeoutMs + WorkerWriter.CLOSE_GRACE_MS) / 1000} s`,
        );
      if (m.type !== 'closed') throw new Error(`unexpected answer ${m.type}`);
      return m.result;
    } finally {
      clearTimeout(bound);
      await this.worker.terminate();
    }
  }

  static readonly CLOSE_GRACE_MS = 5000;
}
