// Each process's PSS over the last hour, in memory: what the processes table draws as sparklines
// and sorts by growth. A process is a pid together with its start time (field 22 of
// /proc/PID/stat, clock ticks since boot): pids are reused, and a new process under an old pid
// starts a new series instead of continuing the old one's line.
//
// Bound: at most `maxProcesses` series (default 2,048), each at most one point per `spacingMs`
// (default 10 s) over `spanMs` (default 1 h) plus the newest: 362 points of two float64 = 5.8 KiB
// per process, 11.9 MB at most in all. A sample closer than `spacingMs` to the point before the
// newest replaces the newest, so the newest point is always the newest sample. When a new process
// would exceed the bound, the series whose newest point is oldest (an exited process, usually) goes.
//
// The interface is what the sampler writes and the views read, so that another source (the store's
// persisted /proc samples, read back after a restart) can seed it through `add`.
import type { PssHistory, PssSeries } from '../wire/messages.js';

export interface PssPoint {
  tMs: number;
  pssBytes: number | null;
}

export interface ProcessHistory {
  /** One sample of one process. Points of a pid arrive in time order; an older one is ignored. */
  add(sampleTimeMs: number, pid: number, startTime: string, pssBytes: number | null): void;
  /** The kept points of the process now holding `pid`, oldest first. */
  series(pid: number): PssPoint[];
}

export interface ProcessHistoryOptions {
  spanMs?: number;
  spacingMs?: number;
  maxProcesses?: number;
}

export const HISTORY_SPAN_MS = 3_600_000;
export const GROWTH_WINDOWS_MS = { '5m': 300_000, '1h': 3_600_000 } as const;
/** Points per sparkline sent to the page: enough for a 100-pixel line. */
export const SPARKLINE_POINTS = 40;

class Series {
  readonly t: Float64Array;
  /** NaN where PSS was unreadable. */
  readonly v: Float64Array;
  private start = 0;
  size = 0;

  constructor(
    readonly startTime: string,
    capacity: number,
  ) {
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
  }

  private at(i: number): number {
    return (this.start + i) % this.t.length;
  }

  tAt(i: number): number {
    return this.t[this.at(i)] ?? NaN;
  }
  vAt(i: number): number {
    return this.v[this.at(i)] ?? NaN;
  }

  newestMs(): number {
    return this.size === 0 ? -Infinity : this.tAt(this.size - 1);
  }

  add(tMs: number, value: number, spacingMs: number): void {
    if (this.size > 0 && tMs <= this.newestMs()) return;
    // The newest point is replaced while it is closer than `spacingMs` to the one before it.
    if (this.size >= 2 && this.tAt(this.size - 1) - this.tAt(this.size - 2) < spacingMs) {
      const i = this.at(this.size - 1);
      this.t[i] = tMs;
      this.v[i] = value;
      return;
    }
    if (this.size === this.t.length) {
      this.start = (this.start + 1) % this.t.length;
      this.size--;
    }
    const i = this.at(this.size);
    this.t[i] = tMs;
    this.v[i] = value;
    this.size++;
  }

  /** Drops points older than `fromMs`. */
  trim(fromMs: number): void {
    while (this.size > 0 && this.tAt(0) < fromMs) {
      this.start = (this.start + 1) % this.t.length;
      this.size--;
    }
  }
}

