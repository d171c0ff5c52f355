// The complete parts of Timeline windows, kept between requests (HistoryRecorder.window).
//
// A window of the history is read as buckets of a fixed length: the categories' points, a process
// line's points, the ranking's hours and days. Once every sample of a bucket is stored, the bucket
// does not change: the next request of a window that follows now asks for the same buckets again
// and one or two new ones. So a window is read as three parts: its first bucket when the window
// starts inside it (the database reads only its part), the whole buckets, each from this cache
// when it holds it and otherwise read from the database in runs and then kept, and the rest up to
// the window's end, read every time (the newest buckets, still filling).
//
// What may be kept, and when a kept bucket goes:
// - Only the recorder's own host (the caller asks for nothing else): its rows are written by this
//   process alone, so every change to them passes through HistoryRecorder.record, which drops the
//   buckets a sample falls in (`recorded`). Another host's rows come from another server, which
//   may write an old bucket late (its database failing for a while): those are read every time.
// - A bucket is kept only if it ends before `openFromMs`: not after the bucket "now" is in, and
//   not after the oldest row not yet written (pending or in flight: the database would merge it
//   later). A sample recorded while the read was under way (`reads`) keeps its buckets out too.
// - Retention deletes from the oldest row of a tier upwards (HistoryStore.applyRetention): the
//   caller passes the oldest stored time with every read (one indexed MIN query), and a bucket
//   with rows that starts before it, when it has moved since the bucket was read, is read again.
//   This also holds for a deletion by another server on a shared database.
// - Nothing is written anywhere: a restart starts empty.
//
// Bound: at most MAX_CACHED_ROWS rows over all buckets (a bucket with no rows counts as one), the
// least recently used buckets going first. The rows are the store's row objects (5 to 8 numbers
// and shared strings): 166 bytes a row with the buckets' arrays and maps, measured on V8 (the five
// windows at 670 points over 7 days of 300 processes: 33,695 rows in 7,603 buckets, 5.3 MiB), so
// at most about 17 MB. Those windows over a month of 300 processes keep about 50,000 rows
// (categories 4 × 670 × 9, six lines 4 × 6 × 360, the ranking's days and hours 30 × 300 + 46 × 300).
import { assert } from '../base/assert.js';

export const MAX_CACHED_ROWS = 100_000;

interface Entry {
  rows: readonly unknown[];
  weight: number;
  /** When it was last used (a count of uses), for evicting the least recently used. */
  usedAt: number;
  /** The oldest row stored of its tier before it was read. */
  oldestMs: number | null;
}

interface Family {
  name: string;
  lenMs: number;
  tier: number;
  /** Kept buckets by start. */
  buckets: Map<number, Entry>;
}

/** A read under way: the times of the samples recorded meanwhile. */
interface Read {
  recordedMs: number[];
}

/**
 * A run of buckets being read from the database: another read that misses the same buckets
 * waits for it instead of reading them again (the Timeline's read-ahead and a click on one of its
 * windows, at once).
 */
interface RunRead {
  fromMs: number;
  toMs: number;
  /** Settles when the run is read; its rows by bucket are then in `rows`. */
  done: Promise<void>;
  rows: Map<number, unknown[]> | null;
}

export interface BucketedRead<R> {
  /** What the buckets hold: rows of one kind at one tier and bucket length (and process). */
  family: string;
  /** The history tier the rows are of: retention is by tier. */
  tier: number;
  /** Bucket length; a bucket starts at a multiple of it. */
  lenMs: number;
  /** The range: rows with fromMs <= t_ms <= toMs (t_ms < toMs when `toExclusive`), as the store reads it. */
  fromMs: number;
  toMs: number;
  toExclusive?: boolean;
  /** Buckets that end after this are read every time (they may still change). */
  openFromMs: number;
  /** The oldest row stored of this tier (null: none): buckets that start before it are read again. */
  oldestMs: number | null;
  /** The bucket a row belongs to (its start). */
  bucketOf: (row: R) => number;
  /** Rows of [fromMs, toMs) that can be told apart by bucket (each within one bucket). */
  readRun: (fromMs: number, toMs: number) => Promise<R[]>;
  /** Rows of [fromMs, toMs), or [fromMs, toMs] when `inclusive`, as the window wants them. */
  readRest: (fromMs: number, toMs: number, inclusive: boolean) => Promise<R[]>;
}

