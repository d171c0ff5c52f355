// The event store: one typed query layer (Kysely) over SQLite and MySQL/MariaDB.
// Writes are batches: one transaction stores the batch's calls as packs (one event_packs row per id
// block and process, packs.ts), adds the batch's per-process and per-host deltas, and records the
// batch id, so that a batch retried after a commit whose answer was lost is recognised and skipped
// (exactly once). All SQL is parameterised.
//
// Ids. Every call has an id, unique in the store and increasing in the order calls are committed:
// the dashboard and `memlens events` page by it (a keyset cursor), and ask for what came after the
// newest id they hold. A batch takes as many ids as it has calls from the one-row counter
// event_ids, in its own transaction, and gives them in the batch's order, so that the id order
// within a batch is the tracer's order, whatever process each call is of. The counter is taken
// last before the packs are inserted and the commit: on MySQL, where several hosts write at once,
// its row lock then serialises only that end of their transactions (no two batches can take
// overlapping ranges, and ids are committed in their order), and a batch that rolls back gives its
// range back. Packs of one batch overlap in id (each process's calls are spread over the batch's
// range), so the packs' bodies keep each call's id; packs of different id blocks never do. Readers
// merge the packs of a block (packs.ts, ID_BLOCK) by id; ordered by last_id, a block's packs are
// consecutive, so a block's calls are complete once a pack of another block is read.
import { randomUUID } from 'node:crypto';
import {
  CompiledQuery,
  sql,
  type Kysely,
  type Transaction,
  type RawBuilder,
  type SelectQueryBuilder,
  type SqlBool,
} from 'kysely';
import { assert } from '../base/assert.js';
import { UserError } from '../base/errors.js';
import type { LostCounts, MemCall, MemEvent } from '../wire/events.js';
import type { Connection, PreparedRun } from './connect.js';
import { decodePack, packIds } from './event-pack-codec.js';
import { dbToNumber } from './int64.js';
import { ByteArena, EventRecords } from './event-batch-codec.js';
import { ID_BLOCK, callBit, packBatch, packBlock, packParams, type PackRow } from './packs.js';
import { clip, NAME_WIDTH, type StoredEvent } from './rows.js';
import { HistoryStore } from './history.js';
import { migrate } from './migrate.js';
import { STORE_SCHEMA_VERSION, type Dialect, type Int64Out, type StoreDatabase, type StoreNotice } from './schema.js';
import {
  foldRecords,
  keyOf,
  requestedBytes,
  type ProcessCounts,
  type ProcessDelta,
  type ProcessKey,
  type ProcessStart,
} from './totals.js';

export interface EventFilter {
  host?: string;
  pid?: number;
  name?: string;
  call?: MemCall;
  /** Inclusive lower bound on the event's wall-clock time (epoch ms). */
  sinceMs?: number;
  /** Exclusive upper bound on the event's wall-clock time (epoch ms). */
  untilMs?: number;
}

export interface EventQuery extends EventFilter {
  /** Keyset cursor: only events with a smaller id (the next page when scrolling back in time). */
  beforeId?: number;
  /** Only events with a greater id (what arrived since the newest one a client holds). */
  afterId?: number;
  /** At most this many rows (default 100, at most 10,000). */
  limit?: number;
}

/** A process instance's row of the processes table, as read back. */
export interface ProcessTotals extends ProcessKey, ProcessCounts {
  /** max(0, mmapBytes − munmapBytes). */
  requestedBytes: bigint;
}

export interface HostSummary {
  host: string;
  firstSeenMs: number;
  lastSeenMs: number;
  eventCount: number;
  lost: LostCounts;
}

export interface LostDelta {
  host: string;
  /** Added to the host's counters: pass what was lost since the previous report, not a running total. */
  counts: LostCounts;
}

/** Everything one transaction writes. The id makes the write idempotent. */
export interface StoreBatch {
  id: string;
  /** The calls, as the bytes the writer's worker received (event-batch-codec.ts) or as objects. */
  events: EventRecords | readonly MemEvent[];
  starts?: readonly ProcessStart[];
  lost?: readonly LostDelta[];
}

export interface RetentionResult {
  deletedEvents: number;
  deletedProcesses: number;
  deletedBatches: number;
}

const MAX_LIMIT = 10_000;
/** Packs per statement of a retention pass (each its own transaction). */
const PACKS_PER_DELETE = 2000;
/** Pack rows per multi-row INSERT on MySQL, and about as many bytes (mysql2 sends a statement whole). */
const PACKS_PER_INSERT = 64;
const PACK_BYTES_PER_INSERT = 4 << 20;

export const newBatchId = (): string => randomUUID();

/** A pack row with every column set, to check the order of the INSERT's parameters once. */
const SAMPLE_PACK: PackRow = {
  last_id: 1,
  first_id: 2,
  base_id: 3,
  host: 'h',
  pid: 4,
  name: 'n',
  event_count: 5,
  calls: 6,
  min_time_ms: 7,
  max_time_ms: 8,
  body: Buffer.from([9]),
};

/** A pack as the readers see it. */
interface PackRead {
  lastId: number;
  firstId: number;
  baseId: number;
  host: string;
  count: number;
  calls: number;
  minTimeMs: number;
  maxTimeMs: number;
  body: Uint8Array;
}

/** The calls of a filter that the packs' columns cannot decide: which of a pack's events match. */
function eventMatch(f: EventFilter, belowId?: number, aboveId?: number): (e: StoredEvent) => boolean {
  const since = f.sinceMs === undefined ? undefined : Math.trunc(f.sinceMs);
  const until = f.untilMs === undefined ? undefined : Math.trunc(f.untilMs);
  return (e) =>
    (f.call === undefined || e.call === f.call) &&
    (since === undefined || e.timeMs >= since) &&
    (until === undefined || e.timeMs < until) &&
    (belowId === undefined || e.id < belowId) &&
    (aboveId === undefined || e.id > aboveId);
}

