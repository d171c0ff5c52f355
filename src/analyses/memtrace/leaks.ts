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
//   6. not given back: the end's live memory is at least KEPT_AT_END of the site's maximum;
//   7. grown while the program ran: at least RUN_SPREAD of the end's live memory was allocated
//      in the first half of the trace. A program that ends frees everything at exit, so what a
//      batch program (a compiler, a build step) builds in its last phase and keeps until it exits
//      is its result, not a leak; a leak is memory that piles up through the program's run.
//      The price: a leak that starts after about the first third of a trace needs a longer trace.
// Every site that passes 1 and 2 gets a verdict saying which rule decided (report.leakVerdicts).
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
  RUN_SPREAD: 0.25,
} as const;

export type LeakRule =
  'suspect' | 'too-short' | 'not-rising' | 'one-jump' | 'warm-up' | 'young-garbage' | 'given-back' | 'kept-until-exit';

export interface LeakVerdict {
  site: number;
  liveEnd: number;
  share: number;
  suspect: boolean;
  rule: LeakRule;
  /** Why, in words (times in seconds since the trace start). */
  reason: string;
}

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

const pctText = (x: number): string => `${Math.round(x * 100)}%`;

/**
 * neverFreed(site): samples still live at the end, by allocation bin; binS: a bin's width in
 * seconds (for the reasons' wording).
 */
export function findLeaks(
  stats: readonly (SiteStats | undefined)[],
  nBins: number,
  totalLiveEnd: number,
  neverFreed: (site: number) => Float64Array | undefined,
  binS = 0,
): { findings: LeakFinding[]; verdicts: LeakVerdict[] } {
  const out: LeakFinding[] = [];
  const verdicts: LeakVerdict[] = [];
  const at = (b: number): string => `${(b * binS).toFixed(2)} s`;
  stats.forEach((s, site) => {
    if (s === undefined || s.live < LEAK_RULE.MIN_LIVE_SAMPLES || totalLiveEnd <= 0) return;
    const share = s.live / totalLiveEnd;
    if (share < LEAK_RULE.MIN_SHARE) return;
    const no = (rule: LeakRule, reason: string): void => {
      verdicts.push({ site, liveEnd: s.live, share, suspect: false, rule, reason });
    };
    const curve = liveCurve(s.allocBins, s.collectBins, nBins);
    let f = 0;
    while (f < nBins && (s.allocBins[f] ?? 0) === 0) f++;
    const span = nBins - f;
    if (span < LEAK_RULE.MIN_BINS) {
      no('too-short', `allocated only in the last ${span} timeline bin(s): too short to tell growth`);
      return;
    }
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
    if (rising < LEAK_RULE.RISING_FRACTION) {
      no(
        'not-rising',
        `its live memory fell in ${pctText(1 - rising)} of the steps after ${at(f)}: it goes up and down`,
      );
      return;
    }
    if (risingSteps < Math.max(LEAK_RULE.MIN_RISING_STEPS, LEAK_RULE.RISING_STEPS_SHARE * (span - 1))) {
      no(
        'one-jump',
        risingSteps === 0
          ? 'its live memory never rose after its first timeline bin: allocated at once and kept'
          : `its live memory rose in only ${risingSteps} step(s), then stayed: a one-time allocation`,
      );
      return;
    }
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
    if (s.live - early < LEAK_RULE.SPREAD * s.live) {
      no(
        'warm-up',
        `${pctText(early / s.live)} of what it holds at the end was allocated by ${at(firstQuarterEnd)}, in the first quarter of its activity, and kept: warm-up or data loaded at start`,
      );
      return;
    }
    if (s.live - late < LEAK_RULE.SPREAD * s.live) {
      no(
        'young-garbage',
        `${pctText(late / s.live)} of what it holds at the end was allocated after ${at(lastQuarterStart)}: recent garbage the trace's end cut short, not memory that survived`,
      );
      return;
    }
    if (end < LEAK_RULE.KEPT_AT_END * max) {
      no('given-back', `it holds ${pctText(max > 0 ? end / max : 0)} of its maximum at the end: memory was given back`);
      return;
    }
    let firstHalf = 0;
    for (let b = 0; b < nBins / 2; b++) firstHalf += byAge[b] ?? 0;
    if (firstHalf < LEAK_RULE.RUN_SPREAD * s.live) {
      no(
        'kept-until-exit',
        `grew from ${at(f)} to the end of the trace only (the last ${pctText(span / nBins)} of it), and ${pctText(firstHalf / s.live)} of what it holds at the end was allocated in the first half: data built in the program's last phase and kept until it ended, which exit frees; not growth while the program runs`,
      );
      return;
    }
    verdicts.push({
      site,
      liveEnd: s.live,
      share,
      suspect: true,
      rule: 'suspect',
      reason: `grew from ${at(f)} to the end without falling in ${pctText(rising)} of the steps, ${pctText(firstHalf / s.live)} of what it holds at the end was allocated in the first half of the trace and ${pctText(max > 0 ? end / max : 0)} of its maximum is still held: growth while the program runs`,
    });
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
  return {
    findings: out.sort((a, b) => b.liveEnd - a.liveEnd),
    verdicts: verdicts.sort((a, b) => b.liveEnd - a.liveEnd || a.site - b.site),
  };
}