export class WindowCache {
  private readonly families = new Map<string, Family>();
  private readonly reads = new Set<Read>();
  /** The runs being read, by family. */
  private readonly runsReading = new Map<string, Set<RunRead>>();
  private weight = 0;
  private entryCount = 0;
  private uses = 0;
  /** Buckets answered from the cache and read from the database (for the tests and the benchmark). */
  hits = 0;
  misses = 0;

  constructor(private readonly maxRows = MAX_CACHED_ROWS) {}

  get rows(): number {
    return this.weight;
  }

  get buckets(): number {
    return this.entryCount;
  }

  /** A sample at `atMs` was recorded: the buckets it falls in change. */
  recorded(atMs: number): void {
    for (const r of this.reads) r.recordedMs.push(atMs);
    for (const f of this.families.values()) this.delete(f, Math.floor(atMs / f.lenMs) * f.lenMs);
  }

  /** Retention deleted the rows of `tier` before `cutoffMs`. */
  deletedBefore(tier: number, cutoffMs: number): void {
    for (const f of this.families.values())
      if (f.tier === tier) for (const b of [...f.buckets.keys()]) if (b < cutoffMs) this.delete(f, b);
  }

  clear(): void {
    for (const f of this.families.values()) f.buckets.clear();
    this.weight = 0;
    this.entryCount = 0;
  }

  private delete(f: Family, startMs: number): void {
    const e = f.buckets.get(startMs);
    if (e === undefined) return;
    f.buckets.delete(startMs);
    this.weight -= e.weight;
    this.entryCount--;
    // A family with no bucket goes too (there is one per process line drawn).
    if (f.buckets.size === 0 && this.families.get(f.name) === f) this.families.delete(f.name);
  }

  private get(f: Family, startMs: number, oldestMs: number | null): Entry | undefined {
    const e = f.buckets.get(startMs);
    if (e === undefined) return undefined;
    // Retention deletes from the oldest row up: what it deleted since the bucket was read lies in
    // [the oldest then, the oldest now). A bucket that starts before that end and had rows may
    // have lost some; an empty one lost none.
    const deletedSince = oldestMs === null || e.oldestMs === null || oldestMs > e.oldestMs;
    if (e.rows.length > 0 && deletedSince && (oldestMs === null || startMs < oldestMs)) {
      this.delete(f, startMs);
      return undefined;
    }
    e.usedAt = ++this.uses;
    return e;
  }

  private family(name: string, lenMs: number, tier: number): Family {
    let f = this.families.get(name);
    if (f === undefined) this.families.set(name, (f = { name, lenMs, tier, buckets: new Map() }));
    assert(f.lenMs === lenMs && f.tier === tier, `history cache: ${name} read with another bucket or tier`);
    return f;
  }

  private put(family: Family, startMs: number, rows: readonly unknown[], oldestMs: number | null): void {
    // The family as it is now: emptied meanwhile, it may have gone.
    const f = this.family(family.name, family.lenMs, family.tier);
    this.delete(f, startMs);
    const weight = Math.max(1, rows.length);
    if (weight > this.maxRows) return;
    f.buckets.set(startMs, { rows, weight, usedAt: ++this.uses, oldestMs });
    this.weight += weight;
    this.entryCount++;
    if (this.weight > this.maxRows) this.evict();
  }

  /** Down to 3/4 of the bound, the least recently used first: a sort now and then, not on every use. */
  private evict(): void {
    const all: { f: Family; startMs: number; usedAt: number }[] = [];
    for (const f of this.families.values())
      for (const [startMs, e] of f.buckets) all.push({ f, startMs, usedAt: e.usedAt });
    all.sort((a, b) => a.usedAt - b.usedAt);
    for (const a of all) {
      if (this.weight <= (this.maxRows * 3) / 4) break;
      this.delete(a.f, a.startMs);
    }
  }

