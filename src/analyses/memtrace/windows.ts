// Sustained growth windows and allocation races. On the global live samples L[b] at the end of
// each timeline bin (net[b] = L[b] - L[b-1], L[-1] = 0), the rule (README, section memtrace):
//
// A growth window is a run of bins [s, e] found greedily from the left: s is a bin with
// net > 0, e (at least MIN_BINS-1 bins later) maximises the rise L[e] - L[s-1] among the ends
// for which at least POSITIVE_FRACTION of the bins in [s, e] have net > 0; it is kept when
// the rise is at least MIN_RISE of the trace's peak, and stands out of the curve's own noise:
// at least NOISE_SIGMAS × the median absolute bin-to-bin change × √(bins in the window), the
// spread a random walk of that step would reach (sampling and the minor heap make a flat program's
// live curve jitter; a short-lived program's jitter can reach its peak). The scan resumes after e.
//
// Each window is classified by what happens later to the memory it accumulated: of the
// samples allocated in [s, e] and still live at the end of e (R), the share collected after e
// (F / R, exact from the allocation-bin × collection-bin matrix) is `freedLaterFraction`.
// - gc-cycle: freedLaterFraction >= RACE_FREED, but live memory fell back near its level
//   before the window within SWEEP_BINS bins (at most SWEEP_SHARE of the window's length) after
//   its end: garbage waiting for one major GC cycle, collected at once (the GC's sawtooth);
// - race: freedLaterFraction >= RACE_FREED otherwise: allocation outpaced reclamation for a
//   sustained period, and what piled up was given back gradually afterwards: every value is
//   eventually freed, memory grew anyway;
// - gc-swing: a would-be race no longer than the trace's ordinary swings: when at least two
//   other growth windows exist and this one lasts less than RACE_MIN_SWINGS times their median
//   length, it is the GC's incremental sawtooth (major slices reclaim garbage gradually, so it
//   does not fall back at once), not a sustained period;
// - leak: otherwise, when leak-suspect sites account for at least half of the window's growth;
// - retained: otherwise (warm-up, a working set or a cache that stays: a steady state).
// Sites responsible: the sites whose live memory grew most across the window.
import { MAX_BINS } from './bins.js';
import type { SiteStats } from './analyzer.js';
import { liveCurve } from './curves.js';

export const WINDOW_RULE = {
  GROWTH_PER_BIN: 0.005,
  MIN_BINS: 3,
  MIN_BINS_SHARE: 0.05,
  MIN_RISE_SAMPLES: 30,
  POSITIVE_FRACTION: 0.6,
  MIN_RISE: 0.1,
  RACE_FREED: 0.75,
  RACE_MIN_SWINGS: 3,
  NOISE_SIGMAS: 3,
  SWEEP_BINS: 1,
  SWEEP_SHARE: 0.1,
  SETTLED_WITHIN: 0.25,
  MAX_SITES: 5,
} as const;

export interface WindowSite {
  site: number;
  growth: number;
  share: number;
  reclaimed: number;
}

export interface GrowthWindow {
  kind: 'race' | 'gc-cycle' | 'gc-swing' | 'leak' | 'retained';
  s: number;
  e: number;
  rise: number;
  allocated: number;
  collected: number;
  freedLater: number;
  settledBin: number | null;
  sites: WindowSite[];
}

export interface WindowInputs {
  nBins: number;
  live: number[];
  allocBins: Float64Array;
  collectBins: Float64Array;
  freedMatrix: Float64Array;
  /** Samples still live at the end, by allocation bin. */
  neverFreed: Float64Array;
  stats: readonly (SiteStats | undefined)[];
  leakSites: ReadonlySet<number>;
}

/** The median absolute bin-to-bin change of a live curve: the size of its ordinary jitter. */
export function medianStep(live: readonly number[], nBins: number): number {
  const steps: number[] = [];
  for (let b = 1; b < nBins; b++) steps.push(Math.abs((live[b] ?? 0) - (live[b - 1] ?? 0)));
  steps.sort((a, b) => a - b);
  return steps[steps.length >> 1] ?? 0;
}

