// Records every /proc sample of `memlens serve` into the store's history (src/store/history.ts)
// and reads windows of it back for the timeline.
//
// The sampler hands a sample over and goes on: record() only merges it into the pending buckets
// in memory (tier 0 rows, and the minute and hour buckets it falls in). A timer writes what is
// pending every few seconds as one transaction of upserts, so neither the sampler nor the event
// path waits for the database; a failed write keeps its rows pending (merged with the newer ones)
// up to a bound, then counts what it drops. Reads merge the pending rows over the stored ones, so
// the newest sample is in the timeline before it reaches the database.
import { assert } from '../base/assert.js';
import type { HistoryBody, HistoryProcess, HistorySeries } from '../wire/messages.js';
import { MESSAGES_WIRE_VERSION as v } from '../wire/messages.js';
import {
  HISTORY_TIERS,
  mergeBucketMean,
  mergeProcessRow,
  mergePssBucket,
  mergeSystemRow,
  tierRetentionMs,
  type BucketMean,
  type HistoryBatch,
  type HistoryRetention,
  type HistoryStore,
  type ProcessHistoryRow,
  type ProcessNameRow,
  type ProcessSpanRow,
  type PssBucketRow,
  type SystemHistoryRow,
} from '../store/history.js';
import { WindowCache } from './history-cache.js';

export interface HistoryProcessInput {
  pid: number;
  /** Field 22 of /proc/PID/stat. */
  startTicks: number;
  name: string;
  pssBytes: number;
  rssBytes: number | null;
  ussBytes: number | null;
  swapBytes: number | null;
}

export interface HistorySampleInput {
  atMs: number;
  /** The ledger's top-level items: key, label and size. */
  categories: readonly { key: string; name: string; bytes: number | null }[];
  /** Processes whose PSS was read, with their start time. */
  processes: readonly HistoryProcessInput[];
}

export interface HistoryWindowQuery {
  /** Absent: the local host. Another host's history is read as stored (nothing pending). */
  host?: string;
  fromMs?: number;
  toMs?: number;
  points?: number;
  pids?: readonly { pid: number; startTicks: number }[];
}

export interface HistoryRecorderOptions {
  retention: HistoryRetention;
  /** How often pending rows are written (default 10 s). */
  flushEveryMs?: number;
  /** Pending rows kept while the database fails; beyond it new samples are dropped and counted. */
  maxPendingRows?: number;
  log?: (line: string) => void;
  /** "Now" for reading windows (default the wall clock): a replayed archive's end instead. */
  nowMs?: () => number;
  /**
   * Window lengths read ahead, in the background, after a window of this host that follows now
   * is read: the Timeline's other buttons (TIMELINE_SPANS_MS), so that the first click on each
   * finds its complete buckets kept. Off by default.
   */
  prefetchSpansMs?: readonly number[];
}

/** The windows the Timeline's buttons ask for (web/views/timeline.ts). */
export const TIMELINE_SPANS_MS: readonly number[] = [
  3_600_000,
  21_600_000,
  86_400_000,
  7 * 86_400_000,
  30 * 86_400_000,
];
/** A width of chart (points asked for) is read ahead at most this often. */
const PREFETCH_EVERY_MS = 10 * 60_000;

/** A process's name is written again at most this often (its last_ms says until when it lived). */
const NAME_REFRESH_MS = 10 * 60_000;
/** Processes offered in the picker. */
const RANKED = 40;
/** Series drawn when none are asked for. */
const DEFAULT_SERIES = 6;
/** Windows at least this long rank processes on the hour tier (a few thousand rows, not 100,000s). */
const RANK_ON_HOURS_MS = 6 * 3_600_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const sysKey = (r: { tier: number; tMs: number; category: string }): string => `${r.tier}|${r.tMs}|${r.category}`;
const procKey = (r: { tier: number; tMs: number; pid: number; startTicks: number }): string =>
  `${r.tier}|${r.tMs}|${r.pid}|${r.startTicks}`;
const instKey = (pid: number, startTicks: number): string => `${pid}|${startTicks}`;
const kib = (bytes: number): number => Math.round(bytes / 1024);
const kibOrNull = (bytes: number | null): number | null => (bytes === null ? null : kib(bytes));

function mergeInto<T>(map: Map<string, T>, key: string, row: T, merge: (a: T, b: T) => T): void {
  const old = map.get(key);
  map.set(key, old === undefined ? row : merge(old, row));
}

