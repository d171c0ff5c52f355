// Messages between WorkerWriter (the tracer's thread) and the store's worker thread.
import type { LostCounts, MemEvent } from '../wire/events.js';
import type { BufferedWriterOptions, CloseResult, WriterStats } from './buffered-writer.js';
import type { ProcessStart } from './totals.js';

export interface WorkerInit {
  url: string | undefined;
  options: Omit<BufferedWriterOptions, 'onError'>;
}

export type ToWorker =
  | { type: 'write'; events: readonly MemEvent[] }
  | { type: 'start'; start: ProcessStart }
  | { type: 'lost'; host: string; counts: LostCounts }
  | { type: 'flush'; id: number }
  | { type: 'stats'; id: number }
  | { type: 'close'; id: number; timeoutMs: number };

export type FromWorker =
  | { type: 'ready'; description: string }
  | { type: 'open-failed'; message: string; exitCode: number }
  | { type: 'db-error'; message: string; failures: number }
  | { type: 'flushed'; id: number }
  | { type: 'stats'; id: number; stats: WriterStats }
  | { type: 'closed'; id: number; result: CloseResult }
  | { type: 'failed'; id: number; message: string };
