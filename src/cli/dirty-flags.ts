// The flags of a dirty-pages watch, shared by `memlens dirty` and `memlens serve --dirty-watch`:
// checked in one place, so that both take the same values and reject bad ones in the same words
// (a usage error: exit code 2). The interval, round limit and pid arrive already parsed by their
// argParsers (flag-values.ts); the tolerance, a percentage, is checked here. Pure: the commands
// import it before anything heavy.
import { UsageError } from '../base/errors.js';
import { DEFAULT_RULE, parseTolerance, type ConvergenceRule } from '../analyses/dirty/convergence.js';

/** The options commander hands `memlens dirty` (commands/dirty.ts), before dirty-run.ts checks them. */
export interface DirtyOptions {
  json?: boolean;
  watch?: boolean;
  /** Milliseconds. */
  interval: number;
  untilStable?: boolean;
  tolerance: string;
  maxRounds?: number;
  fallback?: 'accessed';
  force?: boolean;
}

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

/** The default length of a round, 1 s. */
export const DEFAULT_INTERVAL_MS = 1000;

export interface WatchFlagText {
  /** Milliseconds, at most MAX_TIMER_MS (flag-values.ts timerFlag). */
  interval: number;
  tolerance: string;
  maxRounds?: number | undefined;
}

export interface WatchTiming {
  intervalMs: number;
  /** A fraction in [0, 1]. */
  tolerance: number;
  /** undefined: no limit given. */
  maxRounds: number | undefined;
}

export function parseWatchFlags(flags: WatchFlagText, names: DirtyFlagNames): WatchTiming {
  const intervalMs = flags.interval;
  const maxRounds = flags.maxRounds;
  const tolerance = parseTolerance(flags.tolerance);
  if (tolerance === undefined)
    throw new UsageError(`${names.tolerance}: not a percentage between 0 and 100: ${JSON.stringify(flags.tolerance)}`);
  return { intervalMs, tolerance, maxRounds };
}

/** The convergence rule of a watch; without a round limit it runs until stopped (Infinity). */
export function watchRule(timing: WatchTiming, untilStable: boolean): ConvergenceRule {
  const maxRounds = timing.maxRounds ?? (untilStable ? DEFAULT_RULE.maxRounds : Number.POSITIVE_INFINITY);
  return { ...DEFAULT_RULE, tolerance: timing.tolerance, maxRounds };
}