/**
 * The calls of one id block come from several packs (one per process) and are given out in id
 * order once the block is complete: packs arrive block by block, so a new base id closes the one
 * before.
 */
class IdBlockMerger {
  private pool: StoredEvent[] = [];
  private baseId: number | undefined;

  constructor(
    private readonly order: 'asc' | 'desc',
    private readonly give: (e: StoredEvent) => void,
  ) {}

  /** Starts the pack's block; true when it is a new one (the block before has been given out). */
  enter(baseId: number): boolean {
    if (baseId === this.baseId) return false;
    this.flush();
    this.baseId = baseId;
    return true;
  }

  add(e: StoredEvent): void {
    this.pool.push(e);
  }

  /** Gives out the block held so far, in order. */
  flush(): void {
    this.pool.sort(this.order === 'asc' ? (a, b) => a.id - b.id : (a, b) => b.id - a.id);
    for (const e of this.pool) this.give(e);
    this.pool = [];
  }
}

export class EventStore {
  /** Current process instance per (host, pid), as committed; filled lazily from the database. */
  private readonly current = new Map<string, bigint>();
  /** SQL text of the other statements every batch runs, by shape (see runShaped). */
  private readonly shapedSql = new Map<string, string>();

  /** SQLite: the single-row event_packs INSERT, prepared once (see Connection.prepare). */
  private insertOne: PreparedRun | undefined;
  private readonly oneRow: unknown[] = [];
  /** The bytes of the pack bodies of the batch being written (insertPacks). */
  private readonly packArena = new ByteArena();
  private packArenaBusy = false;
  /** The /proc history of `memlens serve` (history.ts), in the same database. */
  readonly history: HistoryStore;

  private constructor(
    readonly db: Kysely<StoreDatabase>,
    readonly dialect: Dialect,
    readonly description: string,
  ) {
    this.history = new HistoryStore(db, dialect);
  }

  /** `notice` hears what a long migration says while it runs (the repack of schema 6). */
  static async open(conn: Connection, notice?: StoreNotice): Promise<EventStore> {
    const store = new EventStore(conn.db, conn.dialect, conn.description);
    await store.migrate(notice);
    if (conn.prepare) {
      // The statement text comes from the typed query builder; only its execution bypasses it.
      const compiled = conn.db.insertInto('event_packs').values(SAMPLE_PACK).compile();
      const params: unknown[] = [];
      packParams(SAMPLE_PACK, params);
      assert(
        compiled.parameters.length === params.length && compiled.parameters.every((v, i) => v === params[i]),
        'event_packs INSERT parameter order',
      );
      store.insertOne = conn.prepare(compiled.sql);
    }
    return store;
  }

