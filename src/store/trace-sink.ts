// What `memlens trace` (src/cli/trace/event-sink.ts) and `memlens serve` (src/server/runtime.ts)
// write their traced events through, the one way either opens the trace's writer: a WorkerWriter on
// the store named by --db, with one line on stderr (serve: in its log) when the database goes away
// or the spill file cannot be written (a full disk) and, at the end, where the events are kept if
// the database is still away, or how many were lost if they could be kept nowhere. Each line says
// only what is true: "kept" only when a spill file holds them.
//
// The store's work runs in a worker thread beside the tracer's thread, at the weakest priority under
// `memlens trace` (which lowers its background threads, src/sources/own-threads.ts; serve does not):
// where a core is free (the traced programs sleep, or the machine has more than two cores) it takes
// it, and the tracer keeps up with 100,000 calls a second into SQLite; where the traced programs
// need every core, they go first. When the worker falls too far behind, pressure() makes the tracer
// stop reading, the kernel's ring buffer overflows, and memlens reports the loss, rather than
// taking CPU from the programs it watches or memory without bound (bench/README.md, "tracing
// overhead" and "throughput", measure both).
import type { LifecycleEvent, LostCounts, MemEvent } from '../wire/events.js';
import { RETENTION_EVERY_MS } from './retention-timer.js';
import { TraceStoreFeed } from './trace-feed.js';
import { WorkerWriter } from './worker-writer.js';

export interface StoreSink {
  readonly description: string;
  /** Queues events; lifecycle events tell the store where a reused pid's new process begins. */
  write(events: readonly MemEvent[], lifecycle?: readonly LifecycleEvent[]): void;
  /** Undefined while the store keeps up; else a promise to await before reading more. */
  pressure(): Promise<void> | undefined;
  /** Given the tracer's running totals, adds to the store what was lost since the last report. */
  reportLost(totals: LostCounts): void;
  /** Adds the run's lost counts (for the sink's host), writes what is left (or keeps it in the spill file) and closes. */
  close(lost: LostCounts): Promise<StoreOutcome>;
}

/** How a run's events ended up: in the database, in spill files for the next run, or lost. */
export interface StoreOutcome {
  /** Every event reached the database. */
  complete: boolean;
  /** Spill files holding what the database has not taken yet (written by the next run storing there). */
  spillFiles: string[];
  /** Events kept nowhere (database and spill file both failing at the end, e.g. a full disk). */
  lostEvents: number;
}

/** How long the end of a run waits for a database that answers to take what waits (then it is spilled). */
const CLOSE_TIMEOUT_MS = 5000;

export interface StoreSinkOptions {
  host: string;
  /** Retention applied at start and then every `retentionEveryMs`. */
  retention?: { maxAgeMs?: number; maxRows?: number };
  retentionEveryMs?: number;
  /** Where the lines go (default: stderr, each as "memlens: LINE"). */
  log?: (line: string) => void;
  stderr?: NodeJS.WritableStream;
}

/** What happens to events while neither the database nor the spill file takes them (writer-worker.ts, release). */
const HELD =
  'events wait in memory until the database or the spill file takes them; when too many wait, memlens stops reading and the kernel drops (and counts) new events';

/** Opens the store at a `--db` value (undefined: the default SQLite file) in its worker thread. */
export async function openStoreSink(db: string | undefined, options: StoreSinkOptions): Promise<StoreSink> {
  const stderr = options.stderr ?? process.stderr;
  const say = options.log ?? ((line: string): void => void stderr.write(`memlens: ${line}\n`));
  const retention =
    options.retention === undefined
      ? null
      : { limit: options.retention, everyMs: options.retentionEveryMs ?? RETENTION_EVERY_MS };
  const writer = await WorkerWriter.open(db, {}, retention, undefined, say);
  writer.onError = (e, failures, info) => {
    if (failures !== 1) return;
    const what = info.diskFull ? `cannot take events: ${e.message}` : `unavailable (${e.message})`;
    if (info.spillFault === null)
      say(
        `database ${writer.description} ${what}; events are kept in a spill file in ${writer.spillDir} and written when it ${info.diskFull ? 'has room again' : 'is back'}`,
      );
    else say(`database ${writer.description} ${what}, and ${info.spillFault}; ${HELD}`);
  };
  writer.onSpillFault = (fault) => {
    if (fault !== null) say(`${fault}; ${HELD}`);
    else say(`the events held in memory are stored or spilled now; reading on`);
  };
  writer.onRetention = (deleted, error) => {
    if (error !== null) say(`retention: ${error}`);
    else if (deleted > 0) say(`retention deleted ${deleted} stored events`);
  };
  const feed = new TraceStoreFeed(writer, options.host);

  return {
    description: `stored in ${writer.description}`,
    write: (events, lifecycle = []) => feed.write(events, lifecycle),
    pressure: () => writer.pressure(),
    reportLost: (totals) => feed.reportLost(totals),
    close: async (lost) => {
      feed.reportLost(lost);
      let result;
      try {
        result = await writer.close(CLOSE_TIMEOUT_MS);
      } catch (e) {
        // Not expected (the worker bounds its own close); then nothing is known of what it held.
        say(
          `${e instanceof Error ? e.message : String(e)}; events not yet stored may be lost (spill files, if any, are in ${writer.spillDir})`,
        );
        return { complete: false, spillFiles: [], lostEvents: 0 };
      }
      if (result.spillFiles.length > 0) {
        const why = result.databaseError === null ? '' : ` (${result.databaseError})`;
        say(
          `database ${writer.description} did not take every event before the end${why}; the rest is kept in ${result.spillFiles.join(', ')} and written into ${writer.description} by the next \`memlens trace\` that stores there`,
        );
      }
      if (result.lostEvents > 0) {
        say(
          `${result.lostEvents} events were LOST: the database did not take them${result.databaseError === null ? '' : ` (${result.databaseError})`} and the spill file could not hold them (${result.spillFault ?? 'no room'})`,
        );
      }
      return { complete: result.complete, spillFiles: result.spillFiles, lostEvents: result.lostEvents };
    },
  };
}
