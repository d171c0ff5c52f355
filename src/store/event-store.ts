// The event store: one typed query layer (Kysely) over SQLite and MySQL/MariaDB.
// Writes are batches: one transaction inserts the events with multi-row INSERTs, adds the batch's
// per-process and per-host deltas, and records the batch id, so that a batch retried after a commit
// whose answer was lost is recognised and skipped (exactly once). All SQL is parameterised.
import { randomUUID } from 'node:crypto';
import {
  CompiledQuery,
  sql,
  type Kysely,
  type RawBuilder,
  type Transaction,
  type ExpressionBuilder,
  type Expression,
  type SqlBool,
} from 'kysely';
import { assert } from '../base/assert.js';
import { UserError } from '../base/errors.js';
import type { LostCounts, MemCall, MemEvent } from '../wire/events.js';
import type { Connection, PreparedRun } from './connect.js';
import { dbToNumber } from './int64.js';
import { eventToRow, pushEventParams, rowToEvent, clip, NAME_WIDTH, type StoredEvent } from './rows.js';
import { HistoryStore } from './history.js';
import { migrate } from './migrate.js';
import { STORE_SCHEMA_VERSION, type Dialect, type Int64Out, type StoreDatabase } from './schema.js';
import {
  foldBatch,
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
  events: readonly MemEvent[];
  starts?: readonly ProcessStart[];
  lost?: readonly LostDelta[];
}

export interface RetentionResult {
  deletedEvents: number;
  deletedProcesses: number;
  deletedBatches: number;
}

const MAX_LIMIT = 10_000;
// Rows per INSERT: SQLite allows 32,766 bound parameters (SQLITE_MAX_VARIABLE_NUMBER since 3.32),
// 17 per event; mysql2 interpolates client-side, bounded by max_allowed_packet (16 MiB default).
const ROWS_PER_INSERT: Record<Dialect, number> = { sqlite: 1500, mysql: 2000 };
const DELETE_CHUNK = 50_000;

export const newBatchId = (): string => randomUUID();

/** An event with every column set, to check the order of the INSERT's parameters once. */
const SAMPLE_EVENT: MemEvent = {
  timeMs: 1,
  ktimeNs: 2n,
  host: 'h',
  pid: 3,
  tid: 4,
  name: 'n',
  thread: 't',
  call: 'mremap',
  addr: 5n,
  lengthBytes: 6n,
  prot: 7,
  flags: 8,
  fd: 9,
  result: 10n,
  error: 'E',
  newLengthBytes: 11n,
  newAddr: 12n,
};

export class EventStore {
  /** Current process instance per (host, pid), as committed; filled lazily from the database. */
  private readonly current = new Map<string, bigint>();
  /** SQL text of the events INSERT by row count (see insertEvents). */
  private readonly insertSql = new Map<number, string>();
  /** SQL text of the other statements every batch runs, by shape (see runShaped). */
  private readonly shapedSql = new Map<string, string>();

  /** SQLite: the single-row events INSERT, prepared once (see Connection.prepare). */
  private insertOne: PreparedRun | undefined;
  private readonly oneRow: unknown[] = [];
  /** The /proc history of `memlens serve` (history.ts), in the same database. */
  readonly history: HistoryStore;

  private constructor(
    readonly db: Kysely<StoreDatabase>,
    readonly dialect: Dialect,
    readonly description: string,
  ) {
    this.history = new HistoryStore(db, dialect);
  }

  static async open(conn: Connection): Promise<EventStore> {
    const store = new EventStore(conn.db, conn.dialect, conn.description);
    await store.migrate();
    if (conn.prepare) {
      // The statement text comes from the typed query builder; only its execution bypasses it.
      const sample = eventToRow(SAMPLE_EVENT);
      const compiled = conn.db.insertInto('events').values(sample).compile();
      const params: unknown[] = [];
      pushEventParams(SAMPLE_EVENT, params);
      assert(
        compiled.parameters.length === params.length && compiled.parameters.every((v, i) => v === params[i]),
        'events INSERT parameter order',
      );
      store.insertOne = conn.prepare(compiled.sql);
    }
    return store;
  }

