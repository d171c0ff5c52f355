// The interface every tracing backend (tracefs, bpftrace, a SystemTap stream) implements,
// so that accounting, storing and display do not care where events come from.
import type { LostCounts, TraceBatch } from '../wire/events.js';

export interface TraceBackend {
  readonly name: 'tracefs' | 'bpftrace' | 'stap';
  /** Sets up (instance, probes); throws UserError with one clear line when it cannot. */
  start(): Promise<void>;
  /** Batches until stop() is called or the input ends. */
  batches(): AsyncIterable<TraceBatch>;
  /** Tears down everything start() set up; safe to call twice and from signal handlers. */
  stop(): Promise<void>;
  lost(): LostCounts;
}

export interface TraceBackendOptions {
  host: string;
  /** Only these processes (by pid), if set. */
  pids?: number[];
  /** With pids: also every process they fork from now on (--follow). */
  followForks?: boolean;
  /** Leave out memlens's own process and its children (the default), but for pids asked for. */
  excludeSelf: boolean;
}
