// Leak suspects: sites whose live memory grows through the trace and is not given back.
// The rule (documented in the README, section memtrace), on the site's live samples L[b] at
// the end of each timeline bin b, from the bin f of its first allocation to the last bin n-1:
//   1. at least MIN_LIVE_SAMPLES samples live at the end (fewer is sampling noise);
//   2. at least MIN_SHARE of all the memory live at the end;
//   3. at least MIN_BINS bins of activity;
//   4. rising: L did not fall in at least RISING_FRACTION of the steps, and rose in at least
//      MIN_RISING_STEPS steps and in at least RISING_STEPS_SHARE of them (one jump at the end
//      is not growth through the trace);
//   5. the memory live at the end was allocated all along, by the allocation times of the
//      samples still live at the end: at least SPREAD of it after the first quarter of the
//      site's activity (growth, not warm-up), and at least SPREAD of it before the last
//      quarter (it survived, rather than being garbage the next GC cycle would have taken);
//   6. not given back: the end's live memory is at least KEPT_AT_END of the site's maximum.
import { liveCurve, slope } from './curves.js';
import type { SiteStats } from './analyzer.js';

export const LEAK_RULE = {
  MIN_LIVE_SAMPLES: 4,
  MIN_SHARE: 0.01,
  MIN_BINS: 4,
  RISING_FRACTION: 0.75,
  MIN_RISING_STEPS: 3,
  RISING_STEPS_SHARE: 0.1,
  SPREAD: 0.5,
  KEPT_AT_END: 0.9,
} as const;

export interface LeakFinding {
  site: number;
  liveEnd: number;
  share: number;
  retained: number;
  /** Samples per bin. */
  slopePerBin: number;
  rising: number;
  curve: number[];
}

/** neverFreed(site): samples still live at the end, by allocation bin. */
export function findLeaks(
  stats: readonly (SiteStats | undefined)[],
  nBins: number,
  totalLiveEnd: number,
  neverFreed: (site: number) => Float64Array | undefined,
): LeakFinding[] {
  const out: LeakFinding[] = [];
  stats.forEach((s, site) => {
    if (s === undefined || s.live < LEAK_RULE.MIN_LIVE_SAMPLES || totalLiveEnd <= 0) return;
    const share = s.live / totalLiveEnd;
    if (share < LEAK_RULE.MIN_SHARE) return;
    const curve = liveCurve(s.allocBins, s.collectBins, nBins);
    let f = 0;
    while (f < nBins && (s.allocBins[f] ?? 0) === 0) f++;
    const span = nBins - f;
    if (span < LEAK_RULE.MIN_BINS) return;
    let notFalling = 0;
    let risingSteps = 0;
    let max = curve[f] ?? 0;
    for (let b = f + 1; b < nBins; b++) {
      const v = curve[b] ?? 0;
      const prev = curve[b - 1] ?? 0;
      if (v >= prev) notFalling++;
      if (v > prev) risingSteps++;
      if (v > max) max = v;
    }
    const rising = notFalling / (span - 1);
    if (rising < LEAK_RULE.RISING_FRACTION) return;
    if (risingSteps < Math.max(LEAK_RULE.MIN_RISING_STEPS, LEAK_RULE.RISING_STEPS_SHARE * (span - 1))) return;
    const end = curve[nBins - 1] ?? 0;
    const byAge = neverFreed(site);
    if (byAge === undefined) return;
    const firstQuarterEnd = f + Math.floor(span / 4);
    const lastQuarterStart = f + Math.ceil((3 * span) / 4);
    let early = 0;
    let late = 0;
    for (let b = f; b < nBins; b++) {
      if (b < firstQuarterEnd) early += byAge[b] ?? 0;
      if (b >= lastQuarterStart) late += byAge[b] ?? 0;
    }
    if (s.live - early < LEAK_RULE.SPREAD * s.live || s.live - late < LEAK_RULE.SPREAD * s.live) return;
    if (end < LEAK_RULE.KEPT_AT_END * max) return;
    out.push({
      site,
      liveEnd: s.live,
      share,
      retained: s.allocSamples > 0 ? s.live / s.allocSamples : 0,
      slopePerBin: slope(curve, f),
      rising,
      curve,
    });
  });
  return out.sort((a, b) => b.liveEnd - a.liveEnd);
}