  private async migrate(): Promise<void> {
    let applied: number;
    try {
      applied = await migrate(this.db, this.dialect);
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
          host: clip(batch.events[0]?.host ?? batch.lost?.[0]?.host ?? '', NAME_WIDTH),
          event_count: batch.events.length,
          committed_ms: Date.now(),
        };
        await this.runShaped(trx, 'batches-insert', () => trx.insertInto('batches').values(row).compile(), [
          row.batch_id,
          row.host,
          row.event_count,
          row.committed_ms,
        ]);
        const chunk = ROWS_PER_INSERT[this.dialect];
        for (let i = 0; i < batch.events.length; i += chunk)
          await this.insertEvents(trx, batch.events.slice(i, i + chunk));
        const deltas = await this.foldWithCurrent(trx, batch);
        await this.addProcessDeltas(trx, deltas);
        await this.addHostDeltas(trx, batch);
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

  /**
   * One multi-row INSERT. Kysely builds the statement the first time for each row count; after
   * that its SQL text is reused with the new parameters, which saves the query builder's work
   * per row (a third of the insert time in bench/store). The first use checks that the flattened
   * parameters are exactly those Kysely produced.
   */
  private async insertEvents(trx: Transaction<StoreDatabase>, events: readonly MemEvent[]): Promise<void> {
    const one = this.insertOne;
    if (one !== undefined) {
      const row = this.oneRow;
      for (const e of events) {
        row.length = 0;
        pushEventParams(e, row);
        one.run(row);
      }
      return;
    }
    const params: unknown[] = [];
    for (const e of events) pushEventParams(e, params);
    let text = this.insertSql.get(events.length);
    if (text === undefined) {
      const compiled = trx.insertInto('events').values(events.map(eventToRow)).compile();
      assert(
        compiled.parameters.length === params.length && compiled.parameters.every((v, i) => v === params[i]),
        'events INSERT parameter order',
      );
      text = compiled.sql;
      if (this.insertSql.size < 64) this.insertSql.set(events.length, text);
    }
    await trx.executeQuery(CompiledQuery.raw(text, params));
  }

  private async foldWithCurrent(trx: Transaction<StoreDatabase>, batch: StoreBatch): Promise<ProcessDelta[]> {
    // Load the current instance of every (host, pid) of the batch that the cache does not know.
    const missing = new Map<string, Set<number>>();
    let lastHost: string | undefined;
    let lastPid = -1;
    for (const e of batch.events) {
      // Runs of one process's calls: look each run up once.
      if (e.pid === lastPid && e.host === lastHost) continue;
      lastHost = e.host;
      lastPid = e.pid;
      if (this.current.has(keyOf(e.host, e.pid))) continue;
      let pids = missing.get(e.host);
      if (!pids) missing.set(e.host, (pids = new Set()));
      pids.add(e.pid);
    }
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
    return foldBatch(batch.events, batch.starts ?? [], (host, pid) => this.current.get(keyOf(host, pid)));
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

  private async addHostDeltas(trx: Transaction<StoreDatabase>, batch: StoreBatch): Promise<void> {
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
    for (const e of batch.events) {
      const h = get(e.host, e.timeMs);
      h.events++;
      h.first = Math.min(h.first, e.timeMs);
      h.last = Math.max(h.last, e.timeMs);
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
    let q = this.filtered(query).selectAll();
    if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
    if (query.afterId !== undefined) q = q.where('id', '>', query.afterId);
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map(rowToEvent);
  }

  /**
   * Every event that matches, oldest first (by id), in pages of `pageRows`: what `memlens events
   * --all` prints, in memory bounded by one page whatever the store holds. Each page is a keyset
   * query (`id > last ORDER BY id LIMIT n`) served by the primary key, so the last page costs what
   * the first does. All pages are read in one read-only transaction, so that they are one snapshot:
   * the events committed when the first page was read, each exactly once, even while tracers write
   * (SQLite in WAL mode and InnoDB at REPEATABLE READ, MySQL's default, both read from a snapshot
   * taken at the transaction's first read; on MySQL ids of concurrent writers' transactions are not
   * committed in id order, so without the snapshot an event could land behind the last page read).
   * On SQLite the log cannot be checkpointed past that snapshot until the reading ends.
   */
  async *streamEvents(
    filter: EventFilter & { beforeId?: number } = {},
    pageRows = 2000,
  ): AsyncGenerator<StoredEvent[]> {
    assert(Number.isSafeInteger(pageRows) && pageRows > 0 && pageRows <= MAX_LIMIT, 'page size');
    const trx = await this.db.startTransaction().execute();
    try {
      let last = 0;
      for (;;) {
        let q = this.filtered(filter, trx).selectAll().where('id', '>', last);
        if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
        const rows = await q.orderBy('id', 'asc').limit(pageRows).execute();
        if (rows.length === 0) return;
        const page = rows.map(rowToEvent);
        last = page[page.length - 1]?.id ?? last;
        yield page;
        if (rows.length < pageRows) return;
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
    if (atMost !== undefined) {
      const limited = this.filtered(filter)
        .select('id')
        .limit(Math.max(0, Math.trunc(atMost)))
        .as('m');
      const row = await this.db
        .selectFrom(limited)
        .select((eb) => eb.fn.countAll<Int64Out>().as('n'))
        .executeTakeFirstOrThrow();
      return dbToNumber(row.n);
    }
    const row = await this.filtered(filter)
      .select((eb) => eb.fn.countAll<Int64Out>().as('n'))
      .executeTakeFirstOrThrow();
    return dbToNumber(row.n);
  }

  private filtered(f: EventFilter, db: Kysely<StoreDatabase> = this.db) {
    let q = db.selectFrom('events');
    if (f.host !== undefined) q = q.where('host', '=', f.host);
    if (f.pid !== undefined) q = q.where('pid', '=', f.pid);
    if (f.name !== undefined) q = q.where('name', '=', f.name);
    if (f.call !== undefined) q = q.where('syscall', '=', f.call);
    if (f.sinceMs !== undefined) q = q.where('time_ms', '>=', Math.trunc(f.sinceMs));
    if (f.untilMs !== undefined) q = q.where('time_ms', '<', Math.trunc(f.untilMs));
    return q;
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
   * Deletes events older than maxAgeMs and/or all but the newest maxRows events, in chunks so that
   * no single statement holds locks for long. Age retention also drops processes not seen within
   * the age and batch ids older than it. Totals are cumulative and are not reduced by retention.
   */
  async applyRetention(opts: { maxAgeMs?: number; maxRows?: number; nowMs?: number }): Promise<RetentionResult> {
    const result: RetentionResult = { deletedEvents: 0, deletedProcesses: 0, deletedBatches: 0 };
    const minRow = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.min<Int64Out | null>('id').as('m'))
      .executeTakeFirst();
    if (minRow?.m === null || minRow?.m === undefined) return this.retainMeta(opts, result);
    const minId = dbToNumber(minRow.m);
    if (opts.maxAgeMs !== undefined) {
      const cutoff = Math.trunc((opts.nowMs ?? Date.now()) - opts.maxAgeMs);
      const top = await this.db
        .selectFrom('events')
        .select((eb) => eb.fn.max<Int64Out | null>('id').as('m'))
        .where('time_ms', '<', cutoff)
        .executeTakeFirst();
      if (top?.m !== null && top?.m !== undefined) {
        const topId = dbToNumber(top.m);
        for (let lo = minId; lo <= topId; lo += DELETE_CHUNK) {
          const hi = Math.min(lo + DELETE_CHUNK, topId + 1);
          result.deletedEvents += await this.deleteCounted((eb) =>
            eb.and([eb('id', '>=', lo), eb('id', '<', hi), eb('time_ms', '<', cutoff)]),
          );
        }
      }
    }
    if (opts.maxRows !== undefined) {
      const keep = Math.max(0, Math.trunc(opts.maxRows));
      const edge = await this.db
        .selectFrom('events')
        .select('id')
        .orderBy('id', 'desc')
        .limit(1)
        .offset(keep)
        .executeTakeFirst();
      if (edge !== undefined) {
        const topId = dbToNumber(edge.id);
        for (let lo = minId; lo <= topId; lo += DELETE_CHUNK) {
          const hi = Math.min(lo + DELETE_CHUNK - 1, topId);
          result.deletedEvents += await this.deleteCounted((eb) => eb.and([eb('id', '>=', lo), eb('id', '<=', hi)]));
        }
      }
    }
    return this.retainMeta(opts, result);
  }

  /**
   * Deletes the events `where` selects, and adds to each host's deleted_events how many of its
   * events went, in one transaction: a host's stored count stays event_count − deleted_events.
   */
  private async deleteCounted(
    where: (eb: ExpressionBuilder<StoreDatabase, 'events'>) => Expression<SqlBool>,
  ): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const count = trx
        .selectFrom('events')
        .where(where)
        .select(['host', (eb) => eb.fn.countAll<Int64Out>().as('n')])
        .groupBy('host');
      // On MySQL a plain SELECT reads the transaction's snapshot while the DELETE acts on the
      // rows committed now; a locking read counts the rows the DELETE will find (another writer's
      // events committed in between included). On SQLite (WAL) the transaction cannot miscount: if
      // another connection wrote after the count, the DELETE fails with SQLITE_BUSY_SNAPSHOT and
      // nothing is deleted (https://sqlite.org/rescode.html#busy_snapshot).
      const perHost = await (this.dialect === 'mysql' ? count.forUpdate() : count).execute();
      const r = await trx.deleteFrom('events').where(where).executeTakeFirst();
      for (const h of perHost)
        await trx
          .updateTable('hosts')
          .set({ deleted_events: sql<number>`deleted_events + ${dbToNumber(h.n)}` })
          .where('host', '=', h.host)
          .execute();
      return Number(r.numDeletedRows);
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