  private async migrate(notice: StoreNotice | undefined): Promise<void> {
    let applied: number;
    try {
      applied = await migrate(this.db, this.dialect, notice);
    } catch (e) {
      throw new UserError(`cannot prepare database ${this.description}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (applied > STORE_SCHEMA_VERSION) {
      throw new UserError(
        `database ${this.description} has schema version ${applied}, newer than this memlens (${STORE_SCHEMA_VERSION}): upgrade memlens`,
      );
    }
  }

  /** Writes events as one new batch. */
  async appendEvents(events: readonly MemEvent[], starts: readonly ProcessStart[] = []): Promise<void> {
    if (events.length === 0 && starts.length === 0) return;
    await this.commitBatch({ id: newBatchId(), events, starts });
  }

  /** Adds lost-event counts to a host's counters. */
  async recordLost(host: string, counts: LostCounts): Promise<void> {
    await this.commitBatch({ id: newBatchId(), events: [], lost: [{ host, counts }] });
  }

  /**
   * Writes a batch in one transaction, or nothing. Returns 'duplicate' when a batch with this id was
   * committed before (its retry is then a no-op).
   */
  async commitBatch(batch: StoreBatch): Promise<'committed' | 'duplicate'> {
    const touched: ProcessDelta[] = [];
    const records = batch.events instanceof EventRecords ? batch.events : EventRecords.of(batch.events);
    let outcome: 'committed' | 'duplicate';
    try {
      outcome = await this.inTransaction(async (trx) => {
        const seen = await this.runShaped(
          trx,
          'batches-seen',
          () => trx.selectFrom('batches').select('batch_id').where('batch_id', '=', batch.id).compile(),
          [batch.id],
        );
        if (seen.rows.length > 0) return 'duplicate' as const;
        const row = {
          batch_id: batch.id,
          host: clip(
            (records.length > 0 ? records.strings[records.host(0)] : undefined) ?? batch.lost?.[0]?.host ?? '',
            NAME_WIDTH,
          ),
          event_count: records.length,
          committed_ms: Date.now(),
        };
        await this.runShaped(trx, 'batches-insert', () => trx.insertInto('batches').values(row).compile(), [
          row.batch_id,
          row.host,
          row.event_count,
          row.committed_ms,
        ]);
        const deltas = await this.foldWithCurrent(trx, records, batch.starts ?? []);
        await this.addProcessDeltas(trx, deltas);
        await this.addHostDeltas(trx, records, batch);
        // Last: on MySQL the counter's row stays locked until the commit (see "Ids" above).
        if (records.length > 0) await this.insertPacks(trx, records);
        touched.push(...deltas);
        return 'committed' as const;
      });
    } catch (e) {
      // The transaction rolled back: forget what it would have opened.
      this.current.clear();
      throw e;
    }
    for (const d of touched) {
      // An instance opened by the batch: its seq was assigned in SQL; reload it when next needed.
      if (d.opened) this.current.delete(keyOf(d.host, d.pid));
      else this.current.set(keyOf(d.host, d.pid), d.startNs);
    }
    if (this.current.size > 200_000) this.current.clear();
    return outcome;
  }

  /**
   * Runs `body` in a transaction and commits it. When the body or the commit fails, the rollback's
   * own failure is ignored and the first error is thrown: SQLite ends the transaction itself on
   * some errors (SQLITE_FULL among them, https://sqlite.org/lang_transaction.html: "the
   * transaction may be rolled back automatically"), and its "cannot rollback - no transaction is
   * active" would otherwise hide the reason, such as a full disk.
   */
  private async inTransaction<T>(body: (trx: Transaction<StoreDatabase>) => Promise<T>): Promise<T> {
    const trx = await this.db.startTransaction().execute();
    let result: T;
    try {
      result = await body(trx);
      await trx.commit().execute();
    } catch (e) {
      await trx
        .rollback()
        .execute()
        .catch(() => undefined);
      throw e;
    }
    return result;
  }

  /**
   * Runs a statement whose SQL text depends only on `shape`: Kysely builds and compiles it the first
   * time, and after that its text is reused with `params`. Every batch runs several such
   * statements, however few its events; building them anew each time was up to a fifth of a small
   * batch's CPU with the query builder's code optimised, and about half before (bench/README.md,
   * "per batch"): at a low call rate, per-batch work is most of what the store spends. The first
   * use checks that `params` are exactly those Kysely produced, in its order.
   */
  private async runShaped(
    trx: Transaction<StoreDatabase>,
    shape: string,
    build: () => CompiledQuery,
    params: readonly unknown[],
  ) {
    let text = this.shapedSql.get(shape);
    if (text === undefined) {
      const compiled = build();
      assert(
        compiled.parameters.length === params.length && compiled.parameters.every((v, i) => v === params[i]),
        `${shape} parameter order`,
      );
      text = compiled.sql;
      if (this.shapedSql.size < 256) this.shapedSql.set(shape, text);
    }
    return trx.executeQuery(CompiledQuery.raw(text, [...params]));
  }

  /** Takes `count` ids from the counter, in the caller's transaction; returns the first. */
  /**
   * One statement: SQLite returns the new value (UPDATE … RETURNING, https://sqlite.org/lang_returning.html);
   * MySQL has no RETURNING on UPDATE, but LAST_INSERT_ID(expr) sets the value the statement's OK
   * answer carries as its insert id (https://dev.mysql.com/doc/refman/8.0/en/information-functions.html#function_last-insert-id).
   */
  private async takeIds(trx: Transaction<StoreDatabase>, count: number): Promise<number> {
    let next: number;
    if (this.dialect === 'mysql') {
      const r = await this.runShaped(
        trx,
        'ids-take',
        () =>
          trx
            .updateTable('event_ids')
            .set({ next_id: sql<number>`last_insert_id(next_id + ${count})` })
            .where('k', '=', 1)
            .compile(),
        [count, 1],
      );
      assert(r.insertId !== undefined, 'the event id counter (event_ids) has its row');
      next = dbToNumber(r.insertId);
    } else {
      const r = await this.runShaped(
        trx,
        'ids-take',
        () =>
          trx
            .updateTable('event_ids')
            .set({ next_id: sql<number>`next_id + ${count}` })
            .where('k', '=', 1)
            .returning('next_id')
            .compile(),
        [count, 1],
      );
      const row = r.rows[0] as { next_id: Int64Out } | undefined;
      assert(row !== undefined, 'the event id counter (event_ids) has its row');
      next = dbToNumber(row.next_id);
    }
    return next - count;
  }

  /** Stores a batch's calls as packs: one row per id block and process (packs.ts). */
  private async insertPacks(trx: Transaction<StoreDatabase>, records: EventRecords): Promise<void> {
    const first = await this.takeIds(trx, records.length);
    const rows: PackRow[] = [];
    // The bodies of the previous batch's packs are stored (its transaction has ended): their bytes
    // are reused, unless another batch is being written at the same time (then its own are made).
    const arena = this.packArenaBusy ? undefined : this.packArena;
    arena?.reset();
    this.packArenaBusy ||= arena !== undefined;
    for (let at = 0; at < records.length; at += ID_BLOCK)
      rows.push(...packBatch(records, at, Math.min(records.length, at + ID_BLOCK), first + at, first + at, arena));
    try {
      await this.insertPackRows(trx, rows);
    } finally {
      if (arena !== undefined) this.packArenaBusy = false;
    }
  }

  private async insertPackRows(trx: Transaction<StoreDatabase>, rows: readonly PackRow[]): Promise<void> {
    const one = this.insertOne;
    if (one !== undefined) {
      const row = this.oneRow;
      for (const r of rows) {
        row.length = 0;
        packParams(r, row);
        one.run(row);
      }
      return;
    }
    let i = 0;
    while (i < rows.length) {
      let bytes = 0;
      let j = i;
      while (j < rows.length && j - i < PACKS_PER_INSERT && (j === i || bytes < PACK_BYTES_PER_INSERT))
        bytes += rows[j++]?.body.length ?? 0;
      const part = rows.slice(i, j);
      const params: unknown[] = [];
      for (const r of part) packParams(r, params);
      await this.runShaped(
        trx,
        `packs-insert-${part.length}`,
        () => trx.insertInto('event_packs').values(part).compile(),
        params,
      );
      i = j;
    }
  }

  private async foldWithCurrent(
    trx: Transaction<StoreDatabase>,
    records: EventRecords,
    starts: readonly ProcessStart[],
  ): Promise<ProcessDelta[]> {
    // Load the current instance of every (host, pid) of the batch that the cache does not know.
    const missing = processesOf(records, (host, pid) => this.current.has(keyOf(host, pid)));
    const loaded = new Map<string, { startNs: bigint; seq: number }>();
    for (const [host, pidSet] of missing) {
      const pids = [...pidSet];
      for (let i = 0; i < pids.length; i += 1000) {
        const rows = await trx
          .selectFrom('processes')
          .select(['pid', 'start_ns', 'seq'])
          .where('host', '=', host)
          .where('pid', 'in', pids.slice(i, i + 1000))
          .execute();
        for (const r of rows) {
          const k = keyOf(host, dbToNumber(r.pid));
          const seq = dbToNumber(r.seq);
          const have = loaded.get(k);
          if (!have || seq > have.seq) loaded.set(k, { startNs: BigInt(r.start_ns), seq });
        }
      }
    }
    for (const [k, v] of loaded) this.current.set(k, v.startNs);
    return foldRecords(records, starts, this.current);
  }

  private upsertSet(
    table: string,
    add: readonly string[],
    min: readonly string[],
    max: readonly string[],
    replace: readonly string[],
  ): Record<string, RawBuilder<unknown>> {
    const set: Record<string, RawBuilder<unknown>> = {};
    const mysql = this.dialect === 'mysql';
    const cur = (c: string) => (mysql ? sql.ref(c) : sql.ref(`${table}.${c}`));
    const inc = (c: string) => (mysql ? sql`values(${sql.ref(c)})` : sql.ref(`excluded.${c}`));
    for (const c of add) set[c] = sql`${cur(c)} + ${inc(c)}`;
    for (const c of min) set[c] = mysql ? sql`least(${cur(c)}, ${inc(c)})` : sql`min(${cur(c)}, ${inc(c)})`;
    for (const c of max) set[c] = mysql ? sql`greatest(${cur(c)}, ${inc(c)})` : sql`max(${cur(c)}, ${inc(c)})`;
    for (const c of replace) set[c] = inc(c);
    return set;
  }

  private async addProcessDeltas(trx: Transaction<StoreDatabase>, deltas: readonly ProcessDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    // New instances get seq = 1 + the greatest seq of their (host, pid), computed in SQL so that it
    // stays right whatever this process's cache holds.
    const seqOf = new Map<string, number>();
    const seqOfDelta = new Map<ProcessDelta, number>();
    for (const d of deltas) {
      if (!d.opened) continue;
      const k = keyOf(d.host, d.pid);
      let seq = seqOf.get(k);
      if (seq === undefined) {
        const row = await trx
          .selectFrom('processes')
          .select((eb) => eb.fn.max<Int64Out | null>('seq').as('m'))
          .where('host', '=', d.host)
          .where('pid', '=', d.pid)
          .executeTakeFirst();
        seq = row?.m === null || row?.m === undefined ? 0 : dbToNumber(row.m);
      }
      seqOf.set(k, seq + 1);
      seqOfDelta.set(d, seq + 1);
    }
    const rows = deltas.map((d) => ({
      host: clip(d.host, NAME_WIDTH),
      pid: d.pid,
      start_ns: d.startNs,
      name: clip(d.name, NAME_WIDTH),
      mmap_bytes: d.mmapBytes,
      munmap_bytes: d.munmapBytes,
      mmap_calls: d.mmapCalls,
      munmap_calls: d.munmapCalls,
      brk_calls: d.brkCalls,
      mremap_calls: d.mremapCalls,
      mprotect_calls: d.mprotectCalls,
      failed_calls: d.failedCalls,
      first_seen_ms: d.firstSeenMs,
      last_seen_ms: d.lastSeenMs,
      seq: seqOfDelta.get(d) ?? 0,
    }));
    for (let i = 0; i < rows.length; i += 1000) {
      const part = rows.slice(i, i + 1000);
      // The SET clause has no parameters: built only with the text.
      const build = () => {
        const set = this.upsertSet(
          'processes',
          [
            'mmap_bytes',
            'munmap_bytes',
            'mmap_calls',
            'munmap_calls',
            'brk_calls',
            'mremap_calls',
            'mprotect_calls',
            'failed_calls',
          ],
          ['first_seen_ms'],
          ['last_seen_ms'],
          ['name'],
        );
        const q = trx.insertInto('processes').values(part);
        return (
          this.dialect === 'mysql'
            ? q.onDuplicateKeyUpdate(set)
            : q.onConflict((oc) => oc.columns(['host', 'pid', 'start_ns']).doUpdateSet(set))
        ).compile();
      };
      // The text depends on the row count: kept for the common counts, built for the rare large ones.
      if (part.length > 64) await trx.executeQuery(build());
      else await this.runShaped(trx, `processes-upsert-${part.length}`, build, part.flatMap(processParams));
    }
  }

  private async addHostDeltas(
    trx: Transaction<StoreDatabase>,
    records: EventRecords,
    batch: StoreBatch,
  ): Promise<void> {
    interface HostDelta {
      first: number;
      last: number;
      events: number;
      lost: LostCounts;
    }
    const hosts = new Map<string, HostDelta>();
    const get = (host: string, timeMs: number): HostDelta => {
      let h = hosts.get(host);
      if (!h)
        hosts.set(
          host,
          (h = { first: timeMs, last: timeMs, events: 0, lost: { lostEvents: 0, unpaired: 0, malformed: 0 } }),
        );
      return h;
    };
    for (const [host, span] of hostSpans(records)) {
      const h = get(host, span.first);
      h.events += span.events;
      h.first = Math.min(h.first, span.first);
      h.last = Math.max(h.last, span.last);
    }
    const now = Date.now();
    for (const l of batch.lost ?? []) {
      const h = get(l.host, now);
      h.lost.lostEvents += l.counts.lostEvents;
      h.lost.unpaired += l.counts.unpaired;
      h.lost.malformed += l.counts.malformed;
    }
    for (const s of batch.starts ?? []) get(s.host, s.timeMs);
    if (hosts.size === 0) return;
    const rows = [...hosts].map(([host, h]) => ({
      host: clip(host, NAME_WIDTH),
      first_seen_ms: Math.trunc(h.first),
      last_seen_ms: Math.trunc(h.last),
      event_count: h.events,
      lost_events: h.lost.lostEvents,
      unpaired: h.lost.unpaired,
      malformed: h.lost.malformed,
    }));
    const build = () => {
      const set = this.upsertSet(
        'hosts',
        ['event_count', 'lost_events', 'unpaired', 'malformed'],
        ['first_seen_ms'],
        ['last_seen_ms'],
        [],
      );
      const q = trx.insertInto('hosts').values(rows);
      return (
        this.dialect === 'mysql'
          ? q.onDuplicateKeyUpdate(set)
          : q.onConflict((oc) => oc.column('host').doUpdateSet(set))
      ).compile();
    };
    if (rows.length > 64) await trx.executeQuery(build());
    else
      await this.runShaped(
        trx,
        `hosts-upsert-${rows.length}`,
        build,
        rows.flatMap((r) => [
          r.host,
          r.first_seen_ms,
          r.last_seen_ms,
          r.event_count,
          r.lost_events,
          r.unpaired,
          r.malformed,
        ]),
      );
  }

  /** Newest first, keyset-paged by id. */
  async queryEvents(query: EventQuery = {}): Promise<StoredEvent[]> {
    const limit = Math.max(1, Math.min(MAX_LIMIT, Math.trunc(query.limit ?? 100)));
    const match = eventMatch(query, query.beforeId, query.afterId);
    const out: StoredEvent[] = [];
    const merger = new IdBlockMerger('desc', (e) => out.push(e));
    for await (const p of this.packs(query, 'desc', { belowId: query.beforeId, aboveId: query.afterId })) {
      if (merger.enter(p.baseId) && out.length >= limit) break;
      for (const e of decodePack(p.body, p.firstId)) if (match(e)) merger.add(e);
    }
    merger.flush();
    if (out.length > limit) out.length = limit;
    return out;
  }

  /**
   * The packs that may hold calls matching `f`, in the order of their last ids, read in growing
   * pages. The pack columns decide host, pid and name exactly and narrow call and time; `belowId`
   * and `aboveId` select the packs that may hold an id below or above them: a pack's ids lie in
   * (last_id − ID_BLOCK, last_id], so those below C are in packs with first_id < C and last_id <
   * C + ID_BLOCK, a range of the primary key or of the (pid, last_id) and (name, last_id) indexes.
   */
  private async *packs(
    f: EventFilter,
    order: 'asc' | 'desc',
    ids: { belowId?: number | undefined; aboveId?: number | undefined } = {},
    db: Kysely<StoreDatabase> = this.db,
  ): AsyncGenerator<PackRead> {
    let from: number | undefined;
    let pageRows = 4;
    for (;;) {
      let q = this.packsOf(f, db).select([
        'last_id',
        'first_id',
        'base_id',
        'host',
        'event_count',
        'calls',
        'min_time_ms',
        'max_time_ms',
        'body',
      ]);
      if (ids.belowId !== undefined)
        q = q.where('first_id', '<', ids.belowId).where('last_id', '<', ids.belowId + ID_BLOCK);
      if (ids.aboveId !== undefined) q = q.where('last_id', '>', ids.aboveId);
      if (from !== undefined) q = q.where('last_id', order === 'desc' ? '<' : '>', from);
      const rows = await q.orderBy('last_id', order).limit(pageRows).execute();
      let events = 0;
      for (const r of rows) {
        const p: PackRead = {
          lastId: dbToNumber(r.last_id),
          firstId: dbToNumber(r.first_id),
          baseId: dbToNumber(r.base_id),
          host: r.host,
          count: dbToNumber(r.event_count),
          calls: dbToNumber(r.calls),
          minTimeMs: dbToNumber(r.min_time_ms),
          maxTimeMs: dbToNumber(r.max_time_ms),
          body: r.body,
        };
        events += p.count;
        from = p.lastId;
        yield p;
      }
      if (rows.length < pageRows) return;
      // Grow the pages while their packs are small; a page of large packs (a busy process) is
      // followed by a small one, which bounds the bodies held at once.
      pageRows = events > 50_000 ? 4 : Math.min(pageRows * 2, 256);
    }
  }

  /** The event_packs rows of a filter's host, pid, name, call and time range (see packs). */
  private packsOf(f: EventFilter, db: Kysely<StoreDatabase> = this.db) {
    let q = db.selectFrom('event_packs');
    if (f.host !== undefined) q = q.where('host', '=', f.host);
    if (f.pid !== undefined) q = q.where('pid', '=', f.pid);
    if (f.name !== undefined) q = q.where('name', '=', f.name);
    if (f.call !== undefined) q = q.where(sql<SqlBool>`(${sql.ref('calls')} & ${callBit(f.call)}) <> 0`);
    if (f.sinceMs !== undefined) q = q.where('max_time_ms', '>=', Math.trunc(f.sinceMs));
    if (f.untilMs !== undefined) q = q.where('min_time_ms', '<', Math.trunc(f.untilMs));
    return q;
  }

  /**
   * Every event that matches, oldest first (by id), in pages of `pageRows`: what `memlens events
   * --all` prints, in memory bounded by one page and one id block whatever the store holds. The
   * packs are read in id order, a growing page of them at a time, each read a keyset query
   * (`last_id > last ORDER BY last_id LIMIT n`) served by the primary key, so the last page costs
   * what the first does. All reads are in one read-only transaction, so that they are one snapshot:
   * the events committed when the first page was read, each exactly once, even while tracers write
   * (SQLite in WAL mode and InnoDB at REPEATABLE READ, MySQL's default, both read from a snapshot
   * taken at the transaction's first read). On SQLite the log cannot be checkpointed past that
   * snapshot until the reading ends.
   */
  async *streamEvents(
    filter: EventFilter & { beforeId?: number } = {},
    pageRows = 2000,
  ): AsyncGenerator<StoredEvent[]> {
    assert(Number.isSafeInteger(pageRows) && pageRows > 0 && pageRows <= MAX_LIMIT, 'page size');
    const trx = await this.db.startTransaction().execute();
    try {
      const match = eventMatch(filter, filter.beforeId);
      let ready: StoredEvent[] = [];
      const merger = new IdBlockMerger('asc', (e) => ready.push(e));
      for await (const p of this.packs(filter, 'asc', { belowId: filter.beforeId }, trx)) {
        if (merger.enter(p.baseId))
          while (ready.length >= pageRows) {
            yield ready.slice(0, pageRows);
            ready = ready.slice(pageRows);
          }
        for (const e of decodePack(p.body, p.firstId)) if (match(e)) merger.add(e);
      }
      merger.flush();
      while (ready.length > 0) {
        yield ready.slice(0, pageRows);
        ready = ready.slice(pageRows);
      }
    } finally {
      // Nothing was written: ending the transaction either way only releases the snapshot.
      await trx
        .rollback()
        .execute()
        .catch(() => undefined);
    }
  }

  /** How many events match; with `atMost`, stops counting there (a bounded read). */
  async countEvents(filter: EventFilter = {}, atMost?: number): Promise<number> {
    const bound = atMost === undefined ? Infinity : Math.max(0, Math.trunc(atMost));
    if (bound === 0) return 0;
    if (filter.call === undefined && filter.sinceMs === undefined && filter.untilMs === undefined) {
      // Host, pid and name are the packs' own: their counts are summed, never a call decoded.
      if (atMost === undefined) {
        const row = await this.packsOf(filter)
          .select((eb) => eb.fn.sum<Int64Out | null>('event_count').as('n'))
          .executeTakeFirstOrThrow();
        return row.n === null ? 0 : dbToNumber(row.n);
      }
      // Each pack holds at least one call: `bound` packs hold at least `bound` calls.
      const rows = await this.packsOf(filter).select('event_count').limit(bound).execute();
      return Math.min(
        bound,
        rows.reduce((n, r) => n + dbToNumber(r.event_count), 0),
      );
    }
    const match = eventMatch(filter);
    const since = filter.sinceMs === undefined ? -Infinity : Math.trunc(filter.sinceMs);
    const until = filter.untilMs === undefined ? Infinity : Math.trunc(filter.untilMs);
    const only = filter.call === undefined ? -1 : callBit(filter.call);
    let n = 0;
    for await (const p of this.packs(filter, 'desc')) {
      // A pack of that call alone and wholly in the time range counts whole, undecoded.
      if ((only === -1 || p.calls === only) && p.minTimeMs >= since && p.maxTimeMs < until) n += p.count;
      else for (const e of decodePack(p.body, p.firstId)) if (match(e)) n++;
      if (n >= bound) return bound;
    }
    return n;
  }

  /** Per-process totals as kept incrementally; largest "requested" first. */
  async processTotals(opts: { host?: string; pid?: number; limit?: number } = {}): Promise<ProcessTotals[]> {
    let q = this.db.selectFrom('processes').selectAll();
    if (opts.host !== undefined) q = q.where('host', '=', opts.host);
    if (opts.pid !== undefined) q = q.where('pid', '=', opts.pid);
    const rows = await q.orderBy('host').orderBy('pid').orderBy('seq').execute();
    const out = rows.map((r): ProcessTotals => {
      const mmapBytes = BigInt(r.mmap_bytes);
      const munmapBytes = BigInt(r.munmap_bytes);
      return {
        host: r.host,
        pid: dbToNumber(r.pid),
        startNs: BigInt(r.start_ns),
        name: r.name,
        mmapBytes,
        munmapBytes,
        requestedBytes: requestedBytes(mmapBytes, munmapBytes),
        mmapCalls: dbToNumber(r.mmap_calls),
        munmapCalls: dbToNumber(r.munmap_calls),
        brkCalls: dbToNumber(r.brk_calls),
        mremapCalls: dbToNumber(r.mremap_calls),
        mprotectCalls: dbToNumber(r.mprotect_calls),
        failedCalls: dbToNumber(r.failed_calls),
        firstSeenMs: dbToNumber(r.first_seen_ms),
        lastSeenMs: dbToNumber(r.last_seen_ms),
      };
    });
    // Stable sort: equal figures keep host, pid, instance order.
    out.sort((a, b) => (a.requestedBytes > b.requestedBytes ? -1 : a.requestedBytes < b.requestedBytes ? 1 : 0));
    return opts.limit === undefined ? out : out.slice(0, opts.limit);
  }

  async hosts(): Promise<HostSummary[]> {
    const rows = await this.db.selectFrom('hosts').selectAll().orderBy('host').execute();
    return rows.map((r) => ({
      host: r.host,
      firstSeenMs: dbToNumber(r.first_seen_ms),
      lastSeenMs: dbToNumber(r.last_seen_ms),
      eventCount: dbToNumber(r.event_count),
      lost: {
        lostEvents: dbToNumber(r.lost_events),
        unpaired: dbToNumber(r.unpaired),
        malformed: dbToNumber(r.malformed),
      },
    }));
  }

  /**
   * Deletes events older than maxAgeMs and/or all but the newest maxRows events, a bounded number
   * of packs per transaction so that no single statement holds locks for long. Whole packs are
   * deleted; a pack that holds calls on both sides of the line is rewritten with those it keeps,
   * each keeping its id. Age retention also drops processes not seen within the age and batch ids
   * older than it. Totals are cumulative and are not reduced by retention.
   */
  async applyRetention(opts: { maxAgeMs?: number; maxRows?: number; nowMs?: number }): Promise<RetentionResult> {
    const result: RetentionResult = { deletedEvents: 0, deletedProcesses: 0, deletedBatches: 0 };
    const any = await this.db.selectFrom('event_packs').select('last_id').limit(1).executeTakeFirst();
    if (any === undefined) return this.retainMeta(opts, result);
    if (opts.maxAgeMs !== undefined) {
      const cutoff = Math.trunc((opts.nowMs ?? Date.now()) - opts.maxAgeMs);
      for (;;) {
        const deleted = await this.retainPass(
          (trx) => trx.selectFrom('event_packs').where('min_time_ms', '<', cutoff).orderBy('min_time_ms'),
          (p) => p.maxTimeMs < cutoff,
          (e) => e.timeMs >= cutoff,
        );
        if (deleted === undefined) break;
        result.deletedEvents += deleted;
      }
    }
    if (opts.maxRows !== undefined) {
      const edge = await this.newestEdge(Math.max(0, Math.trunc(opts.maxRows)));
      if (edge !== undefined) {
        // Every call with an id ≤ edge goes: whole packs below it, and the part of the packs of
        // its block that reach over it.
        for (;;) {
          const deleted = await this.retainPass(
            (trx) => trx.selectFrom('event_packs').where('first_id', '<=', edge).orderBy('last_id'),
            (p) => p.lastId <= edge,
            (e) => e.id > edge,
          );
          if (deleted === undefined) break;
          result.deletedEvents += deleted;
        }
      }
    }
    return this.retainMeta(opts, result);
  }

  /**
   * The greatest id of the calls beyond the newest `keep` (all with ids up to it are to go), or
   * undefined when there are no more than `keep`. The packs' counts are summed newest first, block
   * by block, without their bodies; only the block where the sum passes `keep` has its ids read.
   */
  private async newestEdge(keep: number): Promise<number | undefined> {
    let kept = 0;
    let block: number | undefined;
    let blockCount = 0;
    let from: number | undefined;
    let edgeBlock: number | undefined;
    scan: for (;;) {
      let q = this.db.selectFrom('event_packs').select(['last_id', 'base_id', 'event_count']);
      if (from !== undefined) q = q.where('last_id', '<', from);
      const rows = await q.orderBy('last_id', 'desc').limit(5000).execute();
      for (const r of rows) {
        const base = dbToNumber(r.base_id);
        from = dbToNumber(r.last_id);
        if (base !== block) {
          if (block !== undefined && kept + blockCount > keep) {
            edgeBlock = block;
            break scan;
          }
          kept += blockCount;
          block = base;
          blockCount = 0;
        }
        blockCount += dbToNumber(r.event_count);
      }
      if (rows.length < 5000) break;
    }
    if (edgeBlock === undefined) {
      if (block === undefined || kept + blockCount <= keep) return undefined;
      edgeBlock = block;
    }
    const packs = await this.db
      .selectFrom('event_packs')
      .select(['first_id', 'body'])
      .where('last_id', '>=', edgeBlock)
      .where('last_id', '<', edgeBlock + ID_BLOCK)
      .where('base_id', '=', edgeBlock)
      .execute();
    const ids = packs.flatMap((p) => packIds(p.body, dbToNumber(p.first_id))).sort((a, b) => b - a);
    const edge = ids[keep - kept];
    assert(edge !== undefined, 'the retention edge lies in its block');
    return edge;
  }

  /**
   * One transaction of retention: of the first PACKS_PER_DELETE packs `select` finds, deletes those
   * `whole` says go entirely and rewrites the others with the calls `keeps` keeps, and adds to each
   * host's deleted_events how many of its calls went, so that a host's stored count stays
   * event_count − deleted_events. Returns how many calls went, or undefined when `select` found none.
   */
  private async retainPass(
    select: (trx: Transaction<StoreDatabase>) => SelectQueryBuilder<StoreDatabase, 'event_packs', object>,
    whole: (p: { lastId: number; maxTimeMs: number }) => boolean,
    keeps: (e: StoredEvent) => boolean,
  ): Promise<number | undefined> {
    return this.inTransaction(async (trx) => {
      const q = select(trx)
        .select(['last_id', 'first_id', 'base_id', 'host', 'event_count', 'max_time_ms'])
        .limit(PACKS_PER_DELETE);
      // On MySQL a plain SELECT reads the transaction's snapshot while the DELETE acts on the
      // rows committed now; a locking read counts the rows the DELETE will find. On SQLite (WAL)
      // the transaction cannot miscount: if another connection wrote after the read, the DELETE
      // fails with SQLITE_BUSY_SNAPSHOT and nothing is deleted (https://sqlite.org/rescode.html#busy_snapshot).
      const rows = await (this.dialect === 'mysql' ? q.forUpdate() : q).execute();
      if (rows.length === 0) return undefined;
      const perHost = new Map<string, number>();
      const gone = (host: string, n: number): void => {
        if (n > 0) perHost.set(host, (perHost.get(host) ?? 0) + n);
      };
      const drop: number[] = [];
      for (const r of rows) {
        const lastId = dbToNumber(r.last_id);
        if (whole({ lastId, maxTimeMs: dbToNumber(r.max_time_ms) })) {
          drop.push(lastId);
          gone(r.host, dbToNumber(r.event_count));
          continue;
        }
        const body = await trx
          .selectFrom('event_packs')
          .select('body')
          .where('last_id', '=', lastId)
          .executeTakeFirstOrThrow();
        const events = decodePack(body.body, dbToNumber(r.first_id));
        const kept = events.filter(keeps);
        gone(r.host, events.length - kept.length);
        await trx.deleteFrom('event_packs').where('last_id', '=', lastId).execute();
        if (kept.length > 0)
          await trx
            .insertInto('event_packs')
            .values(packBlock(kept, (i) => kept[i]?.id ?? 0, dbToNumber(r.base_id)))
            .execute();
      }
      for (let i = 0; i < drop.length; i += 500)
        await trx
          .deleteFrom('event_packs')
          .where('last_id', 'in', drop.slice(i, i + 500))
          .execute();
      let n = 0;
      for (const [host, count] of perHost) {
        n += count;
        await trx
          .updateTable('hosts')
          .set({ deleted_events: sql<number>`deleted_events + ${count}` })
          .where('host', '=', host)
          .execute();
      }
      return n;
    });
  }

  /** How many of a host's events are stored: kept by every write and every retention run, not counted. */
  async storedEvents(host: string): Promise<number> {
    const r = await this.db
      .selectFrom('hosts')
      .select(['event_count', 'deleted_events'])
      .where('host', '=', host)
      .executeTakeFirst();
    return r === undefined ? 0 : Math.max(0, dbToNumber(r.event_count) - dbToNumber(r.deleted_events));
  }

  private async retainMeta(
    opts: { maxAgeMs?: number; nowMs?: number },
    result: RetentionResult,
  ): Promise<RetentionResult> {
    if (opts.maxAgeMs === undefined) return result;
    const cutoff = Math.trunc((opts.nowMs ?? Date.now()) - opts.maxAgeMs);
    const p = await this.db.deleteFrom('processes').where('last_seen_ms', '<', cutoff).executeTakeFirst();
    result.deletedProcesses = Number(p.numDeletedRows);
    const b = await this.db.deleteFrom('batches').where('committed_ms', '<', cutoff).executeTakeFirst();
    result.deletedBatches = Number(b.numDeletedRows);
    if (result.deletedProcesses > 0) this.current.clear();
    return result;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

// The per-call loops of a commit, apart from the async functions that run its statements: a hot
// loop in a large async function has V8 optimise all of that function (query building included)
// on its background threads, more than once, in every new store worker.

/** The (host, pid)s of a batch that `known` does not know, by host. */
function processesOf(records: EventRecords, known: (host: string, pid: number) => boolean): Map<string, Set<number>> {
  const missing = new Map<string, Set<number>>();
  let lastHost = -1;
  let lastPid = -1;
  for (let i = 0; i < records.length; i++) {
    // Runs of one process's calls: look each run up once.
    const pid = records.pid(i);
    const hostIndex = records.host(i);
    if (pid === lastPid && hostIndex === lastHost) continue;
    lastHost = hostIndex;
    lastPid = pid;
    const host = records.strings[hostIndex] ?? '';
    if (known(host, pid)) continue;
    let pids = missing.get(host);
    if (!pids) missing.set(host, (pids = new Set()));
    pids.add(pid);
  }
  return missing;
}

/** Each host's calls in a batch: how many, the first and last times. */
function hostSpans(records: EventRecords): Map<string, { events: number; first: number; last: number }> {
  const out = new Map<string, { events: number; first: number; last: number }>();
  let lastHost = -1;
  let h: { events: number; first: number; last: number } | undefined;
  for (let i = 0; i < records.length; i++) {
    const hostIndex = records.host(i);
    const timeMs = records.timeMs(i);
    if (h === undefined || hostIndex !== lastHost) {
      const host = records.strings[hostIndex] ?? '';
      h = out.get(host);
      if (h === undefined) out.set(host, (h = { events: 0, first: timeMs, last: timeMs }));
      lastHost = hostIndex;
    }
    h.events++;
    if (timeMs < h.first) h.first = timeMs;
    if (timeMs > h.last) h.last = timeMs;
  }
  return out;
}

/** A processes row's values in the order of its columns in addProcessDeltas (checked at first use). */
function processParams(r: {
  host: string;
  pid: number;
  start_ns: bigint;
  name: string;
  mmap_bytes: bigint;
  munmap_bytes: bigint;
  mmap_calls: number;
  munmap_calls: number;
  brk_calls: number;
  mremap_calls: number;
  mprotect_calls: number;
  failed_calls: number;
  first_seen_ms: number;
  last_seen_ms: number;
  seq: number;
}): unknown[] {
  return [
    r.host,
    r.pid,
    r.start_ns,
    r.name,
    r.mmap_bytes,
    r.munmap_bytes,
    r.mmap_calls,
    r.munmap_calls,
    r.brk_calls,
    r.mremap_calls,
    r.mprotect_calls,
    r.failed_calls,
    r.first_seen_ms,
    r.last_seen_ms,
    r.seq,
  ];
}
