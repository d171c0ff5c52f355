// The dashboard's dirty-pages watch (`memlens serve --dirty-watch PID`): its state, read by the
// HTTP route, the WebSocket hub and /metrics, and the thread that measures it (dirty-worker.ts).
// Nothing here measures or judges: the checks before the start (pid 1, rights, soft-dirty support)
// are the CLI's, shared with `memlens dirty` (src/cli/dirty-target.ts); clearing, reading and the
// convergence rule are the analysis's (src/analyses/dirty). This file keeps the series and words.
import { Worker } from 'node:worker_threads';
import type { ConvergenceRule } from '../analyses/dirty/convergence.js';
import type { StopReason } from '../analyses/dirty/watch.js';
import { ruleJson } from '../analyses/dirty/wire.js';
import { DIRTY_MEANING, type DirtyMethod } from '../wire/dirty.js';
import {
  MESSAGES_WIRE_VERSION as v,
  type DirtyBody,
  type DirtyRoundPoint,
  type DirtyWatchHead,
} from '../wire/messages.js';
import type { DirtyWorkerInit, FromDirtyWorker } from './dirty-protocol.js';
import { Ring } from './ring.js';

/** What `memlens serve` found and decided at start; everything the watch needs. */
export interface DirtyWatchConfig {
  pid: number;
  /** /proc/PID/comm at start (untrusted text). */
  name: string;
  pageSize: number;
  softDirty: { supported: boolean; probe: string };
  method: DirtyMethod;
  intervalMs: number;
  /** Stop at convergence (--dirty-until-stable); otherwise keep watching with the verdict shown. */
  untilStable: boolean;
  /** maxRounds is Infinity without --dirty-max-rounds (and without --dirty-until-stable). */
  rule: ConvergenceRule;
  /** Set when no watch can run (soft-dirty missing, no fallback asked): the view says why; nothing is cleared. */
  unavailable: string | null;
}

/** Rounds kept for the page: an hour of 1 s rounds. Older ones are dropped; the count goes on. */
export const DIRTY_KEPT_ROUNDS = 3600;
/** Ranges (and areas) of the newest round sent to the page at most: the largest ones. */
export const DIRTY_RANGES_SENT = 500;

export class DirtyWatchState {
  private current: DirtyWatchHead;
  private readonly series: Ring<DirtyRoundPoint>;
  private changes = 0;

  constructor(
    readonly config: DirtyWatchConfig,
    keptRounds = DIRTY_KEPT_ROUNDS,
  ) {
    this.series = new Ring(keptRounds);
    this.current = {
      startedAtMs: Date.now(),
      pid: config.pid,
      name: config.name,
      pageSize: config.pageSize,
      softDirty: config.softDirty,
      method: config.method,
      meaning: DIRTY_MEANING[config.method],
      state: config.unavailable === null ? 'running' : 'unavailable',
      reason: config.unavailable,
      stopReason: null,
      intervalMs: config.intervalMs,
      untilStable: config.untilStable,
      rule: ruleJson(config.rule),
      rounds: 0,
      keptRounds,
      converged: false,
      steadyRounds: 0,
      convergedSinceRound: null,
      workingSetPages: null,
      workingSetBytes: null,
      lastRoundAtMs: null,
      ranges: [],
      rangesTotal: 0,
      newMappingRanges: [],
      newMappingRangesTotal: 0,
      areas: [],
      areasTotal: 0,
      byMapping: [],
      hugePageAreas: [],
    };
  }

  /** Grows with every change, so that the hub sends the watch only when it is new. */
  get version(): number {
    return this.changes;
  }

  get head(): DirtyWatchHead {
    return this.current;
  }

  /** The newest round, undefined before the first. */
  newestPoint(): DirtyRoundPoint | undefined {
    return this.series.last();
  }

  /** The newest round's number (0 before the first). */
  get newestRound(): number {
    return this.current.rounds;
  }

  private set(patch: Partial<DirtyWatchHead>): void {
    this.current = { ...this.current, ...patch };
    this.changes++;
  }

