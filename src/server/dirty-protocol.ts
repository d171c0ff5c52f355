// Messages between the dashboard's dirty-pages watch (dirty-watch.ts, the server's thread) and
// the thread that runs it (dirty-worker.ts).
import type { ConvergenceRule, Verdict } from '../analyses/dirty/convergence.js';
import type { StopReason } from '../analyses/dirty/watch.js';
import type { DirtyMethod, DirtyRoundJson, HugePageAreaJson } from '../wire/dirty.js';
import type { DirtyWatchHead } from '../wire/messages.js';

export interface DirtyWorkerInit {
  pid: number;
  pageSize: number;
  method: DirtyMethod;
  intervalMs: number;
  rule: ConvergenceRule;
  untilStable: boolean;
  /** How many ranges (and areas) of a round to send at most: the largest. */
  rangesSent: number;
}

/** A round, already cut down to what the page shows (a round may have 100 000s of ranges). */
export type RoundView = Pick<
  DirtyWatchHead,
  'ranges' | 'rangesTotal' | 'newMappingRanges' | 'newMappingRangesTotal' | 'areas' | 'areasTotal' | 'byMapping'
>;

export type ToDirtyWorker = { type: 'stop' };

export type FromDirtyWorker =
  | { type: 'started'; hugePageAreas: HugePageAreaJson[] }
  | { type: 'round'; round: DirtyRoundJson; atMs: number; verdict: Verdict; steadyRounds: number; view: RoundView }
  | { type: 'ended'; stopReason: StopReason; verdict: Verdict }
  | { type: 'failed'; message: string };
