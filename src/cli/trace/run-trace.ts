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
import { startGatedCommand } from '../../sources/traced-command.js';
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
  /** `memlens trace -- COMMAND ARGS`: run it, trace it and its descendants until it exits. */
  command?: string[];
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

/**
 * After the command of `memlens trace -- COMMAND` ends: more than the tracefs backend's round of
 * 100 ms, so that the calls it made just before it exited are read before tracing stops.
 */
const COMMAND_DRAIN_MS = 300;

export async function runTrace(flags: TraceFlags): Promise<void> {
  const durationMs = flags.duration;
  if (!BACKEND_KINDS.includes(flags.backend as BackendKind))
    throw new UsageError(`--backend: "${flags.backend}" is not one of ${BACKEND_KINDS.join(', ')}`);
  if (flags.db !== undefined && !flags.store) throw new UsageError('--db and --no-store cannot be used together');
  const retention = parseRetention(flags);
  if (retention !== undefined && !flags.store)
    throw new UsageError('--max-age and --max-rows limit the store: they cannot be used with --no-store');
  if (flags.command !== undefined && (flags.pid !== undefined || flags.fromStap !== undefined))
    throw new UsageError('a command to run cannot be combined with --pid or --from-stap');
  if (flags.follow === true && flags.pid === undefined)
    throw new UsageError('--follow needs --pid: it follows the forks of those processes');
  // Started (held at its gate) before the backend, so that its pid can be selected.
  const command = flags.command === undefined ? undefined : await startGatedCommand(flags.command);
  const pids = command ? [command.pid] : flags.pid !== undefined && flags.pid.length > 0 ? flags.pid : undefined;
  const follow = command !== undefined || flags.follow === true;
  // Several machines writing into one MySQL database are told apart by this name alone.
  const host = flags.hostName ?? hostname();
  const choice: BackendChoice = {
    backend: flags.backend as BackendKind,
    ...(flags.fromStap === undefined ? {} : { fromStap: flags.fromStap }),
    options: {
      host,
      excludeSelf: flags.includeSelf !== true,
      ...(pids ? { pids, followForks: follow } : {}),
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
  } catch (e) {
    await backend.stop();
    throw e;
  }
  try {
    if (isLive(choice)) accounts.seed(await proc.readProcessSeeds(pids));
  } catch (e) {
    await backend.stop();
    // The store's worker thread would keep the process alive after the error: close it.
    await sink.close(backend.lost());
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
  if (command) {
    command.release();
    void command.ended.then(
      (end) => {
        err.write(
          `memlens: the command ${end.signal === null ? `exited with code ${end.code ?? '?'}` : `was killed by ${end.signal}`}\n`,
        );
        // What the command did last is in the ring buffers still: one more round reads it.
        setTimeout(stop, COMMAND_DRAIN_MS);
      },
      (e: unknown) => {
        err.write(`memlens: ${e instanceof Error ? e.message : String(e)}\n`);
        stop();
      },
    );
  }

  const lines = new EventLineWriter();
  const wanted = (e: MemEvent) => flags.name === undefined || e.name === flags.name || e.thread === flags.name;
  // A backend that fails (input that is not memlens.stp output, bpftrace dying) still has the
  // store closed and the signal handlers taken back before its error is reported: otherwise the
  // store's worker thread keeps the process alive after the error, and the handlers above turn
  // SIGTERM into a stop of a trace that already ended, so that only SIGKILL ends it.
  let failed = false;
  let failure: unknown;
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
  } catch (e) {
    failed = true;
    failure = e;
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
  if (failed) throw failure;
  if (stored.lostEvents > 0) process.exitCode = ExitCode.failure;
  const rows = accounts.rows(total).filter((r) => flags.name === undefined || r.name === flags.name);
  if (json) {
    err.write(`${toJson({ summary: { totalVirtualBytes: total, processes: rows, lost, store: stored } })}\n`);
  } else {
    out.write(`\n${summaryText(rows, total, lost, 25, p)}\n`);
  }
}
