// `memlens trace`: start a backend, show each call as it happens (or NDJSON), keep per-process
// accounts, store the events, and end with the per-process summary and the lost-event count.
import { hostname } from 'node:os';
import { ExitCode, UsageError } from '../../base/errors.js';
import { ProcessAccounts } from '../../analyses/trace/process-accounts.js';
import {
  createTraceBackend,
  isLive,
  type BackendChoice,
  type BackendKind,
  BACKEND_KINDS,
} from '../../sources/trace-backends.js';
import { lowerBackgroundThreads } from '../../sources/own-threads.js';
import { TraceProc } from '../../sources/trace-proc.js';
import { EventLineWriter, type MemEvent } from '../../wire/events.js';
import { palette, toJson } from '../../render/text.js';
import { parseRetention } from '../retention-flags.js';
import { openEventSink, type EventSink } from './event-sink.js';
import { eventLine, HEADER, summaryText } from '../../render/trace-text.js';

/** The flags as commander leaves them, integers and durations already checked (flag-values.ts). */
export interface TraceFlags {
  /** Milliseconds, at most MAX_TIMER_MS. */
  duration?: number;
  pid?: number[];
  follow?: boolean;
  name?: string;
  json?: boolean;
  db?: string;
  store: boolean;
  /** Checked by hostNameFlag. */
  hostName?: string;
  backend: string;
  fromStap?: string;
  includeSelf?: boolean;
  quiet?: boolean;
  maxAge?: number;
  maxRows?: number;
}

export async function runTrace(flags: TraceFlags): Promise<void> {
  const durationMs = flags.duration;
  if (!BACKEND_KINDS.includes(flags.backend as BackendKind))
    throw new UsageError(`--backend: "${flags.backend}" is not one of ${BACKEND_KINDS.join(', ')}`);
  if (flags.db !== undefined && !flags.store) throw new UsageError('--db and --no-store cannot be used together');
  const retention = parseRetention(flags);
  if (retention !== undefined && !flags.store)
    throw new UsageError('--max-age and --max-rows limit the store: they cannot be used with --no-store');
  const pids = flags.pid !== undefined && flags.pid.length > 0 ? flags.pid : undefined;
  if (flags.follow === true && pids === undefined)
    throw new UsageError('--follow needs --pid: it follows the forks of those processes');
  // Several machines writing into one MySQL database are told apart by this name alone.
  const host = flags.hostName ?? hostname();
  const choice: BackendChoice = {
    backend: flags.backend as BackendKind,
    ...(flags.fromStap === undefined ? {} : { fromStap: flags.fromStap }),
    options: {
      host,
      excludeSelf: flags.includeSelf !== true,
      ...(pids ? { pids, followForks: flags.follow === true } : {}),
      onLeftoversRemoved: (names: string[]) =>
        process.stderr.write(
          `memlens: removed tracing instance${names.length > 1 ? 's' : ''} left by a killed run: ${names.join(', ')}\n`,
        ),
    },
  };
  const json = flags.json === true;
  const out = process.stdout;
  const err = process.stderr;
  const p = palette();

  const backend = await createTraceBackend(choice);
  const proc = new TraceProc();
  const accounts = new ProcessAccounts(await proc.pageSizeBytes());
  const total = await proc.totalVirtualBytes();
  // The backend first: it says "needs root" before anything is created on disk.
  await backend.start();
  let sink: EventSink;
  try {
    sink = await openEventSink({
      store: flags.store,
      host,
      ...(flags.db === undefined ? {} : { db: flags.db }),
      ...(retention ? { retention } : {}),
    });
    if (isLive(choice)) accounts.seed(await proc.readProcessSeeds(pids));
  } catch (e) {
    await backend.stop();
    throw e;
  }

  // The runtime's background threads yield to the traced programs (src/sources/own-threads.ts).
  if (isLive(choice)) await lowerBackgroundThreads();
  // A stop (Ctrl-C, --duration) also ends a wait for the store to catch up: with the database and
  // the spill file both failing, that wait lasts until one of them takes events again.
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  const stop = () => {
    stopRequested();
    void backend.stop();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, stop);
  const timer = durationMs === undefined ? undefined : setTimeout(stop, durationMs);
  err.write(
    `memlens: tracing mmap, munmap, brk, mremap and mprotect with ${backend.name}; events ${sink.description}${durationMs === undefined ? '; Ctrl-C stops' : ''}\n`,
  );
  const quiet = flags.quiet === true;
  if (!json && !quiet) out.write(`${p.bold(HEADER)}\n`);

  const lines = new EventLineWriter();
  const wanted = (e: MemEvent) => flags.name === undefined || e.name === flags.name || e.thread === flags.name;
  try {
    for await (const batch of backend.batches()) {
      accounts.apply(batch);
      const shown = flags.name === undefined ? batch.events : batch.events.filter(wanted);
      sink.write(shown, batch.lifecycle);
      // The store's worker is behind: stop reading until it catches up (the kernel drops and counts).
      const behind = sink.pressure();
      if (behind !== undefined) await Promise.race([behind, stopped]);
      if (shown.length === 0 || quiet) continue;
      out.write(shown.map((e) => (json ? lines.line(e) : eventLine(e, p))).join('\n') + '\n');
    }
  } finally {
    if (timer) clearTimeout(timer);
    await backend.stop();
  }
  // The store's close is bounded (a few seconds, whatever the database does); a second Ctrl-C
  // meanwhile is answered with what is happening rather than an exit that skips the summary.
  const closing = () => err.write('memlens: finishing: writing or spilling the events that wait (a few seconds)\n');
  for (const s of signals) {
    process.removeListener(s, stop);
    process.on(s, closing);
  }
  const lost = backend.lost();
  const stored = await sink.close(lost);
  for (const s of signals) process.removeListener(s, closing);
  if (stored.lostEvents > 0) process.exitCode = ExitCode.failure;
  const rows = accounts.rows(total).filter((r) => flags.name === undefined || r.name === flags.name);
  if (json) {
    err.write(`${toJson({ summary: { totalVirtualBytes: total, processes: rows, lost, store: stored } })}\n`);
  } else {
    out.write(`\n${summaryText(rows, total, lost, 25, p)}\n`);
  }
}
