// Messages between WorkerWriter (the tracer's thread) and the store's worker thread. Events travel
// as one transferred binary buffer per write (event-batch-codec.ts), not as cloned objects.
import type { LostCounts } from '../wire/events.js';
import type { BufferedWriterOptions, CloseResult, WriterStats } from './buffered-writer.js';
import type { ProcessStart } from './totals.js';

export interface WorkerInit {
  url: string | undefined;
  options: Omit<BufferedWriterOptions, 'onError'>;
  /** Retention applied by the worker at start and then every `retentionEveryMs`. */
  retention: { maxAgeMs?: number; maxRows?: number } | null;
  retentionEveryMs: number;
  /** Flow-control bounds (writer-worker.ts); tests make them small. */
  flow?: FlowBounds;
}

export interface FlowBounds {
  /** Events waiting in the writer's memory above which a database that answers is "slow" (default 100,000). */
  slowDatabaseEvents?: number;
  /** A commit unanswered for this long means the database is away, not slow (default 2,000 ms). */
  stalledCommitMs?: number;
  /** Events held in memory because the spill file cannot be written, above which the tracer stops reading (default 10,000). */
  unspillableEvents?: number;
}

export type ToWorker =
  | { type: 'write'; batch: ArrayBuffer; events: number }
  | { type: 'start'; start: ProcessStart }
  | { type: 'lost'; host: string; counts: LostCounts }
  | { type: 'flush'; id: number }
  | { type: 'stats'; id: number }
  | { type: 'close'; id: number; timeoutMs: number };

export type FromWorker =
  | { type: 'ready'; description: string; spillDir: string }
  | { type: 'open-failed'; message: string; exitCode: number }
  /** A line for the user while the store opens (a long migration), before 'ready'. */
  | { type: 'notice'; line: string }
  /** A write to the database failed; `spillFault` says why what waits cannot go to the spill file either (else null). */
  | { type: 'db-error'; message: string; failures: number; diskFull: boolean; spillFault: string | null }
  /** The spill file cannot be written (fault) and events are held in memory, or no longer are (null). */
  | { type: 'spill-fault'; fault: string | null; spillDir: string }
  /** The worker has taken these events into its writer: they no longer wait in the message queue. */
  | { type: 'taken'; events: number }
  /** Acknowledgements are held until the database or the spill file takes events again: stop reading now (on), or read on (off). */
  | { type: 'hold'; on: boolean }
  | { type: 'retention'; deletedEvents: number; error: string | null }
  | { type: 'flushed'; id: number }
  | { type: 'stats'; id: number; stats: WriterStats }
  | { type: 'closed'; id: number; result: CloseResult }
  | { type: 'failed'; id: number; message: string };