/** The most buckets of one series a window reads before a coarser tier is used ("a few thousand"). */
export const MAX_BUCKETS_PER_SERIES = 3000;

/** Bucket length for a window of `spanMs` shown in about `points` points, a multiple of the tier's. */
function outputBucketMs(tierBucketMs: number, spanMs: number, points: number): number {
  const desired = spanMs / points;
  const unit = tierBucketMs > 0 ? tierBucketMs : 1000;
  if (desired <= (tierBucketMs > 0 ? tierBucketMs : 0)) return tierBucketMs;
  return Math.max(unit, Math.ceil(desired / unit) * unit);
}

/** A process instance over a window, as the Timeline ranks it (PSS in KiB). */
interface Ranked {
  pid: number;
  startTicks: number;
  max: number;
  first: BucketMean;
  last: BucketMean;
}

export class HistoryRecorder {
  private pendingSystem = new Map<string, SystemHistoryRow>();
  private pendingProcess = new Map<string, ProcessHistoryRow>();
  private pendingNames = new Map<string, ProcessNameRow>();
  /** The batch being written: still merged into reads until it is committed. */
  private inFlight: HistoryBatch | null = null;
  private readonly namesWritten = new Map<string, number>();
  private readonly liveNames = new Map<string, string>();
  private readonly labels = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private failing = false;
  /** Samples not recorded because too many rows were pending (the database failing for long). */
  dropped = 0;
  /** Rows written, and time spent writing (for /metrics and the benchmark). */
  written = 0;
  writeMs = 0;
  /** The complete buckets of windows read (history-cache.ts): this host's only. */
  readonly cache = new WindowCache();
  /** The read-ahead under way, and when each number of points was last read ahead (at most 8). */
  private prefetching: Promise<void> | null = null;
  private readonly prefetchedAt = new Map<number, number>();
  private closed = false;

  constructor(
    readonly store: HistoryStore,
    readonly host: string,
    private readonly opts: HistoryRecorderOptions,
  ) {}

