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
}

export type ToWorker =
  | { type: 'write'; batch: ArrayBuffer; events: number }
  | { type: 'start'; start: ProcessStart }
  | { type: 'lost'; host: string; counts: LostCounts }
  | { type: 'flush'; id: number }
  | { type: 'stats'; id: number }
  | { type: 'close'; id: number; timeoutMs: number };

export type FromWorker =
  | { type: 'ready'; description: string }
  | { type: 'open-failed'; message: string; exitCode: number }
  | { type: 'db-error'; message: string; failures: number }
  /** The worker has taken these events into its writer: they no longer wait in the message queue. */
  | { type: 'taken'; events: number }
  | { type: 'retention'; deletedEvents: number; error: string | null }
  | { type: 'flushed'; id: number }
  | { type: 'stats'; id: number; stats: WriterStats }
  | { type: 'closed'; id: number; result: CloseResult }
  | { type: 'failed'; id: number; message: string };
