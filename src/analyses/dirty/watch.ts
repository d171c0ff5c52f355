// The watch loop: clear, wait one interval, read, repeat; judge convergence after each round.
// A target that exits ends the watch with the rounds measured so far.
import { ProcessGoneError } from '../../base/errors.js';
import { judge, relativeChange, type ConvergenceRule, type Verdict } from './convergence.js';
import type { Meter, RoundReading } from './meters.js';

export interface Round {
  round: number;
  pages: number;
  newMappingPages: number;
  /** Milliseconds between the clear and the start of the reading. */
  intervalMs: number;
  /** Relative change from the previous round (0 for the first). */
  change: number;
}

export type StopReason = 'converged' | 'max-rounds' | 'exited' | 'interrupted';

export interface WatchResult {
  /** The rounds measured, oldest first (only the newest `keepRounds` when that was set). */
  rounds: Round[];
  verdict: Verdict;
  stopReason: StopReason;
  last: RoundReading | undefined;
}

export interface WatchOptions {
  meter: Meter;
  intervalMs: number;
  rule: ConvergenceRule;
  /** Stop as soon as the series converges; otherwise run until maxRounds or interruption. */
  untilStable: boolean;
  /** Hard cap on rounds (Infinity: until interrupted). */
  maxRounds: number;
  signal?: AbortSignal;
  /**
   * Keep only the newest this-many rounds in memory, in the result as in the series the verdict
   * is judged on (never fewer than the rule looks at: `stableRounds + 1`). A watch that runs for
   * days (the dashboard's) must not grow without bound; `memlens dirty` keeps them all.
   */
  keepRounds?: number;
  /** Called after each round with the verdict then and what the round read (its ranges or areas). */
  onRound?: (round: Round, verdict: Verdict, reading: RoundReading) => void;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function watch(opts: WatchOptions): Promise<WatchResult> {
  const rounds: Round[] = [];
  const series: number[] = [];
  let verdict: Verdict = { state: 'running', steadyRun: 0 };
  let last: RoundReading | undefined;
  let stopReason: StopReason = 'max-rounds';
  let roundsSoFar = 0;
  const keep =
    opts.keepRounds === undefined ? Number.POSITIVE_INFINITY : Math.max(opts.keepRounds, opts.rule.stableRounds + 1);
  try {
    for (let n = 1; n <= opts.maxRounds; n++) {
      await opts.meter.begin();
      const cleared = performance.now();
      // Node's timers count from the event loop's cached clock and can fire up to a millisecond
      // early; a round lasts at least the interval it is reported as.
      let intervalMs = 0;
      while ((intervalMs = performance.now() - cleared) < opts.intervalMs && opts.signal?.aborted !== true) {
        await sleep(Math.max(1, Math.ceil(opts.intervalMs - intervalMs)), opts.signal);
      }
      if (opts.signal?.aborted) {
        stopReason = 'interrupted';
        break;
      }
      last = await opts.meter.measure();
      const previous = series[series.length - 1];
      series.push(last.pages);
      const round: Round = {
        round: n,
        pages: last.pages,
        newMappingPages: last.newMappingPages,
        intervalMs: Math.round(intervalMs),
        change: previous === undefined ? 0 : relativeChange(previous, last.pages),
      };
      rounds.push(round);
      roundsSoFar = n;
      if (rounds.length > keep) rounds.shift();
      if (series.length > keep) series.shift();
      verdict = judge(series, { ...opts.rule, maxRounds: opts.maxRounds }, roundsSoFar);
      opts.onRound?.(round, verdict, last);
      if (verdict.state === 'converged' && opts.untilStable) {
        stopReason = 'converged';
        break;
      }
    }
  } catch (e) {
    if (!(e instanceof ProcessGoneError)) throw e;
    stopReason = 'exited';
  }
  // The final verdict is judged on the rounds that exist, whatever ended the watch.
  verdict = judge(series, { ...opts.rule, maxRounds: Number.POSITIVE_INFINITY }, roundsSoFar);
  return { rounds, verdict, stopReason, last };
}
