// The periodic /proc sampler's clock. Reading smaps_rollup of every process costs real CPU time
// (and holds each target's mmap lock while the kernel walks its page tables: fs/proc/task_mmu.c
// show_smaps_rollup), so the interval is not fixed: after each sample the next one is scheduled
// so that sampling uses at most `cpuBudget` of one core on average. A sample that cost 30 ms of
// CPU under a 1 % budget is followed by a 3 s pause; one that cost 300 ms by a 30 s pause.
//
// The cost is the process's CPU time (user + system, process.cpuUsage) across the sample, which
// also counts other work done meanwhile (the tracer): when memlens is busy, it samples less.
// Reads a sample skips because nothing moved (src/analyses/rollup-carry.ts) are counted at what
// they cost last time: skipping them saves CPU, it does not make the sampler sample more often.
import type { SamplerState } from '../wire/messages.js';

export interface SampleOutcome {
  processes: number;
  pssUnavailable: number;
  pssDeferred: number;
  /** Wall-clock time the sample describes. */
  atMs: number;
  /**
   * CPU time the sample saved by not reading again what had not moved (the deferred smaps_rollup
   * reads, at what they cost when last read). The interval is set from the cost plus this: the
   * sample comes as often as one that read everything would under the budget, and the saving is
   * CPU not spent, not a shorter interval.
   */
  savedCostMs?: number;
}

export interface AdaptiveSamplerOptions {
  /** Share of one core, e.g. 0.015. */
  cpuBudget: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  sample: () => Promise<SampleOutcome>;
  onState: (state: SamplerState) => void;
  onError: (e: unknown) => void;
}

/** The pause after a sample that cost `costMs` of CPU, so that the average stays in budget. */
export function nextIntervalMs(costMs: number, cpuBudget: number, minMs: number, maxMs: number): number {
  const ideal = cpuBudget > 0 ? costMs / cpuBudget : maxMs;
  return Math.round(Math.min(maxMs, Math.max(minMs, ideal)));
}

/** The state of a sampler that has not sampled yet (interval and budget 0: none is running either). */
export function initialSamplerState(intervalMs = 0, cpuBudget = 0): SamplerState {
  return {
    intervalMs,
    cpuBudget,
    lastSampleMs: null,
    lastCostMs: null,
    pssUnavailable: 0,
    pssDeferred: 0,
    processes: 0,
    error: null,
  };
}

export class AdaptiveSampler {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  private state: SamplerState;
  /** Smoothed cost, so one unlucky sample does not swing the interval. */
  private costEwmaMs: number | null = null;

  constructor(private readonly opts: AdaptiveSamplerOptions) {
    this.state = initialSamplerState(opts.minIntervalMs, opts.cpuBudget);
  }

  start(): void {
    this.opts.onState(this.state);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce();
    }, ms);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    const before = process.cpuUsage();
    try {
      const out = await this.opts.sample();
      const used = process.cpuUsage(before);
      const costMs = (used.user + used.system) / 1000;
      const fullCostMs = costMs + (out.savedCostMs ?? 0);
      this.costEwmaMs = this.costEwmaMs === null ? fullCostMs : 0.7 * this.costEwmaMs + 0.3 * fullCostMs;
      this.state = {
        ...this.state,
        intervalMs: nextIntervalMs(
          this.costEwmaMs,
          this.opts.cpuBudget,
          this.opts.minIntervalMs,
          this.opts.maxIntervalMs,
        ),
        lastSampleMs: out.atMs,
        lastCostMs: costMs,
        pssUnavailable: out.pssUnavailable,
        pssDeferred: out.pssDeferred,
        processes: out.processes,
        error: null,
      };
    } catch (e) {
      this.opts.onError(e);
      this.state = {
        ...this.state,
        intervalMs: this.opts.maxIntervalMs,
        error: e instanceof Error ? e.message : String(e),
      };
    }
    this.opts.onState(this.state);
    this.schedule(this.state.intervalMs);
  }
}