  get pendingRows(): number {
    return this.pendingSystem.size + this.pendingProcess.size + this.pendingNames.size;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.opts.flushEveryMs ?? 10_000);
    this.timer.unref();
  }

  /** Merges one sample into the pending buckets; never waits. */
  record(s: HistorySampleInput): void {
    if (this.pendingRows > (this.opts.maxPendingRows ?? 200_000)) {
      this.dropped++;
      return;
    }
    this.cache.recorded(s.atMs);
    const host = this.host;
    for (const c of s.categories) {
      this.labels.set(c.key, c.name);
      if (c.bytes === null) continue;
      const k = kib(c.bytes);
      for (const t of HISTORY_TIERS) {
        const tMs = t.bucketMs === 0 ? s.atMs : Math.floor(s.atMs / t.bucketMs) * t.bucketMs;
        const row: SystemHistoryRow = {
          host,
          tier: t.tier,
          tMs,
          category: c.key,
          n: 1,
          avgKib: k,
          minKib: k,
          maxKib: k,
        };
        mergeInto(this.pendingSystem, sysKey(row), row, mergeSystemRow);
      }
    }
    if (this.liveNames.size > 100_000) this.liveNames.clear();
    if (this.namesWritten.size > 100_000) this.namesWritten.clear();
    for (const p of s.processes) {
      const pss = kib(p.pssBytes);
      for (const t of HISTORY_TIERS) {
        if (t.bucketMs === 0) continue;
        const tMs = Math.floor(s.atMs / t.bucketMs) * t.bucketMs;
        const row: ProcessHistoryRow = {
          host,
          tier: t.tier,
          tMs,
          pid: p.pid,
          startTicks: p.startTicks,
          n: 1,
          pssAvgKib: pss,
          pssMinKib: pss,
          pssMaxKib: pss,
          rssKib: kibOrNull(p.rssBytes),
          ussKib: kibOrNull(p.ussBytes),
          swapKib: kibOrNull(p.swapBytes),
        };
        mergeInto(this.pendingProcess, procKey(row), row, mergeProcessRow);
      }
      const key = instKey(p.pid, p.startTicks);
      this.liveNames.set(key, p.name);
      const last = this.namesWritten.get(key);
      if (last === undefined || s.atMs - last >= NAME_REFRESH_MS) {
        const old = this.pendingNames.get(key);
        this.pendingNames.set(key, {
          host,
          pid: p.pid,
          startTicks: p.startTicks,
          name: p.name,
          firstMs: old?.firstMs ?? s.atMs,
          lastMs: s.atMs,
        });
      }
    }
  }

  /** Writes what is pending; one write at a time (a flush asked for meanwhile waits for it, then writes). */
  async flush(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
    if (this.pendingRows === 0) return;
    const batch: HistoryBatch = {
      system: [...this.pendingSystem.values()],
      processes: [...this.pendingProcess.values()],
      names: [...this.pendingNames.values()],
    };
    this.pendingSystem = new Map();
    this.pendingProcess = new Map();
    this.pendingNames = new Map();
    this.inFlight = batch;
    this.flushing = (async () => {
      const t0 = performance.now();
      try {
        await this.store.write(batch);
        this.written += batch.system.length + batch.processes.length + batch.names.length;
        for (const n of batch.names) this.namesWritten.set(instKey(n.pid, n.startTicks), n.lastMs);
        if (this.failing) this.opts.log?.('history: writing again');
        this.failing = false;
      } catch (e) {
        if (!this.failing)
          this.opts.log?.(
            `history: cannot write (${e instanceof Error ? e.message : String(e)}); samples are kept in memory and written when the database answers`,
          );
        this.failing = true;
        // Back in front of what came meanwhile: the failed rows are the older ones.
        const system = this.pendingSystem;
        const processes = this.pendingProcess;
        this.pendingSystem = new Map(batch.system.map((r) => [sysKey(r), r]));
        this.pendingProcess = new Map(batch.processes.map((r) => [procKey(r), r]));
        for (const [k, r] of system) mergeInto(this.pendingSystem, k, r, mergeSystemRow);
        for (const [k, r] of processes) mergeInto(this.pendingProcess, k, r, mergeProcessRow);
        for (const n of batch.names)
          if (!this.pendingNames.has(instKey(n.pid, n.startTicks)))
            this.pendingNames.set(instKey(n.pid, n.startTicks), n);
      } finally {
        this.writeMs += performance.now() - t0;
        this.inFlight = null;
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    await this.prefetching;
    await this.flush();
  }

  /** The read-ahead under way, if any (tests wait for it). */
  readAhead(): Promise<void> {
    return this.prefetching ?? Promise.resolve();
  }

  /**
   * Reads the Timeline's other windows at `points`, one after the other, in the background: what
   * they leave is their complete buckets in the cache. At most once per PREFETCH_EVERY_MS for a
   * number of points; one read-ahead at a time.
   */
  private prefetch(points: number): void {
    const spans = this.opts.prefetchSpansMs ?? [];
    if (spans.length === 0 || this.prefetching !== null || this.closed) return;
    const last = this.prefetchedAt.get(points);
    if (last !== undefined && Date.now() - last < PREFETCH_EVERY_MS) return;
    this.prefetchedAt.delete(points);
    this.prefetchedAt.set(points, Date.now());
    for (const p of this.prefetchedAt.keys()) if (this.prefetchedAt.size > 8) this.prefetchedAt.delete(p);
    this.prefetching = (async () => {
      // After the answer that asked for it has gone out.
      await new Promise((r) => setTimeout(r, 0));
      for (const span of spans) {
        if (this.closed) break;
        const now = this.opts.nowMs?.() ?? Date.now();
        await this.window({ fromMs: now - span, toMs: now, points }, now, { prefetch: false });
      }
    })()
      .catch((e: unknown) => this.opts.log?.(`history: reading ahead: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        this.prefetching = null;
      });
  }

  async applyRetention(nowMs = Date.now()): Promise<number> {
    const r = await this.store.applyRetention(this.opts.retention, nowMs, [this.host]);
    // The cache would find out by the oldest row at the next read; this frees the memory now.
    for (const t of HISTORY_TIERS)
      this.cache.deletedBefore(t.tier, Math.floor(nowMs - tierRetentionMs(this.opts.retention, t.tier)));
    return r.deletedRows;
  }

  // ---- reading ------------------------------------------------------------------------------

  private pendingSystemRows(host: string, tier: number, fromMs: number, toMs: number): SystemHistoryRow[] {
    if (host !== this.host) return [];
    const rows = [...this.pendingSystem.values(), ...(this.inFlight?.system ?? [])];
    return rows.filter((r) => r.tier === tier && r.tMs >= fromMs && r.tMs <= toMs);
  }

  private pendingProcessRows(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    pids?: ReadonlySet<number>,
  ): ProcessHistoryRow[] {
    if (host !== this.host) return [];
    const rows = [...this.pendingProcess.values(), ...(this.inFlight?.processes ?? [])];
    return rows.filter(
      (r) => r.tier === tier && r.tMs >= fromMs && r.tMs <= toMs && (pids === undefined || pids.has(r.pid)),
    );
  }

  /**
   * Where a tier's buckets may still change: the start of the bucket now is in, or the oldest row
   * of that tier not yet written (pending or in flight) when it is older. The cache keeps only
   * buckets that end before it.
   */
  private openFromMs(tier: number, table: 'system' | 'process', nowMs: number): number {
    const len = HISTORY_TIERS[tier]?.bucketMs ?? 0;
    let open = len > 0 ? Math.floor(nowMs / len) * len : nowMs;
    const rows =
      table === 'system'
        ? [this.pendingSystem.values(), this.inFlight?.system ?? []]
        : [this.pendingProcess.values(), this.inFlight?.processes ?? []];
    for (const list of rows) for (const r of list) if (r.tier === tier && r.tMs < open) open = r.tMs;
    return open;
  }

  /**
   * Every process instance's highest PSS over [fromMs, toMs] of one tier and its first and last
   * bucket there, as stored (HistoryStore.rankingSpans). On the hour tier, for this host, from the
   * cache: whole days and hours as kept, one row per instance and block, merged here.
   */
  private async storedSpans(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    cached: boolean,
    nowMs: number,
  ): Promise<ProcessSpanRow[]> {
    if (!cached || tier !== 2) return this.store.rankingSpans(host, tier, fromMs, toMs);
    const open = this.openFromMs(tier, 'process', nowMs);
    const oldestMs = await this.store.oldestMs(host, tier, 'history_process');
    const common = { tier, openFromMs: open, oldestMs };
    const rows = await this.cache.read<ProcessSpanRow>({
      ...common,
      family: 'rank-day',
      lenMs: DAY_MS,
      fromMs,
      toMs,
      bucketOf: (r) => Math.floor(r.firstMs / DAY_MS) * DAY_MS,
      readRun: (f, t) => this.store.rankingSpans(host, tier, f, t, { toExclusive: true, perMs: DAY_MS }),
      // The parts of days at the window's ends, by the hour.
      readRest: (f, t, inclusive) =>
        this.cache.read<ProcessSpanRow>({
          ...common,
          family: 'rank-hour',
          lenMs: HOUR_MS,
          fromMs: f,
          toMs: t,
          toExclusive: !inclusive,
          bucketOf: (r) => Math.floor(r.firstMs / HOUR_MS) * HOUR_MS,
          readRun: (f2, t2) => this.store.rankingSpans(host, tier, f2, t2, { toExclusive: true, perMs: HOUR_MS }),
          readRest: (f2, t2, inc2) => this.store.rankingSpans(host, tier, f2, t2, { toExclusive: !inc2 }),
        }),
    });
    const byInst = new Map<string, ProcessSpanRow>();
    for (const r of rows) {
      const k = instKey(r.pid, r.startTicks);
      const e = byInst.get(k);
      if (e === undefined) byInst.set(k, { ...r });
      else {
        e.pssMaxKib = Math.max(e.pssMaxKib, r.pssMaxKib);
        e.firstMs = Math.min(e.firstMs, r.firstMs);
        e.lastMs = Math.max(e.lastMs, r.lastMs);
      }
    }
    return [...byInst.values()];
  }

  /**
   * The `limit` process instances of highest PSS over a window, each with its first and last
   * bucket: the stored figures (aggregated by the database), then the rows not yet written merged
   * in, as the rows themselves would merge (a bucket's mean weighted by its samples). The ends are
   * read for those instances only.
   */
  private async ranking(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    limit: number,
    cached: boolean,
    nowMs: number,
  ): Promise<Ranked[]> {
    const spans = new Map<string, { pid: number; startTicks: number; max: number; firstMs: number; lastMs: number }>();
    for (const r of await this.storedSpans(host, tier, fromMs, toMs, cached, nowMs))
      spans.set(instKey(r.pid, r.startTicks), {
        pid: r.pid,
        startTicks: r.startTicks,
        max: r.pssMaxKib,
        firstMs: r.firstMs,
        lastMs: r.lastMs,
      });
    const pending = this.pendingProcessRows(host, tier, fromMs, toMs);
    for (const r of pending) {
      const e = spans.get(instKey(r.pid, r.startTicks));
      if (e === undefined)
        spans.set(instKey(r.pid, r.startTicks), {
          pid: r.pid,
          startTicks: r.startTicks,
          max: r.pssMaxKib,
          firstMs: r.tMs,
          lastMs: r.tMs,
        });
      else {
        e.max = Math.max(e.max, r.pssMaxKib);
        e.firstMs = Math.min(e.firstMs, r.tMs);
        e.lastMs = Math.max(e.lastMs, r.tMs);
      }
    }
    const top = [...spans.values()]
      .sort((a, b) => b.max - a.max || a.pid - b.pid || a.startTicks - b.startTicks)
      .slice(0, limit);
    const endKey = (tMs: number, pid: number, startTicks: number): string => `${tMs}|${instKey(pid, startTicks)}`;
    const ends = new Map<string, BucketMean | null>();
    for (const p of top) for (const tMs of [p.firstMs, p.lastMs]) ends.set(endKey(tMs, p.pid, p.startTicks), null);
    const stored = await this.store.bucketMeans(
      host,
      tier,
      top.flatMap((p) => [p.firstMs, p.lastMs].map((tMs) => ({ pid: p.pid, startTicks: p.startTicks, tMs }))),
    );
    for (const m of stored)
      ends.set(endKey(m.tMs, m.pid, m.startTicks), { tMs: m.tMs, pssAvgKib: m.pssAvgKib, n: m.n });
    // The pending rows as they are after that read: a batch committed meanwhile is in the stored
    // means and no longer pending, so none of it is counted twice.
    for (const r of this.pendingProcessRows(host, tier, fromMs, toMs)) {
      const k = endKey(r.tMs, r.pid, r.startTicks);
      if (!ends.has(k)) continue;
      const b: BucketMean = { tMs: r.tMs, pssAvgKib: r.pssAvgKib, n: r.n };
      const had = ends.get(k) ?? null;
      ends.set(k, had === null ? b : mergeBucketMean(had, b));
    }
    return top.map((p) => {
      const first = ends.get(endKey(p.firstMs, p.pid, p.startTicks)) ?? null;
      const last = ends.get(endKey(p.lastMs, p.pid, p.startTicks)) ?? null;
      // A span's ends are buckets the database or the pending rows hold; missing, it is a bug.
      assert(first !== null && last !== null, `history: no bucket at the ends of pid ${p.pid}'s span`);
      return { pid: p.pid, startTicks: p.startTicks, max: p.max, first, last };
    });
  }

  /** The stored rows and the pending ones, a bucket merged into one row. */
  private async processRows(host: string, tier: number, fromMs: number, toMs: number): Promise<ProcessHistoryRow[]> {
    const map = new Map<string, ProcessHistoryRow>();
    for (const r of await this.store.processes(host, tier, fromMs, toMs)) map.set(procKey(r), r);
    for (const r of this.pendingProcessRows(host, tier, fromMs, toMs)) mergeInto(map, procKey(r), r, mergeProcessRow);
    return [...map.values()].sort((a, b) => a.tMs - b.tMs);
  }

  /**
   * The PSS buckets of the given pids, stored and pending, merged into buckets of `bucketMs` (a
   * multiple of the tier's): the stored ones by the database, the pending ones here.
   */
  private async seriesRows(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    pids: readonly number[],
    bucketMs: number,
    cached: boolean,
    nowMs: number,
  ): Promise<PssBucketRow[]> {
    // One tier throughout: a bucket is known by its time and process instance.
    const key = (r: PssBucketRow): string => `${r.tMs}|${instKey(r.pid, r.startTicks)}`;
    const map = new Map<string, PssBucketRow>();
    let stored: PssBucketRow[];
    if (cached) {
      const openFromMs = this.openFromMs(tier, 'process', nowMs);
      const oldestMs = await this.store.oldestMs(host, tier, 'history_process');
      stored = [];
      for (const pid of new Set(pids))
        stored.push(
          ...(await this.cache.read<PssBucketRow>({
            family: `line|${tier}|${bucketMs}|${pid}`,
            tier,
            lenMs: bucketMs,
            fromMs,
            toMs,
            openFromMs,
            oldestMs,
            bucketOf: (r) => Math.floor(r.tMs / bucketMs) * bucketMs,
            readRun: (f, t) => this.store.pssSeries(host, tier, f, t, [pid], bucketMs, { toExclusive: true }),
            readRest: (f, t, inclusive) =>
              this.store.pssSeries(host, tier, f, t, [pid], bucketMs, { toExclusive: !inclusive }),
          })),
        );
    } else stored = await this.store.pssSeries(host, tier, fromMs, toMs, pids, bucketMs);
    for (const r of stored) map.set(key(r), r);
    for (const r of this.pendingProcessRows(host, tier, fromMs, toMs, new Set(pids))) {
      const t = Math.floor(r.tMs / bucketMs) * bucketMs;
      const row: PssBucketRow = {
        tMs: t,
        pid: r.pid,
        startTicks: r.startTicks,
        n: r.n,
        pssAvgKib: r.pssAvgKib,
        pssMinKib: r.pssMinKib,
        pssMaxKib: r.pssMaxKib,
      };
      mergeInto<PssBucketRow>(map, key(row), row, mergePssBucket);
    }
    return [...map.values()];
  }

  /**
   * The tier for a window: the coarsest whose buckets are not wider than a point, and that still
   * holds `fromMs`; then coarser while the window would read more than MAX_BUCKETS_PER_SERIES of
   * its buckets. A 7-day window at 800 points asks for 12.6-minute points, which the minute tier
   * fits, but that is 10,080 rows for each category and each of hundreds of processes (about
   * 150,000 rows for the Timeline of a busy machine); the hour tier holds 168 a series.
   */
  static chooseTier(fromMs: number, toMs: number, points: number, retention: HistoryRetention, nowMs: number): number {
    const desired = (toMs - fromMs) / points;
    let tier = 0;
    for (const t of HISTORY_TIERS) if (t.bucketMs <= desired) tier = t.tier;
    for (;;) {
      const next = HISTORY_TIERS[tier + 1];
      const bucketMs = HISTORY_TIERS[tier]?.bucketMs ?? 0;
      if (next === undefined || bucketMs === 0 || (toMs - fromMs) / bucketMs <= MAX_BUCKETS_PER_SERIES) break;
      tier = next.tier;
    }
    while (tier < 2 && fromMs < nowMs - tierRetentionMs(retention, tier)) tier++;
    return tier;
  }

  /**
   * A window of the history for the timeline. This host's windows keep their complete buckets in
   * the cache (`cached`: false reads everything from the database, as the tests compare).
   */
  async window(
    q: HistoryWindowQuery,
    nowMs = this.opts.nowMs?.() ?? Date.now(),
    opts: { cached?: boolean; prefetch?: boolean } = {},
  ): Promise<HistoryBody> {
    const host = q.host ?? this.host;
    const local = host === this.host;
    const cached = local && opts.cached !== false;
    const toMs = q.toMs ?? nowMs;
    let fromMs = q.fromMs ?? toMs - 3_600_000;
    if (fromMs >= toMs) fromMs = toMs - 60_000;
    const points = q.points ?? 800;
    const span = toMs - fromMs;
    const tier = HistoryRecorder.chooseTier(fromMs, toMs, points, this.opts.retention, nowMs);
    const tierInfo = HISTORY_TIERS[tier] ?? HISTORY_TIERS[0];
    const tierBucket = tierInfo?.bucketMs ?? 0;
    // A bucket that began before the window still describes part of it.
    const lo = tierBucket > 0 ? Math.floor(fromMs / tierBucket) * tierBucket : fromMs;

    // The system's categories, merged to the output's buckets: only when the window holds more
    // buckets than the chart can show, and then by the database (the rows not yet written are
    // merged in below). A tier of buckets holds at most one time per bucket, so the count is
    // asked only where it could pass the points.
    let bucket = tierBucket;
    const sysOpen = cached ? this.openFromMs(tier, 'system', nowMs) : 0;
    const sysOldest = cached ? await this.store.oldestMs(host, tier) : null;
    if (tierBucket === 0 || span / tierBucket + 1 > points) {
      const stored = cached
        ? await this.cachedSystemTimes(host, tier, lo, toMs, sysOpen, sysOldest)
        : await this.store.systemTimes(host, tier, lo, toMs);
      const pendingNow = this.pendingSystemRows(host, tier, lo, toMs);
      const later = new Set(
        pendingNow.filter((r) => stored.lastMs === null || r.tMs > stored.lastMs).map((r) => r.tMs),
      );
      if (stored.count + later.size > points) bucket = outputBucketMs(tierBucket, span, points);
    }
    // Merged (bucket wider than the tier's) or as stored; either way, kept by buckets of `bucket`.
    const readSys = (f: number, t: number, toExclusive: boolean): Promise<SystemHistoryRow[]> =>
      this.store.systemBuckets(host, tier, f, t, bucket === tierBucket ? 0 : bucket, { toExclusive });
    const sys =
      cached && bucket > 0
        ? await this.cache.read<SystemHistoryRow>({
            family: `sys|${tier}|${bucket}`,
            tier,
            lenMs: bucket,
            fromMs: lo,
            toMs,
            openFromMs: sysOpen,
            oldestMs: sysOldest,
            bucketOf: (r) => Math.floor(r.tMs / bucket) * bucket,
            readRun: (f, t) => readSys(f, t, true),
            readRest: (f, t, inclusive) => readSys(f, t, !inclusive),
          })
        : await readSys(lo, toMs, false);
    // Read after the stored rows, as a batch leaves the pending rows only once it is committed.
    const pending = this.pendingSystemRows(host, tier, lo, toMs);
    const keys = local ? [...this.labels.keys()] : [];
    for (const r of sys) if (!keys.includes(r.category)) keys.push(r.category);
    const index = new Map(keys.map((k, i) => [k, i]));
    const merged = new Map<number, Map<string, SystemHistoryRow>>();
    for (const r of [...sys, ...pending]) {
      const t = bucket === 0 ? r.tMs : Math.floor(r.tMs / bucket) * bucket;
      let m = merged.get(t);
      if (m === undefined) merged.set(t, (m = new Map<string, SystemHistoryRow>()));
      mergeInto(m, r.category, r.tMs === t ? r : { ...r, tMs: t }, mergeSystemRow);
    }
    const points_ = [...merged.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([tMs, m]) => {
        const avg = keys.map(() => null as number | null);
        const min = [...avg];
        const max = [...avg];
        for (const [cat, r] of m) {
          const i = index.get(cat);
          if (i === undefined) continue;
          avg[i] = r.avgKib * 1024;
          min[i] = r.minKib * 1024;
          max[i] = r.maxKib * 1024;
        }
        return { tMs, avg, min, max };
      });

    // The processes: ranked on a coarse tier, drawn from the tier that fits.
    const procTier = Math.max(1, tier);
    const procBucket = HISTORY_TIERS[procTier]?.bucketMs ?? 60_000;
    const rankTier = span >= RANK_ON_HOURS_MS ? 2 : procTier;
    const rankBucket = HISTORY_TIERS[rankTier]?.bucketMs ?? 60_000;
    const top = await this.ranking(
      host,
      rankTier,
      Math.floor(fromMs / rankBucket) * rankBucket,
      toMs,
      RANKED,
      cached,
      nowMs,
    );
    const wanted = q.pids ?? top.slice(0, DEFAULT_SERIES).map((p) => ({ pid: p.pid, startTicks: p.startTicks }));
    const names = await this.namesOf(host, [...top, ...wanted]);
    const nameOf = (pid: number, st: number): string => names.get(instKey(pid, st)) ?? `pid ${pid}`;
    const processes: HistoryProcess[] = top.map((p) => ({
      pid: p.pid,
      startTicks: p.startTicks,
      name: nameOf(p.pid, p.startTicks),
      maxPssBytes: p.max * 1024,
      firstPssBytes: p.first.pssAvgKib * 1024,
      lastPssBytes: p.last.pssAvgKib * 1024,
    }));

    const seriesBucket = outputBucketMs(procBucket, span, Math.max(10, Math.floor(points / 2)));
    const wantedKeys = new Set(wanted.map((w) => instKey(w.pid, w.startTicks)));
    const seriesRows = await this.seriesRows(
      host,
      procTier,
      Math.floor(fromMs / procBucket) * procBucket,
      toMs,
      wanted.map((w) => w.pid),
      seriesBucket,
      cached,
      nowMs,
    );
    const byInst = new Map<string, Map<string, PssBucketRow>>();
    for (const r of seriesRows) {
      const k = instKey(r.pid, r.startTicks);
      if (!wantedKeys.has(k)) continue;
      let m = byInst.get(k);
      if (m === undefined) byInst.set(k, (m = new Map<string, PssBucketRow>()));
      mergeInto<PssBucketRow>(m, String(r.tMs), r, mergePssBucket);
    }
    const series: HistorySeries[] = wanted.map((w) => {
      const m = byInst.get(instKey(w.pid, w.startTicks));
      const pts =
        m === undefined
          ? []
          : [...m.values()]
              .sort((a, b) => a.tMs - b.tMs)
              .map((r): [number, number, number, number] => [
                r.tMs,
                r.pssAvgKib * 1024,
                r.pssMinKib * 1024,
                r.pssMaxKib * 1024,
              ]);
      return { pid: w.pid, startTicks: w.startTicks, name: nameOf(w.pid, w.startTicks), points: pts };
    });

    const oldestStored = cached && tier === 2 ? sysOldest : await this.store.oldestMs(host, 2);
    const oldestPending = local ? Math.min(...[...this.pendingSystem.values()].map((r) => r.tMs)) : Infinity;
    const oldestMs = oldestStored ?? (Number.isFinite(oldestPending) ? oldestPending : null);
    // A window that follows now (its end within a minute of it): the others are likely next.
    if (cached && opts.prefetch !== false && Math.abs(toMs - nowMs) < 60_000) this.prefetch(points);
    return {
      type: 'history',
      v,
      host,
      fromMs,
      toMs,
      tier: tierInfo?.label ?? 'every sample',
      bucketMs: bucket,
      categories: keys.map((k) => ({ key: k, name: this.labels.get(k) ?? k })),
      points: points_,
      processes,
      series,
      seriesBucketMs: seriesBucket,
      oldestMs,
    };
  }

  /** HistoryStore.systemTimes from blocks of an hour (a day on the hour tier), the complete ones kept. */
  private async cachedSystemTimes(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    openFromMs: number,
    oldestMs: number | null,
  ): Promise<{ count: number; lastMs: number | null }> {
    const lenMs = tier === 2 ? DAY_MS : HOUR_MS;
    const blocks = await this.cache.read<{ tMs: number; count: number; lastMs: number }>({
      family: `times|${tier}`,
      tier,
      lenMs,
      fromMs,
      toMs,
      openFromMs,
      oldestMs,
      bucketOf: (r) => r.tMs,
      readRun: (f, t) => this.store.systemTimesPer(host, tier, f, t, lenMs, { toExclusive: true }),
      readRest: (f, t, inclusive) => this.store.systemTimesPer(host, tier, f, t, lenMs, { toExclusive: !inclusive }),
    });
    let count = 0;
    let lastMs: number | null = null;
    for (const b of blocks) {
      count += b.count;
      lastMs = lastMs === null ? b.lastMs : Math.max(lastMs, b.lastMs);
    }
    return { count, lastMs };
  }

  private async namesOf(
    host: string,
    insts: readonly { pid: number; startTicks: number }[],
  ): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: number[] = [];
    for (const p of insts) {
      const k = instKey(p.pid, p.startTicks);
      const n = host === this.host ? (this.liveNames.get(k) ?? this.pendingNames.get(k)?.name) : undefined;
      if (n !== undefined) out.set(k, n);
      else missing.push(p.pid);
    }
    if (missing.length > 0)
      for (const r of await this.store.names(host, missing))
        if (!out.has(instKey(r.pid, r.startTicks))) out.set(instKey(r.pid, r.startTicks), r.name);
    return out;
  }

  /** Every process's mean PSS per minute since `sinceMs`, oldest first: the seed of in-memory histories. */
  async recentProcessPss(
    sinceMs: number,
  ): Promise<{ tMs: number; pid: number; startTicks: number; pssBytes: number }[]> {
    const rows = await this.processRows(this.host, 1, Math.floor(sinceMs / 60_000) * 60_000, Number.MAX_SAFE_INTEGER);
    return rows.map((r) => ({ tMs: r.tMs, pid: r.pid, startTicks: r.startTicks, pssBytes: r.pssAvgKib * 1024 }));
  }
}
