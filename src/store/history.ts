// The /proc history of `memlens serve` in the event store: the ledger's categories and the
// per-process PSS/RSS/USS/swap, downsampled in tiers as Netdata's dbengine does (a fine tier kept
// briefly, coarser tiers longer): tier 0 holds every sample of the categories, tier 1 one bucket a
// minute, tier 2 one bucket an hour. Processes start at tier 1: a row per process per 10-second
// sample would be 2.6 million rows a day for 300 processes, over 140 MB a day on SQLite even
// without ROWID (measured with bench/serve/history.ts), while the minute buckets cost under
// 30 MB a day and keep each minute's lowest, highest and mean PSS.
//
// Every sample is merged into its minute and hour buckets by the writer (history-recorder.ts) and
// reaches the database as an upsert that merges again with what the row holds: a bucket written
// in parts (a flush every few seconds, a restart within the minute) ends up as if written once.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { assert } from '../base/assert.js';
import { dbToNumber, dbToNumberOrNull } from './int64.js';
import type { Dialect, Int64Out, StoreDatabase } from './schema.js';

export interface HistoryTier {
  tier: number;
  /** Bucket length; 0 = every sample as it came. */
  bucketMs: number;
  label: string;
}

export const HISTORY_TIERS: readonly HistoryTier[] = [
  { tier: 0, bucketMs: 0, label: 'every sample' },
  { tier: 1, bucketMs: 60_000, label: '1 minute' },
  { tier: 2, bucketMs: 3_600_000, label: '1 hour' },
];
/** The tiers that hold processes. */
export const PROCESS_TIERS: readonly HistoryTier[] = HISTORY_TIERS.filter((t) => t.tier >= 1);

export interface SystemHistoryRow {
  host: string;
  tier: number;
  tMs: number;
  category: string;
  n: number;
  avgKib: number;
  minKib: number;
  maxKib: number;
}

/** A process's PSS in one bucket: what a Timeline series draws. */
export interface PssBucketRow {
  tMs: number;
  pid: number;
  startTicks: number;
  n: number;
  pssAvgKib: number;
  pssMinKib: number;
  pssMaxKib: number;
}

export interface ProcessHistoryRow extends PssBucketRow {
  host: string;
  tier: number;
  rssKib: number | null;
  ussKib: number | null;
  swapKib: number | null;
}

/** One bucket's mean PSS and how many samples it merged. */
export interface BucketMean {
  tMs: number;
  pssAvgKib: number;
  n: number;
}

/** A process instance over a window: what the Timeline ranks it by, and where its span ends. */
export interface ProcessSpanRow {
  pid: number;
  startTicks: number;
  pssMaxKib: number;
  firstMs: number;
  lastMs: number;
}

export interface ProcessNameRow {
  host: string;
  pid: number;
  startTicks: number;
  name: string;
  firstMs: number;
  lastMs: number;
}

export interface HistoryBatch {
  system: readonly SystemHistoryRow[];
  processes: readonly ProcessHistoryRow[];
  names: readonly ProcessNameRow[];
}

/** How long each tier is kept. */
export interface HistoryRetention {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}

export const DEFAULT_HISTORY_RETENTION: HistoryRetention = {
  rawMs: 86_400_000,
  minuteMs: 30 * 86_400_000,
  hourMs: 400 * 86_400_000,
};

export function tierRetentionMs(r: HistoryRetention, tier: number): number {
  return tier === 0 ? r.rawMs : tier === 1 ? r.minuteMs : r.hourMs;
}

/** The mean of two buckets' means, weighted by their sample counts, rounded down as the SQL is. */
function meanOf(a: number, an: number, b: number, bn: number): number {
  return Math.floor((a * an + b * bn) / (an + bn));
}

/** Merges bucket b (later) into a: the same rule as the upsert's SQL. */
export function mergeSystemRow(a: SystemHistoryRow, b: SystemHistoryRow): SystemHistoryRow {
  return {
    ...a,
    avgKib: meanOf(a.avgKib, a.n, b.avgKib, b.n),
    minKib: Math.min(a.minKib, b.minKib),
    maxKib: Math.max(a.maxKib, b.maxKib),
    n: a.n + b.n,
  };
}

