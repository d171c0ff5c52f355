import { statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import {
  addHistoryRetentionFlags,
  addRetentionFlags,
  parseHistoryRetention,
  parseRetention,
  type HistoryRetentionFlags,
} from '../retention-flags.js';
import { UsageError, UserError } from '../../base/errors.js';
import { printable } from '../../base/terminal-text.js';
import { errnoCode } from '../../base/errors.js';
import { DEFAULT_INTERVAL_MS, parseWatchFlags, SERVE_DIRTY_FLAG_NAMES, watchRule } from '../dirty-flags.js';
import { integerFlag, nonEmptyFlag, pidFlag, timerFlag } from '../flag-values.js';
import { readTokenFile } from '../token-file.js';
import type { DirtyWatchConfig } from '../../server/dirty-watch.js';

/** The dirty-pages watch's flags: those of `memlens dirty --watch`, prefixed with --dirty-. */
interface ServeDirtyFlags {
  dirtyWatch?: number;
  /** Milliseconds. */
  dirtyInterval?: number;
  dirtyUntilStable?: boolean;
  dirtyTolerance?: string;
  dirtyMaxRounds?: number;
  dirtyFallback?: 'accessed';
  dirtyForce?: boolean;
}

const DIRTY_HELP = `
Dirty pages (--dirty-watch PID):
  Every round memlens clears the process's soft-dirty bits (/proc/PID/clear_refs), waits one
  --dirty-interval and counts the pages written since, as \`memlens dirty PID --watch\` does, with
  the same convergence rule (memlens dirty --help). Clearing changes the process's state: the next
  write to each page takes a minor fault, and a checkpointer relying on the same bits is
  disturbed. So the watch is decided here, at start, never through the (read-only) API; it needs
  the right to write clear_refs (the process's owner or root), and pid 1 and memlens itself are
  refused unless --dirty-force. The watch keeps going after it converges, the verdict re-judged
  every round, until the process exits or the server stops; --dirty-until-stable stops it at
  convergence and --dirty-max-rounds after N rounds. Kernels without soft-dirty tracking: the tab
  says so and nothing is cleared, unless --dirty-fallback accessed, which counts pages touched
  (read or written) instead, labelled as such.`;

/** Checks the watch's flags and its target before the server starts; null without --dirty-watch. */
async function dirtyWatchConfig(f: ServeDirtyFlags): Promise<DirtyWatchConfig | null> {
  const names = SERVE_DIRTY_FLAG_NAMES;
  if (f.dirtyWatch === undefined) {
    const stray = (
      [
        [f.dirtyInterval, names.interval],
        [f.dirtyUntilStable, names.untilStable],
        [f.dirtyTolerance, names.tolerance],
        [f.dirtyMaxRounds, names.maxRounds],
        [f.dirtyFallback, names.fallback],
        [f.dirtyForce, names.force],
      ] as const
    ).filter(([value]) => value !== undefined);
    if (stray.length > 0)
      throw new UsageError(`${stray.map(([, name]) => name).join(', ')}: only with --dirty-watch PID`);
    return null;
  }
  const pid = f.dirtyWatch;
  const timing = parseWatchFlags(
    {
      interval: f.dirtyInterval ?? DEFAULT_INTERVAL_MS,
      tolerance: f.dirtyTolerance ?? '5%',
      maxRounds: f.dirtyMaxRounds,
    },
    names,
  );
  const untilStable = f.dirtyUntilStable === true;
  const { checkWatchRights, inspectTarget, softDirtyMissing } = await import('../dirty-target.js');
  const target = await inspectTarget(pid, { force: f.dirtyForce, fallback: f.dirtyFallback }, names);
  // Without soft-dirty tracking (and no fallback asked) the server still starts: the tab says why
  // no watch runs, and nothing of the target is cleared, so its rights do not matter.
  const unavailable =
    target.method === 'soft-dirty' && !target.probe.supported
      ? softDirtyMissing(target, names, 'Restart memlens serve')
      : null;
  if (unavailable === null) checkWatchRights(target);
  return {
    pid,
    name: target.name,
    pageSize: target.pageSize,
    softDirty: { supported: target.probe.supported, probe: target.probe.detail },
    method: target.method,
    intervalMs: timing.intervalMs,
    untilStable,
    rule: watchRule(timing, untilStable),
    unavailable,
  };
}

interface ServeFlags extends ServeDirtyFlags, HistoryRetentionFlags {
  host: string;
  port: number;
  db?: string;
  token?: string;
  tokenFile?: string;
  trace: boolean;
  cpuBudget: string;
  memtraceDir?: string;
  maxAge?: number;
  maxRows?: number;
  from?: string;
}

export function defineServe(program: Command): void {
  const command = program
    .command('serve')
    .description(
      'the live dashboard: /proc sampler, tracer (root), store, HTTP API, WebSocket updates and /metrics in one process',
    )
    .option('--host <address>', 'address to listen on; any other than loopback requires a token', '127.0.0.1')
    .option('--port <N>', 'port to listen on', integerFlag(1, 65535), 7878)
    .option(
      '--db <URL>',
      'event store: mysql://user:pass@host:port/db or a SQLite file (default: SQLite under the data directory)',
      nonEmptyFlag,
    )
    .option('--token <T>', 'token required on every request (default: generated when --host is not loopback)')
    .option(
      '--token-file <FILE>',
      'read the token from FILE (one line), so that it is not in the command line that every local user can read',
      nonEmptyFlag,
    )
    .option('--no-trace', 'do not trace system calls (serve /proc data only)')
    .option(
      '--from <archive>',
      'show a capture archive (one snapshot or a series from memlens capture --every) read-only instead of this machine',
    )
    .option('--cpu-budget <percent>', 'share of one core the /proc sampler may use', '1')
    .option('--memtrace-dir <dir>', "directory of OCaml memtrace traces (.ctf) the dashboard's OCaml view may open")
    .option(
      '--dirty-watch <pid>',
      'watch which pages process PID writes, round after round, in the Dirty pages tab (clears its soft-dirty bits every round)',
      pidFlag,
    )
    .option(
      '--dirty-interval <duration>',
      'with --dirty-watch: length of a round (500ms, 1s, 2m, at most 24d; default 1s)',
      timerFlag,
    )
    .option(
      '--dirty-until-stable',
      'with --dirty-watch: stop when the count per round has converged (default: keep watching)',
    )
    .option('--dirty-tolerance <percent>', 'with --dirty-watch: relative change a steady round may show (default 5%)')
    .option(
      '--dirty-max-rounds <n>',
      'with --dirty-watch: stop after this many rounds (default: none; 20 with --dirty-until-stable)',
      integerFlag(1),
    )
    .addOption(
      new Option(
        '--dirty-fallback <method>',
        'with --dirty-watch: count pages touched (read or written) instead of written',
      ).choices(['accessed']),
    )
    .option('--dirty-force', 'with --dirty-watch: allow pid 1 and memlens itself')
    .addHelpText('after', DIRTY_HELP);
  addRetentionFlags(command);
  addHistoryRetentionFlags(command);
  command.action(async (flags: ServeFlags) => {
    const retention = parseRetention(flags);
    const historyRetention = parseHistoryRetention(flags);
    const port = flags.port;
    const budget = Number(flags.cpuBudget);
    if (!Number.isFinite(budget) || budget <= 0 || budget > 100)
      throw new UsageError(`--cpu-budget: "${flags.cpuBudget}" is not a percentage (0-100]`);
    if (flags.token?.length === 0) throw new UsageError('--token: the token must not be empty');
    if (flags.token !== undefined && flags.tokenFile !== undefined)
      throw new UsageError('--token and --token-file cannot be used together');
    if (flags.memtraceDir !== undefined && !statSync(flags.memtraceDir, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(`--memtrace-dir: "${flags.memtraceDir}" is not a directory`);
    if (flags.from !== undefined) {
      const live = (
        [
          [flags.db, '--db'],
          [flags.dirtyWatch, '--dirty-watch'],
          [flags.memtraceDir, '--memtrace-dir'],
        ] as const
      ).filter(([value]) => value !== undefined);
      if (live.length > 0)
        throw new UsageError(
          `${live.map(([, name]) => name).join(', ')}: not with --from (an archive is shown read-only)`,
        );
    }
    // Before anything starts: a refused target leaves no server behind and clears nothing.
    const dirtyWatch = await dirtyWatchConfig(flags);
    const token = flags.tokenFile === undefined ? (flags.token ?? null) : readTokenFile(flags.tokenFile);
    const { startServe } = await import('../../server/runtime.js');
    const log = (line: string): void => void process.stderr.write(`memlens: ${printable(line)}\n`);
    let running;
    try {
      running = await startServe({
        host: flags.host,
        port,
        db: flags.db,
        token,
        trace: flags.trace,
        cpuBudget: budget / 100,
        memtraceDir: flags.memtraceDir ?? null,
        retention: retention ?? null,
        historyRetention,
        dirtyWatch,
        from: flags.from ?? null,
        version: program.version() ?? 'unknown',
        log,
      });
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EADDRINUSE')
        throw new UserError(`port ${port} on ${flags.host} is already in use (choose another with --port)`);
      if (code === 'EADDRNOTAVAIL')
        throw new UserError(`cannot listen on ${flags.host}: no such address on this machine`);
      // getaddrinfo(3) errors: the name does not resolve (EAI_NONAME, reported by Node as
      // ENOTFOUND) or the resolver could not be asked (EAI_AGAIN).
      if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_AGAIN' || code === 'EAI_FAIL')
        throw new UserError(
          `cannot listen on ${flags.host}: the name does not resolve to an address of this machine (${code})`,
        );
      if (code === 'EACCES')
        throw new UserError(`cannot listen on port ${port}: permission denied (ports below 1024 need root)`);
      throw e;
    }
    const ro = running.readOnly;
    if (ro !== null)
      process.stdout.write(
        `memlens serve: read-only: ${printable(ro.archive)} (${ro.snapshots} snapshot${ro.snapshots === 1 ? '' : 's'} of ${printable(ro.host)}, from ${new Date(ro.fromMs).toISOString()} to ${new Date(ro.toMs).toISOString()}${ro.truncated > 0 ? '; a last one cut short, skipped' : ''})\n`,
      );
    process.stdout.write(`memlens serve: dashboard at ${running.openUrl}\n`);
    process.stdout.write(
      `memlens serve: Prometheus metrics at ${running.url}metrics${running.token === null ? '' : ' (send the token as "Authorization: Bearer …")'}\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, stop);
        resolve();
      };
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
    });
    log('stopping');
    await running.close();
  });
}
