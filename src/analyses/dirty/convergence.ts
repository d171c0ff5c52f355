// When has the written set stabilised? The rule, stated once here and in the README and --help:
//
//   A round is *steady* when the pages it counts differ from the previous round's by at most
//   `tolerance` of the larger of the two counts, or by at most `noisePages` pages (a process's
//   stack and bookkeeping wobble by a few pages even when idle).
//   The watch *converges* after `stableRounds` consecutive steady rounds whose counts, together
//   with the round before them, also lie within that same band of each other (max - min at most
//   `tolerance` of max, or `noisePages`): a set that grows a little every round is steady round
//   by round but drifts, and that drift must not pass for a plateau. For the same reason the
//   window must not move the same way at every step by more than `noisePages` (a set that grows
//   every single round is growing, however slowly; a plateau wobbles both ways). Never before
//   `minRounds` rounds; the watch gives up after `maxRounds` rounds (not converged).
//
// The guards follow CRIU's live-migration drivers (checkpoint-restore/p.haul phaul/iters.py:
// at most 8 pre-dump iterations, stop when an iteration grows by more than 10 %; go-criu phaul:
// 8 iterations, an absolute growth limit in pages). memlens looks for a plateau instead of a
// shrinking dump, because it measures a rate, not a transfer.

export interface ConvergenceRule {
  /** Relative tolerance, 0.05 for 5 %. */
  tolerance: number;
  stableRounds: number;
  minRounds: number;
  maxRounds: number;
  noisePages: number;
}

export const DEFAULT_RULE: ConvergenceRule = {
  tolerance: 0.05,
  stableRounds: 3,
  minRounds: 4,
  maxRounds: 20,
  noisePages: 8,
};

/** The relative change from one round to the next, against the larger of the two (0 when both are 0). */
export function relativeChange(previous: number, current: number): number {
  const base = Math.max(previous, current);
  return base === 0 ? 0 : Math.abs(current - previous) / base;
}

export function isSteady(previous: number, current: number, rule: ConvergenceRule): boolean {
  return Math.abs(current - previous) <= rule.noisePages || relativeChange(previous, current) <= rule.tolerance;
}

/** Does every step of the window move the same way by more than the noise floor? */
export function trends(counts: readonly number[], rule: ConvergenceRule): boolean {
  if (counts.length < 2) return false;
  let up = true;
  let down = true;
  for (let i = 1; i < counts.length; i++) {
    const d = (counts[i] ?? 0) - (counts[i - 1] ?? 0);
    if (d <= rule.noisePages) up = false;
    if (d >= -rule.noisePages) down = false;
  }
  return up || down;
}

/** Do all these counts lie within the band: max - min at most tolerance of max, or the noise floor? */
export function withinBand(counts: readonly number[], rule: ConvergenceRule): boolean {
  if (counts.length === 0) return true;
  const max = Math.max(...counts);
  const spread = max - Math.min(...counts);
  return spread <= rule.noisePages || spread <= rule.tolerance * max;
}

export type Verdict =
  | { state: 'converged'; workingSetPages: number; rounds: number }
  | { state: 'running'; steadyRun: number }
  | { state: 'gave-up'; rounds: number };

/**
 * Judges a series of per-round counts after its latest round. A long-lived watch may keep only
 * the newest counts (at least `stableRounds + 1`, all the rule looks at besides the round count):
 * `roundsSoFar` then says how many rounds there have been in all.
 */
export function judge(series: readonly number[], rule: ConvergenceRule, roundsSoFar: number = series.length): Verdict {
  let steadyRun = 0;
  for (let i = 1; i < series.length; i++) {
    steadyRun = isSteady(series[i - 1] ?? 0, series[i] ?? 0, rule) ? steadyRun + 1 : 0;
  }
  const last = series.slice(-(rule.stableRounds + 1));
  if (
    steadyRun >= rule.stableRounds &&
    roundsSoFar >= rule.minRounds &&
    withinBand(last, rule) &&
    !trends(last, rule)
  ) {
    return {
      state: 'converged',
      workingSetPages: Math.round(last.reduce((a, b) => a + b, 0) / last.length),
      rounds: roundsSoFar,
    };
  }
  if (roundsSoFar >= rule.maxRounds) return { state: 'gave-up', rounds: roundsSoFar };
  return { state: 'running', steadyRun };
}

/** Parses "5%", "5 %", "0.05" into a fraction in [0, 1]; undefined when malformed. */
export function parseTolerance(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m?.[1]) return undefined;
  const v = m[2] === '%' ? Number(m[1]) / 100 : Number(m[1]);
  return v >= 0 && v <= 1 ? v : undefined;
}