/** Merges the PSS of bucket b (later) into a: the same rule as the upsert's SQL. */
export function mergePssBucket<T extends PssBucketRow>(a: T, b: PssBucketRow): T {
  return {
    ...a,
    pssAvgKib: meanOf(a.pssAvgKib, a.n, b.pssAvgKib, b.n),
    pssMinKib: Math.min(a.pssMinKib, b.pssMinKib),
    pssMaxKib: Math.max(a.pssMaxKib, b.pssMaxKib),
    n: a.n + b.n,
  };
}

/** Merges process bucket b (later) into a: PSS as above, the other figures as last read. */
export function mergeProcessRow(a: ProcessHistoryRow, b: ProcessHistoryRow): ProcessHistoryRow {
  return {
    ...mergePssBucket(a, b),
    rssKib: b.rssKib ?? a.rssKib,
    ussKib: b.ussKib ?? a.ussKib,
    swapKib: b.swapKib ?? a.swapKib,
  };
}

/** Two parts of one bucket's mean, merged as the database merges them. */
export function mergeBucketMean(a: BucketMean, b: BucketMean): BucketMean {
  return { tMs: a.tMs, pssAvgKib: meanOf(a.pssAvgKib, a.n, b.pssAvgKib, b.n), n: a.n + b.n };
}

/**
 * The end of a range of bucket times: `t_ms <= toMs` (the window's end, as asked), or
 * `t_ms < toMs` when `toExclusive` (a run of whole buckets, as the Timeline's cache reads them).
 */
export interface RangeEnd {
  toExclusive?: boolean;
}

// Rows per INSERT: 12 parameters a row stays far below SQLite's 32,766 and MySQL's packet limit.
const ROWS_PER_INSERT = 500;

export class HistoryStore {
  constructor(
    private readonly db: Kysely<StoreDatabase>,
    private readonly dialect: Dialect,
  ) {}

  /** The new value of an upserted row's column (SQLite: excluded.c, MySQL: VALUES(c)). */
  private ex<T>(column: string): RawBuilder<T> {
    return this.dialect === 'sqlite' ? sql.raw<T>(`excluded.${column}`) : sql.raw<T>(`VALUES(${column})`);
  }

  private merged(): {
    mean: (c: string) => RawBuilder<number>;
    lo: (c: string) => RawBuilder<number>;
    hi: (c: string) => RawBuilder<number>;
    last: (c: string) => RawBuilder<number | null>;
    n: RawBuilder<number>;
  } {
    const sqlite = this.dialect === 'sqlite';
    const ex = (c: string): string => (sqlite ? `excluded.${c}` : `VALUES(${c})`);
    const div = sqlite ? '/' : 'DIV';
    return {
      mean: (c) => sql.raw<number>(`(${c} * n + ${ex(c)} * ${ex('n')}) ${div} (n + ${ex('n')})`),
      lo: (c) => sql.raw<number>(`${sqlite ? 'min' : 'least'}(${c}, ${ex(c)})`),
      hi: (c) => sql.raw<number>(`${sqlite ? 'max' : 'greatest'}(${c}, ${ex(c)})`),
      last: (c) => sql.raw<number | null>(`coalesce(${ex(c)}, ${c})`),
      n: sql.raw<number>(`n + ${ex('n')}`),
    };
  }

