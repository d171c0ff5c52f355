// What `memlens trace` writes its events through (src/cli/trace/event-sink.ts): a BufferedWriter
// on the store named by --db, on the tracer's own thread, with one line on stderr when the
// database goes away and, at the end, where the events are kept if it is still away.
//
// Why not a worker thread: memlens traces on machines with one or two cores, next to the programs
// it watches. On one thread, decoding and storing together can take at most one core: when the
// events come faster than that, the kernel's ring buffer overflows and memlens counts and reports
// the loss, instead of competing with the traced programs for their CPU (bench/README.md, "tracing
// overhead", measures both).
import type { LifecycleEvent, LostCounts, MemEvent } from '../wire/events.js';
import { BufferedWriter } from './buffered-writer.js';
import type { EventStore } from './event-store.js';
import type { ProcessStart } from './totals.js';

export interface StoreSink {
  readonly description: string;
  /** Queues events; lifecycle events tell the store where a reused pid's new process begins. */
  write(events: readonly MemEvent[], lifecycle?: readonly LifecycleEvent[]): void;
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

export function openStoreSink(store: EventStore, options: StoreSinkOptions): StoreSink {
  const stderr = options.stderr ?? process.stderr;
  const writer = new BufferedWriter(store, {
    onError: (e, failures) => {
      if (failures === 1) stderr.write(`memlens: database ${store.description} unavailable (${e instanceof Error ? e.message : String(e)}); events are kept and written when it is back\n`);
    },
  });
  // Kernel time → wall clock for process starts: every event carries both, so the latest one
  // gives the offset, whatever the backend's clock (before the first event: this process's own).
  let offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  const wallMs = (ktimeNs: bigint): number => offsetMs + Number(ktimeNs) / 1e6;

  let retentionTimer: NodeJS.Timeout | undefined;
  const retention = options.retention;
  if (retention !== undefined) {
    const prune = (): void => {
      store
        .applyRetention(retention)
        .then((r) => {
          if (r.deletedEvents > 0) stderr.write(`memlens: retention deleted ${r.deletedEvents} stored events\n`);
        })
        .catch((e: unknown) => stderr.write(`memlens: retention: ${e instanceof Error ? e.message : String(e)}\n`));
    };
    prune();
    retentionTimer = setInterval(prune, options.retentionEveryMs ?? RETENTION_EVERY_MS);
    retentionTimer.unref();
  }

  return {
    description: `stored in ${store.description}`,
    write: (events, lifecycle = []) => {
      const last = events.at(-1);
      if (last !== undefined) offsetMs = last.timeMs - Number(last.ktimeNs) / 1e6;
      for (const l of lifecycle) {
        if (l.kind !== 'fork' || l.isThread) continue;
        const start: ProcessStart = { host: options.host, pid: l.childPid, startNs: l.ktimeNs, name: l.name, timeMs: wallMs(l.ktimeNs) };
        writer.processStarted(start);
      }
      if (events.length > 0) writer.write(events);
    },
    close: async (host, lost) => {
      if (retentionTimer !== undefined) clearInterval(retentionTimer);
      if (lost.lostEvents + lost.unpaired + lost.malformed > 0) writer.recordLost(host, lost);
      const result = await writer.close();
      await store.close().catch(() => undefined);
      if (!result.complete) stderr.write(`memlens: database ${store.description} still unavailable; events kept in ${result.spillFiles.join(', ')} and written by the next memlens that stores there\n`);
    },
  };
}
