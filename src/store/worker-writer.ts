// WorkerWriter: the BufferedWriter in a worker thread of its own. The tracer's thread only posts
// events (a structured clone, about 1 µs per event) while the store's SQL work, about 10 µs per
// event on SQLite (bench/store), runs on the other core. Same guarantees as BufferedWriter.
import { Worker } from 'node:worker_threads';
import { UserError } from '../base/errors.js';
import type { LostCounts, MemEvent } from '../wire/events.js';
import type { BufferedWriterOptions, CloseResult, WriterStats } from './buffered-writer.js';
import type { ProcessStart } from './totals.js';
import type { FromWorker, ToWorker, WorkerInit } from './writer-protocol.js';

type Pending = { resolve: (m: FromWorker) => void; reject: (e: Error) => void };

export class WorkerWriter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private gone: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly description: string,
  ) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'db-error') this.onError?.(new Error(m.message), m.failures);
      else if ('id' in m) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.type === 'failed') p?.reject(new Error(m.message));
        else p?.resolve(m);
      }
    });
    const fail = (e: Error): void => {
      this.gone = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the store's worker thread exited (code ${code})`)));
  }

  /** Told about each failed write attempt (the worker keeps retrying). */
  onError: ((error: Error, consecutiveFailures: number) => void) | undefined;

  /** Opens the store at a `--db` value in a new worker thread; open errors are the store's own UserErrors. */
  static open(url: string | undefined, options: Omit<BufferedWriterOptions, 'onError'> = {}): Promise<WorkerWriter> {
    const init: WorkerInit = { url, options };
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: init });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (m.type === 'ready') resolve(new WorkerWriter(worker, m.description));
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

  /** Queues events (in kernel-time order); never blocks. */
  write(events: readonly MemEvent[]): void {
    if (events.length > 0) this.post({ type: 'write', events });
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

  /** Writes what it can within timeoutMs, closes the store and ends the worker (see BufferedWriter.close). */
  async close(timeoutMs = 10_000): Promise<CloseResult> {
    const m = await this.call((id) => ({ type: 'close', id, timeoutMs }));
    if (m.type !== 'closed') throw new Error(`unexpected answer ${m.type}`);
    await this.worker.terminate();
    return m.result;
  }
}