/** Least-squares slope of the readable points at or after `fromMs`, per second; null below two points. */
function slopePerS(s: Series, fromMs: number): number | null {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  // Times relative to the newest point, in seconds, keep the sums well within float precision.
  const t0 = s.newestMs();
  for (let i = s.size - 1; i >= 0; i--) {
    const t = s.tAt(i);
    if (t < fromMs) break;
    const y = s.vAt(i);
    if (Number.isNaN(y)) continue;
    const x = (t - t0) / 1000;
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const d = n * sxx - sx * sx;
  if (n < 2 || d <= 0) return null;
  return (n * sxy - sx * sy) / d;
}

export class InMemoryProcessHistory implements ProcessHistory {
  private readonly byPid = new Map<number, Series>();
  private readonly spanMs: number;
  private readonly spacingMs: number;
  private readonly maxProcesses: number;
  private readonly capacity: number;
  private firstMs: number | null = null;
  private newestMs: number | null = null;

  constructor(opts: ProcessHistoryOptions = {}) {
    this.spanMs = opts.spanMs ?? HISTORY_SPAN_MS;
    this.spacingMs = opts.spacingMs ?? 10_000;
    this.maxProcesses = opts.maxProcesses ?? 2048;
    if (!(this.spanMs > 0 && this.spacingMs > 0 && this.maxProcesses >= 1))
      throw new RangeError('process history: span, spacing and process count must be positive');
    // One point per spacing over the span, the one at its start, and the newest.
    this.capacity = Math.ceil(this.spanMs / this.spacingMs) + 2;
  }

  get processCount(): number {
    return this.byPid.size;
  }

  /** Points kept per process at most. */
  get pointsPerProcess(): number {
    return this.capacity;
  }

  add(sampleTimeMs: number, pid: number, startTime: string, pssBytes: number | null): void {
    if (!Number.isFinite(sampleTimeMs)) return;
    let s = this.byPid.get(pid);
    if (s !== undefined && s.startTime !== startTime) {
      this.byPid.delete(pid);
      s = undefined;
    }
    if (s === undefined) {
      if (this.byPid.size >= this.maxProcesses) this.evictStalest();
      s = new Series(startTime, this.capacity);
      this.byPid.set(pid, s);
    }
    s.add(sampleTimeMs, pssBytes ?? NaN, this.spacingMs);
    this.firstMs = Math.min(this.firstMs ?? sampleTimeMs, sampleTimeMs);
    this.newestMs = Math.max(this.newestMs ?? sampleTimeMs, sampleTimeMs);
  }

  private evictStalest(): void {
    let stalest: number | null = null;
    let stalestMs = Infinity;
    for (const [pid, s] of this.byPid) {
      const t = s.newestMs();
      if (t < stalestMs) {
        stalestMs = t;
        stalest = pid;
      }
    }
    if (stalest !== null) this.byPid.delete(stalest);
  }

  /** Drops points older than the span before `nowMs`, and processes left without points. */
  prune(nowMs: number): void {
    const from = nowMs - this.spanMs;
    for (const [pid, s] of this.byPid) {
      s.trim(from);
      if (s.size === 0) this.byPid.delete(pid);
    }
    if (this.firstMs !== null && this.firstMs < from) this.firstMs = from;
  }

  series(pid: number): PssPoint[] {
    const s = this.byPid.get(pid);
    if (s === undefined) return [];
    const out: PssPoint[] = [];
    for (let i = 0; i < s.size; i++) {
      const v = s.vAt(i);
      out.push({ tMs: s.tAt(i), pssBytes: Number.isNaN(v) ? null : v });
    }
    return out;
  }

  /** Slope of PSS over the `windowMs` before the newest sample of all, bytes per second. */
  growth(pid: number, windowMs: number): number | null {
    const s = this.byPid.get(pid);
    if (s === undefined || this.newestMs === null) return null;
    return slopePerS(s, this.newestMs - windowMs);
  }

  /**
   * The body the page draws sparklines from: the given pids' series, each thinned to at most
   * `maxPoints` points picked evenly (the newest always kept), on one time axis for all rows.
   */
  body(pids: Iterable<number>, maxPoints: number = SPARKLINE_POINTS): PssHistory | null {
    if (this.newestMs === null || this.firstMs === null) return null;
    const toMs = this.newestMs;
    const fromMs = Math.max(this.firstMs, toMs - this.spanMs);
    const series: PssSeries[] = [];
    for (const pid of pids) {
      const s = this.byPid.get(pid);
      if (s === undefined || s.size === 0) continue;
      const tMs: number[] = [];
      const pssBytes: (number | null)[] = [];
      const step = Math.max(1, (s.size - 1) / Math.max(1, maxPoints - 1));
      let last = -1;
      for (let k = 0; k < maxPoints; k++) {
        const i = Math.min(s.size - 1, Math.round(k * step));
        if (i === last) continue;
        last = i;
        const v = s.vAt(i);
        tMs.push(s.tAt(i));
        pssBytes.push(Number.isNaN(v) ? null : v);
        if (i === s.size - 1) break;
      }
      series.push({
        pid,
        tMs,
        pssBytes,
        growth5mBytesPerS: slopePerS(s, toMs - GROWTH_WINDOWS_MS['5m']),
        growth1hBytesPerS: slopePerS(s, toMs - GROWTH_WINDOWS_MS['1h']),
      });
    }
    return { fromMs, toMs, maxPoints, series };
  }
}
