// The flags of a dirty-pages watch, shared by `memlens dirty` and `memlens serve --dirty-watch`:
// parsed in one place, so that both take the same values and reject bad ones in the same words
// (a usage error: exit code 2). Pure: the commands import it before anything heavy.
import { UsageError } from '../base/errors.js';
import { parseDurationMs } from '../base/units.js';
import { DEFAULT_RULE, parseTolerance, type ConvergenceRule } from '../analyses/dirty/convergence.js';

/** How the command at hand spells the watch's flags: `memlens dirty`'s own or serve's `--dirty-…`. */
export interface DirtyFlagNames {
  interval: string;
  tolerance: string;
  maxRounds: string;
  untilStable: string;
  fallback: string;
  force: string;
}

export const DIRTY_FLAG_NAMES: DirtyFlagNames = {
  interval: '--interval',
  tolerance: '--tolerance',
  maxRounds: '--max-rounds',
  untilStable: '--until-stable',
  fallback: '--fallback',
  force: '--force',
};

export const SERVE_DIRTY_FLAG_NAMES: DirtyFlagNames = {
  interval: '--dirty-interval',
  tolerance: '--dirty-tolerance',
  maxRounds: '--dirty-max-rounds',
  untilStable: '--dirty-until-stable',
  fallback: '--dirty-fallback',
  force: '--dirty-force',
};

/** A process id as typed: a positive whole number. */
export function parsePid(text: string, prefix = ''): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) throw new UsageError(`${prefix}not a process id: ${JSON.stringify(text)}`);
  return Number(text);
}

export interface WatchFlagText {
  interval: string;
  tolerance: string;
  maxRounds?: string | undefined;
}

export interface WatchTiming {
  intervalMs: number;
  /** A fraction in [0, 1]. */
  tolerance: number;
  /** undefined: no limit given. */
  maxRounds: number | undefined;
}

export function parseWatchFlags(flags: WatchFlagText, names: DirtyFlagNames): WatchTiming {
  const intervalMs = parseDurationMs(flags.interval);
  if (intervalMs === undefined || intervalMs <= 0) throw new UsageError(`${names.interval}: not a duration: ${JSON.stringify(flags.interval)}`);
  let maxRounds: number | undefined;
  if (flags.maxRounds !== undefined) {
    if (!/^\d+$/.test(flags.maxRounds) || Number(flags.maxRounds) < 1) throw new UsageError(`${names.maxRounds}: not a positive whole number: ${JSON.stringify(flags.maxRounds)}`);
    maxRounds = Number(flags.maxRounds);
  }
  const tolerance = parseTolerance(flags.tolerance);
  if (tolerance === undefined) throw new UsageError(`${names.tolerance}: not a percentage between 0 and 100: ${JSON.stringify(flags.tolerance)}`);
  return { intervalMs, tolerance, maxRounds };
}

/** The convergence rule of a watch; without a round limit it runs until stopped (Infinity). */
export function watchRule(timing: WatchTiming, untilStable: boolean): ConvergenceRule {
  const maxRounds = timing.maxRounds ?? (untilStable ? DEFAULT_RULE.maxRounds : Number.POSITIVE_INFINITY);
  return { ...DEFAULT_RULE, tolerance: timing.tolerance, maxRounds };
}