  /** Takes a message of the measuring thread. */
  apply(m: FromDirtyWorker): void {
    const h = this.current;
    if (h.state !== 'running') return;
    switch (m.type) {
      case 'started':
        this.set({ hugePageAreas: m.hugePageAreas });
        return;
      case 'round': {
        const converged = m.verdict.state === 'converged';
        this.series.push({ ...m.round, atMs: m.atMs, converged });
        const workingSetPages = m.verdict.state === 'converged' ? m.verdict.workingSetPages : m.round.pages;
        this.set({
          rounds: m.round.round,
          converged,
          steadyRounds: m.steadyRounds,
          convergedSinceRound: converged ? (h.convergedSinceRound ?? m.round.round) : null,
          workingSetPages,
          workingSetBytes: workingSetPages * h.pageSize,
          lastRoundAtMs: m.atMs,
          ...m.view,
        });
        return;
      }
      case 'ended': {
        const converged = m.verdict.state === 'converged';
        const newest = this.series.last();
        const workingSetPages = m.verdict.state === 'converged' ? m.verdict.workingSetPages : (newest?.pages ?? null);
        this.set({
          state: 'stopped',
          stopReason: m.stopReason,
          reason: this.stopSentence(m.stopReason),
          converged,
          convergedSinceRound: converged ? h.convergedSinceRound : null,
          workingSetPages,
          workingSetBytes: workingSetPages === null ? null : workingSetPages * h.pageSize,
        });
        return;
      }
      case 'failed':
        this.set({ state: 'failed', reason: `the watch failed after ${this.roundsText()}: ${m.message}` });
        return;
    }
  }

  private roundsText(): string {
    const n = this.current.rounds;
    return n === 1 ? '1 round' : `${n} rounds`;
  }

  private stopSentence(reason: StopReason): string {
    const h = this.current;
    switch (reason) {
      case 'exited':
        return h.rounds === 0
          ? `process ${h.pid} exited before the first round ended: no round was measured`
          : `process ${h.pid} exited during the watch: the ${this.roundsText()} measured before are kept`;
      case 'converged':
        return `converged after ${this.roundsText()}: the watch stopped there (--dirty-until-stable)`;
      case 'max-rounds':
        return `stopped after ${this.roundsText()}, the limit set by --dirty-max-rounds`;
      case 'interrupted':
        return `memlens serve stopped the watch after ${this.roundsText()}`;
    }
  }

  body(): DirtyBody {
    return { type: 'dirty', v, watch: this.current, series: this.series.toArray() };
  }

  /** The head and the kept rounds after `afterRound` (the newest the client holds), oldest first. */
  update(afterRound: number): { watch: DirtyWatchHead; rounds: DirtyRoundPoint[] } {
    const rounds = afterRound >= this.current.rounds ? [] : this.series.toArray().filter((r) => r.round > afterRound);
    return { watch: this.current, rounds };
  }
}

export interface RunningDirtyWatch {
  /** Stops the watch at its next step (a round being read is finished first) and waits for the thread. */
  stop(): Promise<void>;
}

/** Starts the measuring thread; its messages go into `state`. */
export function startDirtyWatch(state: DirtyWatchState, log: (line: string) => void): RunningDirtyWatch {
  const c = state.config;
  const init: DirtyWorkerInit = {
    pid: c.pid,
    pageSize: c.pageSize,
    method: c.method,
    intervalMs: c.intervalMs,
    rule: c.rule,
    untilStable: c.untilStable,
    rangesSent: DIRTY_RANGES_SENT,
  };
  const worker = new Worker(new URL('./dirty-worker.js', import.meta.url), { workerData: init });
  worker.on('message', (m: FromDirtyWorker) => {
    state.apply(m);
    if (m.type === 'ended' || m.type === 'failed')
      log(`dirty watch of process ${c.pid}: ${state.head.reason ?? m.type}`);
  });
  worker.on('error', (e) => {
    state.apply({ type: 'failed', message: e.message });
    log(`dirty watch of process ${c.pid}: ${state.head.reason ?? e.message}`);
  });
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      // A thread that ends without saying why (it should always say) leaves no watch "running".
      if (state.head.state === 'running')
        state.apply({ type: 'failed', message: `its thread ended unexpectedly (exit code ${code})` });
      resolve();
    }),
  );
  return {
    async stop() {
      worker.postMessage({ type: 'stop' });
      await exited;
    },
  };
}