export function findGrowthWindows(x: WindowInputs): GrowthWindow[] {
  const { nBins, live } = x;
  const peak = Math.max(0, ...live);
  if (peak <= 0) return [];
  const L = (b: number): number => (b < 0 ? 0 : (live[b] ?? 0));
  const drift = Math.max(0, L(nBins - 1) / nBins);
  const growing = (b: number): boolean => L(b) - L(b - 1) - drift > WINDOW_RULE.GROWTH_PER_BIN * peak;
  const minBins = Math.max(WINDOW_RULE.MIN_BINS, Math.ceil(WINDOW_RULE.MIN_BINS_SHARE * nBins));
  const noiseStep = medianStep(live, nBins);
  const out: GrowthWindow[] = [];
  let s = 0;
  while (s < nBins) {
    if (!growing(s)) {
      s++;
      continue;
    }
    let best = -1;
    let bestRise = 0;
    let positive = 0;
    for (let e = s; e < nBins; e++) {
      if (growing(e)) positive++;
      const len = e - s + 1;
      const rise = L(e) - L(s - 1) - drift * len;
      if (len >= minBins && positive / len >= WINDOW_RULE.POSITIVE_FRACTION && rise > bestRise) {
        best = e;
        bestRise = rise;
      }
    }
    const withinNoise = bestRise < WINDOW_RULE.NOISE_SIGMAS * noiseStep * Math.sqrt(best - s + 1);
    if (best < 0 || bestRise < WINDOW_RULE.MIN_RISE * peak || bestRise < WINDOW_RULE.MIN_RISE_SAMPLES || withinNoise) {
      s++;
      continue;
    }
    out.push(classify(x, s, best, L(best) - L(s - 1)));
    s = best + 1;
  }
  return markOrdinarySwings(out);
}

/** Races must be sustained: longer than RACE_MIN_SWINGS times the trace's ordinary swings. */
function markOrdinarySwings(windows: GrowthWindow[]): GrowthWindow[] {
  const lengths = windows.map((w) => w.e - w.s + 1);
  return windows.map((w, i) => {
    if (w.kind !== 'race') return w;
    const others = lengths.filter((_, j) => j !== i).sort((a, b) => a - b);
    if (others.length < 2) return w;
    const mid = others.length >> 1;
    const median = others.length % 2 === 1 ? (others[mid] ?? 0) : ((others[mid - 1] ?? 0) + (others[mid] ?? 0)) / 2;
    return (lengths[i] ?? 0) < WINDOW_RULE.RACE_MIN_SWINGS * median ? { ...w, kind: 'gc-swing' } : w;
  });
}

function classify(x: WindowInputs, s: number, e: number, rise: number): GrowthWindow {
  let retained = 0;
  let freedLater = 0;
  let allocated = 0;
  let collected = 0;
  for (let a = s; a <= e; a++) {
    allocated += x.allocBins[a] ?? 0;
    collected += x.collectBins[a] ?? 0;
    retained += x.neverFreed[a] ?? 0;
    for (let c = e + 1; c < MAX_BINS; c++) {
      const v = x.freedMatrix[a * MAX_BINS + c] ?? 0;
      freedLater += v;
      retained += v;
    }
  }
  const freedShare = retained > 0 ? freedLater / retained : 0;
  const before = s > 0 ? (x.live[s - 1] ?? 0) : 0;
  let settledBin: number | null = null;
  for (let b = e + 1; b < x.nBins; b++) {
    if ((x.live[b] ?? 0) <= before + WINDOW_RULE.SETTLED_WITHIN * rise) {
      settledBin = b;
      break;
    }
  }
  const sites: WindowSite[] = [];
  let positiveGrowth = 0;
  let leakGrowth = 0;
  x.stats.forEach((st, site) => {
    if (st === undefined) return;
    const curve = liveCurve(st.allocBins, st.collectBins, x.nBins);
    const g = (curve[e] ?? 0) - (s > 0 ? (curve[s - 1] ?? 0) : 0);
    if (g <= 0) return;
    positiveGrowth += g;
    if (x.leakSites.has(site)) leakGrowth += g;
    const end = curve[x.nBins - 1] ?? 0;
    sites.push({ site, growth: g, share: 0, reclaimed: Math.min(1, Math.max(0, ((curve[e] ?? 0) - end) / g)) });
  });
  sites.sort((a, b) => b.growth - a.growth);
  for (const w of sites) w.share = positiveGrowth > 0 ? w.growth / positiveGrowth : 0;
  const sweep =
    settledBin !== null && settledBin - e <= Math.max(WINDOW_RULE.SWEEP_BINS, WINDOW_RULE.SWEEP_SHARE * (e - s + 1));
  const kind =
    freedShare >= WINDOW_RULE.RACE_FREED
      ? sweep
        ? 'gc-cycle'
        : 'race'
      : positiveGrowth > 0 && leakGrowth >= 0.5 * positiveGrowth
        ? 'leak'
        : 'retained';
  return {
    kind,
    s,
    e,
    rise,
    allocated,
    collected,
    freedLater: freedShare,
    settledBin,
    sites: sites.slice(0, WINDOW_RULE.MAX_SITES),
  };
}
