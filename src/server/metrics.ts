// The Prometheus endpoint. Names follow prometheus.io "Metric and label naming": the memlens_
// prefix, base units with the unit as suffix (_bytes, _seconds), counters ending in _total, no
// pid label (process-exporter's model: per program name, top N plus an "other" group so that
// sum() stays the whole), no "total" series beside labelled ones.
//
// The values are built fresh on every scrape from the live state (collect() hooks, so a program
// that disappears also disappears from the output). They are not re-read from /proc on the
// scrape: reading smaps_rollup of every process is costly and stalls the processes read (the
// kernel takes their mmap lock), so the figures are those of the sampler's last sample and
// memlens_sample_age_seconds says how old they are.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { programGroups } from './aggregate.js';
import type { DirtyRoundPoint, DirtyWatchHead } from '../wire/messages.js';
import type { DirtyWatchState } from './dirty-watch.js';
import type { LiveState } from './live-state.js';

const PROM_CLIENT_GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const PROGRAM_TOP_N = 20;

export function createMetricsRegistry(
  state: LiveState,
  version: string,
  opts: { defaultMetrics?: boolean; dirty?: DirtyWatchState | null } = {},
): Registry {
  const register = new Registry();
  // The event-loop delay histogram samples by a timer; prom-client's default of every 10 ms woke the
  // idle server 100 times a second, 0.4 to 0.9 % of a core here (bench/README.md). Every 100 ms still
  // measures each delay in nanoseconds, ten times a second.
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register, eventLoopMonitoringPrecision: 100 });
    // prom-client exposes these three as gauges named *_total, which Prometheus's naming rules
    // reserve for counters (promtool check metrics: "non-counter metrics should not have _total
    // suffix"); a PromQL rate() over them would be wrong. Their counts without the suffix are
    // process_* figures nobody here needs, so they go.
    for (const name of PROM_CLIENT_GAUGES_NAMED_TOTAL) register.removeSingleMetric(name);
  }
  if (opts.dirty) registerDirtyMetrics(register, opts.dirty);

  new Gauge({
    name: 'memlens_build_info',
    help: 'Always 1; the label says which memlens version serves these metrics.',
    labelNames: ['version'],
    registers: [register],
    collect() {
      this.set({ version }, 1);
    },
  });

  new Gauge({
    name: 'memlens_memory_bytes',
    help: 'Physical memory by ledger category, a partition of MemTotal (/proc/meminfo and per-process reads), from the last /proc sample.',
    labelNames: ['category'],
    registers: [register],
    collect() {
      this.reset();
      for (const c of state.latestSample?.categories ?? [])
        if (c.bytes !== null) this.set({ category: c.name }, c.bytes);
    },
  });

  new Gauge({
    name: 'memlens_mem_total_bytes',
    help: 'MemTotal from /proc/meminfo.',
    registers: [register],
    collect() {
      // reset() leaves an unlabelled gauge at 0: before the first sample there must be no sample at all.
      this.reset();
      const v = state.latestSample?.memTotalBytes;
      if (v !== null && v !== undefined) this.set(v);
      else this.remove();
    },
  });

  new Gauge({
    name: 'memlens_swap_total_bytes',
    help: 'SwapTotal from /proc/meminfo.',
    registers: [register],
    collect() {
      this.reset();
      const v = state.latestSample?.swapTotalBytes;
      if (v !== null && v !== undefined) this.set(v);
      else this.remove();
    },
  });

  new Gauge({
    name: 'memlens_program_memory_bytes',
    help: `Memory of the processes of one program (grouped by process name; the top ${PROGRAM_TOP_N} by resident memory, the rest in program="other"). memtype: resident (RSS), proportional_resident (PSS, from smaps_rollup; absent when unreadable), swapped, requested (mmap minus munmap seen by the tracer).`,
    labelNames: ['program', 'memtype'],
    registers: [register],
    collect() {
      this.reset();
      for (const g of programGroups(state.processRows(), PROGRAM_TOP_N)) {
        this.set({ program: g.program, memtype: 'resident' }, g.rssBytes);
        if (g.pssBytes !== null) this.set({ program: g.program, memtype: 'proportional_resident' }, g.pssBytes);
        this.set({ program: g.program, memtype: 'swapped' }, g.swapBytes);
        if (g.requestedBytes !== null) this.set({ program: g.program, memtype: 'requested' }, g.requestedBytes);
      }
    },
  });

  new Gauge({
    name: 'memlens_program_processes',
    help: `Number of live processes of one program (same grouping as memlens_program_memory_bytes).`,
    labelNames: ['program'],
    registers: [register],
    collect() {
      this.reset();
      for (const g of programGroups(state.processRows(), PROGRAM_TOP_N)) this.set({ program: g.program }, g.processes);
    },
  });

  new Gauge({
    name: 'memlens_pss_unavailable_processes',
    help: 'Processes whose PSS could not be read in the last sample (permission), so proportional_resident is partial.',
    registers: [register],
    collect() {
      this.set(state.sampler.pssUnavailable);
    },
  });

  new Gauge({
    name: 'memlens_sample_age_seconds',
    help: 'Age of the last complete /proc sample.',
    registers: [register],
    collect() {
      this.reset();
      const t = state.sampler.lastSampleMs;
      if (t !== null) this.set(Math.max(0, (Date.now() - t) / 1000));
      else this.remove();
    },
  });

  new Gauge({
    name: 'memlens_sample_cpu_seconds',
    help: 'CPU time (user + system) the last /proc sample cost.',
    registers: [register],
    collect() {
      this.reset();
      const c = state.sampler.lastCostMs;
      if (c !== null) this.set(c / 1000);
      else this.remove();
    },
  });

  new Gauge({
    name: 'memlens_sample_interval_seconds',
    help: 'Current interval between /proc samples, adapted to the CPU budget.',
    registers: [register],
    collect() {
      this.set(state.sampler.intervalMs / 1000);
    },
  });

  new Gauge({
    name: 'memlens_tracing_up',
    help: '1 when the system-call tracer is running, 0 when it is unavailable (e.g. not root) or disabled.',
    registers: [register],
    collect() {
      this.set(state.tracing.state === 'running' ? 1 : 0);
    },
  });

  new Counter({
    name: 'memlens_traced_calls_total',
    help: 'Memory-mapping system calls traced since memlens serve started, by call.',
    labelNames: ['call'],
    registers: [register],
    collect() {
      this.reset();
      for (const [call, n] of state.eventCountsByCall) this.inc({ call }, n);
    },
  });

  const lostCounter = (name: string, help: string, pick: (l: LiveState['lost']) => number): void => {
    new Counter({
      name,
      help,
      registers: [register],
      collect() {
        this.reset();
        this.inc(pick(state.lost));
      },
    });
  };
  lostCounter(
    'memlens_trace_lost_events_total',
    'Events the kernel dropped before memlens read them (ring-buffer overrun).',
    (l) => l.lostEvents,
  );
  lostCounter(
    'memlens_trace_unpaired_events_total',
    'System-call entries without exit (or the reverse) when pairing.',
    (l) => l.unpaired,
  );
  lostCounter(
    'memlens_trace_malformed_records_total',
    'Trace records that could not be decoded and were skipped.',
    (l) => l.malformed,
  );

  return register;
}