  /**
   * The rows of a window: the same rows, in the same order of buckets, as `readRest(fromMs, toMs,
   * !toExclusive)` would give, with the whole buckets that cannot change taken from the cache.
   * (t_ms is an integer column: a bucket [b, b + len) is within t_ms <= to when b + len <= to + 1.)
   */
  async read<R>(q: BucketedRead<R>): Promise<R[]> {
    const len = q.lenMs;
    assert(Number.isSafeInteger(len) && len > 0, `history cache: bucket ${len} ms`);
    const inclusive = q.toExclusive !== true;
    const from = Math.floor(q.fromMs);
    const to = Math.ceil(q.toMs);
    const first = Math.ceil(from / len) * len;
    // Whole buckets: start >= from, end within the range, and closed.
    const end = Math.min(Math.floor((inclusive ? to + 1 : to) / len) * len, Math.floor(q.openFromMs / len) * len);
    if (first >= end) return q.readRest(from, to, inclusive);
    const f = this.family(q.family, len, q.tier);

    // Each whole bucket, kept or missing; the missing ones read in runs of adjacent buckets (more
    // than a few runs: one run from the first missing to the last).
    const kept = new Map<number, Entry>();
    const runs: [number, number][] = [];
    const others = this.runsReading.get(q.family);
    const awaited = new Map<number, RunRead>();
    for (let b = first; b < end; b += len) {
      const e = this.get(f, b, q.oldestMs);
      if (e !== undefined) {
        kept.set(b, e);
        continue;
      }
      const other = others === undefined ? undefined : [...others].find((r) => r.fromMs <= b && b < r.toMs);
      if (other !== undefined) {
        awaited.set(b, other);
        continue;
      }
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === b) last[1] = b + len;
      else runs.push([b, b + len]);
    }
    const firstRun = runs[0];
    const lastRun = runs[runs.length - 1];
    if (runs.length > 4 && firstRun !== undefined && lastRun !== undefined)
      runs.splice(0, runs.length, [firstRun[0], lastRun[1]]);

    const read: Read = { recordedMs: [] };
    this.reads.add(read);
    const fetched = new Map<number, R[]>();
    // Announced before any is read, so that a read starting meanwhile waits for them.
    let mine = this.runsReading.get(q.family);
    if (mine === undefined && runs.length > 0) this.runsReading.set(q.family, (mine = new Set()));
    const announced = runs.map(([s, e]) => {
      let settle = (): void => undefined;
      const run: RunRead = { fromMs: s, toMs: e, rows: null, done: new Promise<void>((r) => (settle = r)) };
      mine?.add(run);
      return { run, settle };
    });
    try {
      for (const { run, settle } of announced) {
        const s = run.fromMs;
        const e = run.toMs;
        try {
          const rows = await q.readRun(s, e);
          const byBucket = new Map<number, R[]>();
          for (let b = s; b < e; b += len) byBucket.set(b, []);
          for (const r of rows) {
            const b = q.bucketOf(r);
            const list = byBucket.get(b);
            assert(list !== undefined, `history cache: a row of bucket ${b} read for [${s}, ${e})`);
            list.push(r);
          }
          // Kept at once (no await between the read and this), so that a read starting now finds
          // them, and a sample recorded from now on drops them as any kept bucket.
          for (const [b, list] of byBucket) {
            fetched.set(b, list);
            if (!read.recordedMs.some((t) => t >= b && t < b + len)) this.put(f, b, list, q.oldestMs);
          }
          run.rows = byBucket;
        } finally {
          // A read waiting for a run that failed reads those buckets itself (rows stays null).
          mine?.delete(run);
          settle();
        }
      }
    } finally {
      for (const { run, settle } of announced) {
        mine?.delete(run);
        settle();
      }
      if (mine !== undefined && mine.size === 0 && this.runsReading.get(q.family) === mine)
        this.runsReading.delete(q.family);
      this.reads.delete(read);
    }
    // The window's first bucket, when it starts inside it (only the window's part of it).
    const out: R[] = from < first ? await q.readRest(from, first, false) : [];
    // The buckets another read was reading: as it read them (kept by it, if they could be), or,
    // if it failed, read here and not kept (samples recorded meanwhile were not watched for).
    const shared = new Map<number, R[]>();
    for (const [b, run] of awaited) {
      await run.done;
      const rows = run.rows?.get(b) as R[] | undefined;
      shared.set(b, rows ?? (await q.readRun(b, b + len)));
    }
    this.misses += fetched.size;
    this.hits += kept.size + shared.size;
    for (let b = first; b < end; b += len) {
      const rows = (kept.get(b)?.rows as R[] | undefined) ?? fetched.get(b) ?? shared.get(b);
      // A kept bucket that a sample dropped while the runs were read is still as it was read.
      if (rows !== undefined) out.push(...rows);
    }
    if (inclusive ? end <= to : end < to) out.push(...(await q.readRest(end, to, inclusive)));
    return out;
  }
}
