// What `memlens trace` writes its events through (src/cli/trace/event-sink.ts): a WorkerWriter on
// the store named by --db, with one line on stderr when the database goes away and, at the end,
// where the events are kept if it is still away.
//
// The store's work runs in a worker thread at the weakest priority, beside the tracer's thread:
// where a core is free (the traced programs sleep, or the machine has more than two cores) it takes
// it, and the tracer keeps up with 100,000 calls a second into SQLite; where the traced programs
// need every core, they go first. When the worker falls too far behind, pressure() makes the tracer
// stop reading, the kernel's ring buffer overflows, and memlens reports the loss, rather than
// taking CPU from the programs it watches or memory without bound (bench/README.md, "tracing
// overhead" and "throughput", measure both).
import type { LifecycleEvent, LostCounts, MemEvent } from '../wire/events.js';
import type { ProcessStart } from './totals.js';
import { WorkerWriter } from './worker-writer.js';

export interface StoreSink {
  readonly description: string;
  /** Queues events; lifecycle events tell the store where a reused pid's new process begins. */
  write(events: readonly MemEvent[], lifecycle?: readonly LifecycleEvent[]): void;
  /** Undefined while the store keeps up; else a promise to await before reading more. */
  pressure(): Promise<void> | undefined;
  /** Adds the run's lost counts, writes what is left (or keeps it in the spill file) and closes. */
  close(host: string, lost: LostCounts): Promise<void>;
}

export interface StoreSinkOptions {
  host: string;
  /** Retention applied at start and then every `retentionEveryMs`. */
  retention?: { maxAgeMs?: number; maxRows?: number };
  retentionEveryMs?: number;
  stderr?: NodeJS.WritableStream;
}

const RETENTION_EVERY_MS = 10 * 60_000;

/** Opens the store at a `--db` value (undefined: the default SQLite file) in its worker thread. */
export async function openStoreSink(db: string | undefined, options: StoreSinkOptions): Promise<StoreSink> {
  const stderr = options.stderr ?? process.stderr;
  const retention = options.retention === undefined ? null : { limit: options.retention, everyMs: options.retentionEveryMs ?? RETENTION_EVERY_MS };
  const writer = await WorkerWriter.open(db, {}, retention);
  writer.onError = (e, failures) => {
    if (failures === 1) stderr.write(`memlens: database ${writer.description} unavailable (${e.message}); events are kept and written when it is back\n`);
  };
  writer.onRetention = (deleted, error) => {
    if (error !== null) stderr.write(`memlens: retention: ${error}\n`);
    else if (deleted > 0) stderr.write(`memlens: retention deleted ${deleted} stored events\n`);
  };
  // Kernel time → wall clock for process starts: every event carries both, so the latest one
  // gives the offset, whatever the backend's clock (before the first event: this process's own).
  let offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  const wallMs = (ktimeNs: bigint): number => offsetMs + Number(ktimeNs) / 1e6;

  return {
    description: `stored in ${writer.description}`,
    write: (events, lifecycle = []) => {
      const last = events.at(-1);
      if (last !== undefined) offsetMs = last.timeMs - Number(last.ktimeNs) / 1e6;
      for (const l of lifecycle) {
        if (l.kind !== 'fork' || l.isThread) continue;
        const start: ProcessStart = { host: options.host, pid: l.childPid, startNs: l.ktimeNs, name: l.name, timeMs: wallMs(l.ktimeNs) };
        writer.processStarted(start);
      }
      writer.write(events);
    },
    pressure: () => writer.pressure(),
    close: async (host, lost) => {
      if (lost.lostEvents + lost.unpaired + lost.malformed > 0) writer.recordLost(host, lost);
      const result = await writer.close();
      if (!result.complete) stderr.write(`memlens: database ${writer.description} still unavailable; events kept in ${result.spillFiles.join(', ')} and written by the next memlens that stores there\n`);
    },
  };
}