/**
 * The dirty-pages watch of `memlens serve --dirty-watch PID`, one target per server. Per-round
 * counts are gauges of the newest complete round (the count of a fixed-length interval, not a
 * running total). Written and touched pages are separate metrics, never one metric with a label:
 * they mean different things (the accessed fallback counts reads too) and must not be summed;
 * nor are new-mapping pages, which the kernel marks without any write. Only the metrics of the
 * watch's method exist, and a figure that does not exist yet (before the first round, a working
 * set before convergence) has no sample, never a 0. No pid label, as everywhere here: the
 * target's program name is on memlens_dirty_watch_info.
 */
function registerDirtyMetrics(register: Registry, dirty: DirtyWatchState): void {
  const head = (): DirtyWatchHead => dirty.head;
  /** A gauge without labels whose sample is left out while `value` has none. */
  const gauge = (name: string, help: string, value: () => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers: [register],
      collect() {
        const x = value();
        // reset() leaves an unlabelled gauge at 0; remove() takes that sample away.
        this.reset();
        if (x === undefined) this.remove();
        else this.set(x);
      },
    });
  };
  const newest = (): DirtyRoundPoint | undefined => dirty.newestPoint();

  new Gauge({
    name: 'memlens_dirty_watch_info',
    help: "Always 1 while a dirty-pages watch is configured; labels: program (the target's process name), method (soft_dirty: pages written; accessed: pages touched, read or written).",
    labelNames: ['program', 'method'],
    registers: [register],
    collect() {
      this.reset();
      const h = head();
      this.set({ program: h.name, method: h.method === 'soft-dirty' ? 'soft_dirty' : 'accessed' }, 1);
    },
  });
  gauge(
    'memlens_dirty_watch_running',
    '1 while the dirty-pages watch measures rounds; 0 once it has stopped (target exited, converged under --dirty-until-stable, --dirty-max-rounds reached), failed, or could not start (no soft-dirty tracking and no fallback).',
    () => (head().state === 'running' ? 1 : 0),
  );
  new Counter({
    name: 'memlens_dirty_rounds_total',
    help: 'Rounds of the dirty-pages watch measured since memlens serve started (clear the bits, wait one interval, count).',
    registers: [register],
    collect() {
      this.reset();
      this.inc(head().rounds);
    },
  });
  gauge(
    'memlens_dirty_round_interval_seconds',
    'Length of a round of the dirty-pages watch as asked (--dirty-interval); per-round page counts divided by it are rates.',
    () => head().intervalMs / 1000,
  );
  gauge('memlens_dirty_page_size_bytes', 'Size of the pages the dirty-pages metrics count.', () => head().pageSize);
  if (head().method === 'soft-dirty') {
    gauge(
      'memlens_dirty_round_written_pages',
      'Pages the target wrote during the newest round of the dirty-pages watch (soft-dirty bits, Documentation/admin-guide/mm/soft-dirty.rst).',
      () => newest()?.pages,
    );
    gauge(
      'memlens_dirty_round_new_mapping_pages',
      'Soft-dirty pages of areas new or grown during the newest round: the kernel marks such areas as a whole, so they are not writes and are never included in memlens_dirty_round_written_pages.',
      () => newest()?.newMappingPages,
    );
  } else {
    gauge(
      'memlens_dirty_round_touched_pages',
      'Pages the target touched (read or written) during the newest round: the accessed fallback (referenced bits, smaps Referenced), not a count of writes.',
      () => newest()?.pages,
    );
  }
  gauge(
    'memlens_dirty_converged',
    '1 when the pages per round of the dirty-pages watch have converged by its rule (3 steady rounds in a row within --dirty-tolerance or 8 pages, not trending), else 0. No sample before the first round.',
    () => (head().rounds === 0 ? undefined : head().converged ? 1 : 0),
  );
  gauge(
    'memlens_dirty_working_set_pages',
    'The working set the dirty-pages watch converged on: the mean pages per round of its steady rounds (written, or touched under the accessed fallback). No sample while not converged.',
    () => (head().converged ? (head().workingSetPages ?? undefined) : undefined),
  );
  gauge(
    'memlens_dirty_round_age_seconds',
    'Age of the newest round of the dirty-pages watch. No sample before the first round.',
    () => {
      const t = head().lastRoundAtMs;
      return t === null ? undefined : Math.max(0, (Date.now() - t) / 1000);
    },
  );
}