  /** Writes a batch in one transaction: every row merged with the bucket the database holds. */
  async write(batch: HistoryBatch): Promise<void> {
    if (batch.system.length === 0 && batch.processes.length === 0 && batch.names.length === 0) return;
    const m = this.merged();
    // MySQL applies ON DUPLICATE KEY UPDATE assignments left to right, each seeing the ones before
    // (https://dev.mysql.com/doc/refman/8.0/en/insert-on-duplicate.html): n, which the means read,
    // is assigned last. SQLite's DO UPDATE reads the old row throughout.
    const systemSet = { avg_kib: m.mean('avg_kib'), min_kib: m.lo('min_kib'), max_kib: m.hi('max_kib'), n: m.n };
    const processSet = {
      pss_avg_kib: m.mean('pss_avg_kib'),
      pss_min_kib: m.lo('pss_min_kib'),
      pss_max_kib: m.hi('pss_max_kib'),
      rss_kib: m.last('rss_kib'),
      uss_kib: m.last('uss_kib'),
      swap_kib: m.last('swap_kib'),
      n: m.n,
    };
    const namesSet = { name: this.ex<string>('name'), last_ms: m.hi('last_ms') };
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < batch.system.length; i += ROWS_PER_INSERT) {
        const values = batch.system.slice(i, i + ROWS_PER_INSERT).map((r) => ({
          host: r.host,
          tier: r.tier,
          t_ms: r.tMs,
          category: r.category,
          n: r.n,
          avg_kib: r.avgKib,
          min_kib: r.minKib,
          max_kib: r.maxKib,
        }));
        const q = trx.insertInto('history_system').values(values);
        await (
          this.dialect === 'sqlite'
            ? q.onConflict((oc) => oc.columns(['host', 'tier', 't_ms', 'category']).doUpdateSet(systemSet))
            : q.onDuplicateKeyUpdate(systemSet)
        ).execute();
      }
      for (let i = 0; i < batch.processes.length; i += ROWS_PER_INSERT) {
        const values = batch.processes.slice(i, i + ROWS_PER_INSERT).map((r) => ({
          host: r.host,
          tier: r.tier,
          t_ms: r.tMs,
          pid: r.pid,
          start_ticks: r.startTicks,
          n: r.n,
          pss_avg_kib: r.pssAvgKib,
          pss_min_kib: r.pssMinKib,
          pss_max_kib: r.pssMaxKib,
          rss_kib: r.rssKib,
          uss_kib: r.ussKib,
          swap_kib: r.swapKib,
        }));
        const q = trx.insertInto('history_process').values(values);
        await (
          this.dialect === 'sqlite'
            ? q.onConflict((oc) => oc.columns(['host', 'tier', 't_ms', 'pid', 'start_ticks']).doUpdateSet(processSet))
            : q.onDuplicateKeyUpdate(processSet)
        ).execute();
      }
      for (let i = 0; i < batch.names.length; i += ROWS_PER_INSERT) {
        const values = batch.names.slice(i, i + ROWS_PER_INSERT).map((r) => ({
          host: r.host,
          pid: r.pid,
          start_ticks: r.startTicks,
          name: r.name.slice(0, 64),
          first_ms: r.firstMs,
          last_ms: r.lastMs,
        }));
        const q = trx.insertInto('history_names').values(values);
        await (
          this.dialect === 'sqlite'
            ? q.onConflict((oc) => oc.columns(['host', 'pid', 'start_ticks']).doUpdateSet(namesSet))
            : q.onDuplicateKeyUpdate(namesSet)
        ).execute();
      }
    });
  }

  /** The categories' rows of one tier in [fromMs, toMs], oldest first. */
  async system(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    end: RangeEnd = {},
  ): Promise<SystemHistoryRow[]> {
    const rows = await this.db
      .selectFrom('history_system')
      .select(['t_ms', 'category', 'n', 'avg_kib', 'min_kib', 'max_kib'])
      .where('host', '=', host)
      .where('tier', '=', tier)
      .where('t_ms', '>=', Math.floor(fromMs))
      .where('t_ms', end.toExclusive === true ? '<' : '<=', Math.ceil(toMs))
      .orderBy('t_ms')
      .execute();
    return rows.map((r) => ({
      host,
      tier,
      tMs: dbToNumber(r.t_ms),
      category: r.category,
      n: dbToNumber(r.n),
      avgKib: dbToNumber(r.avg_kib),
      minKib: dbToNumber(r.min_kib),
      maxKib: dbToNumber(r.max_kib),
    }));
  }

  /**
   * How many distinct bucket times one tier holds in [fromMs, toMs], and the latest: whether a
   * window needs its buckets merged to fit the chart, decided without reading the rows.
   */
  async systemTimes(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
  ): Promise<{ count: number; lastMs: number | null }> {
    const r = await this.db
      .selectFrom('history_system')
      .select((eb) => [eb.fn.count<Int64Out>('t_ms').distinct().as('count'), eb.fn.max<Int64Out>('t_ms').as('last')])
      .where('host', '=', host)
      .where('tier', '=', tier)
      .where('t_ms', '>=', Math.floor(fromMs))
      .where('t_ms', '<=', Math.ceil(toMs))
      .executeTakeFirstOrThrow();
    return { count: dbToNumber(r.count), lastMs: dbToNumberOrNull(r.last) };
  }

  /**
   * systemTimes for each block of `perMs` (keyed by its start) of [fromMs, toMs]: a window's count
   * is the sum over its blocks, each block's count kept once complete.
   */
  async systemTimesPer(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    perMs: number,
    end: RangeEnd = {},
  ): Promise<{ tMs: number; count: number; lastMs: number }[]> {
    assert(Number.isSafeInteger(perMs) && perMs > 0, `history: block ${perMs} ms is not an integer`);
    const div = this.dialect === 'sqlite' ? '/' : 'DIV';
    const rows = await this.db
      .selectFrom('history_system')
      .select((eb) => [
        sql.raw<Int64Out>(`(t_ms ${div} ${perMs}) * ${perMs}`).as('t'),
        eb.fn.count<Int64Out>('t_ms').distinct().as('count'),
        eb.fn.max<Int64Out>('t_ms').as('last'),
      ])
      .where('host', '=', host)
      .where('tier', '=', tier)
      .where('t_ms', '>=', Math.floor(fromMs))
      .where('t_ms', end.toExclusive === true ? '<' : '<=', Math.ceil(toMs))
      .groupBy(sql`t`)
      .execute();
    return rows.map((r) => ({ tMs: dbToNumber(r.t), count: dbToNumber(r.count), lastMs: dbToNumber(r.last) }));
  }

  /**
   * The categories' rows of one tier in [fromMs, toMs] merged by the database into buckets of
   * `bucketMs` (each keyed by its start, a multiple of `bucketMs`), oldest first; merged as
   * mergeSystemRow merges (the mean weighted by sample counts, rounded down). A day of the minute
   * tier is 13,000 rows of nine categories and six hours of samples 19,000: built as one object
   * each and merged in JavaScript they cost the server about 85 ms of a window's 300, where the
   * 700 merged rows a chart draws cost a few.
   */
  async systemBuckets(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    bucketMs: number,
    end: RangeEnd = {},
  ): Promise<SystemHistoryRow[]> {
    if (bucketMs <= 0) return this.system(host, tier, fromMs, toMs, end);
    // Written into the SQL text, not bound: SQLite divides integers only when both are integers,
    // and a bound JavaScript number may arrive as a REAL.
    assert(Number.isSafeInteger(bucketMs), `history: bucket ${bucketMs} ms is not an integer`);
    const div = this.dialect === 'sqlite' ? '/' : 'DIV';
    const start = sql.raw<Int64Out>(`(t_ms ${div} ${bucketMs}) * ${bucketMs}`);
    const rows = await this.db
      .selectFrom('history_system')
      .select((eb) => [
        start.as('t'),
        'category',
        eb.fn.sum<Int64Out>('n').as('n'),
        sql<Int64Out>`sum(avg_kib * n) ${sql.raw(div)} sum(n)`.as('avg_kib'),
        eb.fn.min<Int64Out>('min_kib').as('min_kib'),
        eb.fn.max<Int64Out>('max_kib').as('max_kib'),
      ])
      .where('host', '=', host)
      .where('tier', '=', tier)
      .where('t_ms', '>=', Math.floor(fromMs))
      .where('t_ms', end.toExclusive === true ? '<' : '<=', Math.ceil(toMs))
      .groupBy([sql`t`, 'category'])
      .orderBy(sql`t`)
      .execute();
    return rows.map((r) => ({
      host,
      tier,
      tMs: dbToNumber(r.t),
      category: r.category,
      n: dbToNumber(r.n),
      avgKib: dbToNumber(r.avg_kib),
      minKib: dbToNumber(r.min_kib),
      maxKib: dbToNumber(r.max_kib),
    }));
  }

  /** Every process's rows of one tier in [fromMs, toMs], oldest first. */
  async processes(host: string, tier: number, fromMs: number, toMs: number): Promise<ProcessHistoryRow[]> {
    const rows = await this.db
      .selectFrom('history_process')
      .select([
        't_ms',
        'pid',
        'start_ticks',
        'n',
        'pss_avg_kib',
        'pss_min_kib',
        'pss_max_kib',
        'rss_kib',
        'uss_kib',
        'swap_kib',
      ])
      .where('host', '=', host)
      .where('tier', '=', tier)
      .where('t_ms', '>=', Math.floor(fromMs))
      .where('t_ms', '<=', Math.ceil(toMs))
      .orderBy('t_ms')
      .execute();
    return rows.map((r) => ({
      host,
      tier,
      tMs: dbToNumber(r.t_ms),
      pid: dbToNumber(r.pid),
      startTicks: dbToNumber(r.start_ticks),
      n: dbToNumber(r.n),
      pssAvgKib: dbToNumber(r.pss_avg_kib),
      pssMinKib: dbToNumber(r.pss_min_kib),
      pssMaxKib: dbToNumber(r.pss_max_kib),
      rssKib: dbToNumberOrNull(r.rss_kib),
      ussKib: dbToNumberOrNull(r.uss_kib),
      swapKib: dbToNumberOrNull(r.swap_kib),
    }));
  }

  /**
   * The PSS buckets of the given pids (every instance of each) in [fromMs, toMs] of one tier,
   * merged into buckets of `bucketMs` when it is wider than the tier's (each keyed by its start;
   * merged as mergePssBucket merges). One query per pid, each a range of the index by process,
   * which holds the PSS figures (a covering index): asked for several pids at once, SQLite read
   * the whole window of every process through the primary key instead, 0.2–0.5 s for a day of 300
   * processes where this takes 20–40 ms. A day of six processes is 8,600 minute rows, which the
   * database merges into the 1,700 the lines draw.
   */
  async pssSeries(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    pids: readonly number[],
    bucketMs = 0,
    end: RangeEnd = {},
  ): Promise<PssBucketRow[]> {
    const tierBucketMs = HISTORY_TIERS[tier]?.bucketMs ?? 0;
    const merge = bucketMs > tierBucketMs;
    assert(Number.isSafeInteger(bucketMs), `history: bucket ${bucketMs} ms is not an integer`);
    const div = this.dialect === 'sqlite' ? '/' : 'DIV';
    const out: PssBucketRow[] = [];
    for (const pid of new Set(pids)) {
      const range = this.db
        .selectFrom('history_process')
        .where('host', '=', host)
        .where('tier', '=', tier)
        .where('pid', '=', pid)
        .where('t_ms', '>=', Math.floor(fromMs))
        .where('t_ms', end.toExclusive === true ? '<' : '<=', Math.ceil(toMs));
      const rows = merge
        ? await range
            .select((eb) => [
              // Written into the SQL text, as in systemBuckets.
              sql.raw<Int64Out>(`(t_ms ${div} ${bucketMs}) * ${bucketMs}`).as('t_ms'),
              'start_ticks',
              eb.fn.sum<Int64Out>('n').as('n'),
              sql<Int64Out>`sum(pss_avg_kib * n) ${sql.raw(div)} sum(n)`.as('pss_avg_kib'),
              eb.fn.min<Int64Out>('pss_min_kib').as('pss_min_kib'),
              eb.fn.max<Int64Out>('pss_max_kib').as('pss_max_kib'),
            ])
            .groupBy([sql`1`, 'start_ticks'])
            .execute()
        : await range.select(['t_ms', 'start_ticks', 'n', 'pss_avg_kib', 'pss_min_kib', 'pss_max_kib']).execute();
      for (const r of rows)
        out.push({
          tMs: dbToNumber(r.t_ms),
          pid,
          startTicks: dbToNumber(r.start_ticks),
          n: dbToNumber(r.n),
          pssAvgKib: dbToNumber(r.pss_avg_kib),
          pssMinKib: dbToNumber(r.pss_min_kib),
          pssMaxKib: dbToNumber(r.pss_max_kib),
        });
    }
    return out;
  }

  /**
   * Each process instance's highest PSS over [fromMs, toMs] of one tier and the times of its first
   * and last bucket there, computed by the database: what the Timeline ranks processes by. Reading
   * every row of the window instead (50,400 rows for 7 days of 300 processes on the hour tier)
   * cost 0.5–1.5 s of the server's thread, most of it in building and collecting the row objects.
   */
  async rankingSpans(
    host: string,
    tier: number,
    fromMs: number,
    toMs: number,
    opts: RangeEnd & {
      /** Spans within each block of this length (keyed by the block's start): what the cache keeps. */
      perMs?: number;
    } = {},
  ): Promise<ProcessSpanRow[]> {
    const perMs = opts.perMs ?? 0;
    assert(Number.isSafeInteger(perMs), `history: block ${perMs} ms is not an integer`);
    const div = this.dialect === 'sqlite' ? '/' : 'DIV';
    const grouped = ['pid', 'start_ticks'] as const;
    const rows = await this.db
      .selectFrom('history_process')
      .select(['pid', 'start_ticks'])
      .select((eb) => [
        eb.fn.max<Int64Out>('pss_max_kib').as('max_kib'),
        eb.fn.min<Int64Out>('t_ms').as('first_ms'),
        eb.fn.max<Int64Out>('t_ms').as('last_ms'),
      ])
      .where('host', '=', host)
      .where('tier', '=', tier)
      .where('t_ms', '>=', Math.floor(fromMs))
      .where('t_ms', opts.toExclusive === true ? '<' : '<=', Math.ceil(toMs))
      // Written into the SQL text, as in systemBuckets.
      .groupBy(perMs > 0 ? [sql.raw(`t_ms ${div} ${perMs}`), ...grouped] : [...grouped])
      .execute();
    return rows.map((r) => ({
      pid: dbToNumber(r.pid),
      startTicks: dbToNumber(r.start_ticks),
      pssMaxKib: dbToNumber(r.max_kib),
      firstMs: dbToNumber(r.first_ms),
      lastMs: dbToNumber(r.last_ms),
    }));
  }

  /**
   * The mean PSS of the given buckets of one tier (those stored): the ends of the spans of the
   * processes a Timeline shows, read for those few only, one query per bucket time (most shown
   * processes share the window's first and last buckets): `t_ms = ? AND pid IN (…)`, a range of
   * the primary key. Reading both ends of every instance in the ranking's own statement
   * (correlated subqueries) cost four lookups for each of about 1,000 instances a day; one
   * statement with an OR of every bucket's key made SQLite, planning with the values unknown, read
   * the whole tier through the index by process; one query per instance was 40–80 queries.
   */
  async bucketMeans(
    host: string,
    tier: number,
    buckets: readonly { pid: number; startTicks: number; tMs: number }[],
  ): Promise<(BucketMean & { pid: number; startTicks: number })[]> {
    const byTime = new Map<number, Map<string, { pid: number; startTicks: number }>>();
    for (const b of buckets) {
      let m = byTime.get(b.tMs);
      if (m === undefined) byTime.set(b.tMs, (m = new Map<string, { pid: number; startTicks: number }>()));
      m.set(`${b.pid}:${b.startTicks}`, { pid: b.pid, startTicks: b.startTicks });
    }
    const out: (BucketMean & { pid: number; startTicks: number })[] = [];
    for (const [tMs, insts] of byTime) {
      const pids = [...new Set([...insts.values()].map((i) => i.pid))];
      for (let i = 0; i < pids.length; i += ROWS_PER_INSERT) {
        const rows = await this.db
          .selectFrom('history_process')
          .select(['pid', 'start_ticks', 'pss_avg_kib', 'n'])
          .where('host', '=', host)
          .where('tier', '=', tier)
          .where('t_ms', '=', tMs)
          .where('pid', 'in', pids.slice(i, i + ROWS_PER_INSERT))
          .execute();
        for (const r of rows) {
          const pid = dbToNumber(r.pid);
          const startTicks = dbToNumber(r.start_ticks);
          if (!insts.has(`${pid}:${startTicks}`)) continue;
          out.push({ tMs, pid, startTicks, pssAvgKib: dbToNumber(r.pss_avg_kib), n: dbToNumber(r.n) });
        }
      }
    }
    return out;
  }

  /** Names of the given process instances (pids; the caller matches the start). */
  async names(host: string, pids: readonly number[]): Promise<ProcessNameRow[]> {
    const out: ProcessNameRow[] = [];
    const unique = [...new Set(pids)];
    for (let i = 0; i < unique.length; i += ROWS_PER_INSERT) {
      const rows = await this.db
        .selectFrom('history_names')
        .selectAll()
        .where('host', '=', host)
        .where('pid', 'in', unique.slice(i, i + ROWS_PER_INSERT))
        .execute();
      for (const r of rows)
        out.push({
          host,
          pid: dbToNumber(r.pid),
          startTicks: dbToNumber(r.start_ticks),
          name: r.name,
          firstMs: dbToNumber(r.first_ms),
          lastMs: dbToNumber(r.last_ms),
        });
    }
    return out;
  }

  /** The oldest bucket of a tier for a host (of the categories, or of the processes); null when the tier is empty. */
  async oldestMs(
    host: string,
    tier: number,
    table: 'history_system' | 'history_process' = 'history_system',
  ): Promise<number | null> {
    const r = await this.db
      .selectFrom(table)
      .select((eb) => eb.fn.min<Int64Out | null>('t_ms').as('m'))
      .where('host', '=', host)
      .where('tier', '=', tier)
      .executeTakeFirst();
    return r === undefined || r.m === null ? null : dbToNumber(r.m);
  }

  /**
   * Deletes each tier's rows older than its retention, for every host the history holds, an hour
   * (a day for the hour tier) per statement: a first run after a long pause deletes in steps
   * rather than in one statement that holds the database (SQLite: the only writer lock) for long.
   */
  async applyRetention(
    r: HistoryRetention,
    nowMs = Date.now(),
    extraHosts: readonly string[] = [],
  ): Promise<{ deletedRows: number }> {
    const hostRows = await this.db.selectFrom('history_names').select('host').distinct().execute();
    const hosts = [...new Set([...hostRows.map((h) => h.host), ...extraHosts])];
    let deletedRows = 0;
    for (const host of hosts) {
      for (const t of HISTORY_TIERS) {
        const cutoff = Math.floor(nowMs - tierRetentionMs(r, t.tier));
        const step = t.tier === 2 ? 86_400_000 : 3_600_000;
        for (const table of ['history_system', 'history_process'] as const) {
          if (table === 'history_process' && t.tier === 0) continue;
          // From the oldest row each time: a gap (the server was down) costs one statement, not one per hour.
          for (;;) {
            const first = await this.db
              .selectFrom(table)
              .select((eb) => eb.fn.min<Int64Out | null>('t_ms').as('m'))
              .where('host', '=', host)
              .where('tier', '=', t.tier)
              .executeTakeFirst();
            if (first === undefined || first.m === null) break;
            const oldest = dbToNumber(first.m);
            if (oldest >= cutoff) break;
            const d = await this.db
              .deleteFrom(table)
              .where('host', '=', host)
              .where('tier', '=', t.tier)
              .where('t_ms', '<', Math.min(cutoff, oldest + step))
              .executeTakeFirst();
            deletedRows += Number(d.numDeletedRows);
          }
        }
      }
    }
    const namesCutoff = Math.floor(nowMs - Math.max(r.rawMs, r.minuteMs, r.hourMs));
    const d = await this.db.deleteFrom('history_names').where('last_ms', '<', namesCutoff).executeTakeFirst();
    deletedRows += Number(d.numDeletedRows);
    return { deletedRows };
  }
}
