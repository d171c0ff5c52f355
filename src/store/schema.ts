// The event store's schema, in one place: the typed tables for Kysely and the migrations that create
// them, in code (nothing depends on files beside the compiled code), applied automatically at open
// by migrate.ts.
//
// Column conventions (one set for SQLite and MySQL/MariaDB):
// - times are epoch milliseconds in BIGINT; kernel timestamps nanoseconds in BIGINT;
// - 64-bit unsigned values (addresses, lengths) are stored as the signed BIGINT with the same 64 bits
//   (two's complement, see int64.ts): every user-space address on x86-64 (< 2^47, or < 2^56 with
//   5-level paging) and every real length is < 2^63 and so keeps its value and its order; only
//   nonsense arguments ≥ 2^63 (e.g. mmap(NULL, (size_t)-1), which fails) read back correctly but sort
//   as negatives. Results are the kernel's signed long: an address or -errno, stored as they are.
// - `syscall` rather than `call` (a reserved word in MySQL).
import type { ColumnType, Generated, Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import { STORE_SCHEMA_VERSION } from '../wire/store.js';
import { ID_BLOCK, packBlock, type PackRow } from './packs.js';
import { rowToEvent, type StoredEvent } from './rows.js';

export { STORE_SCHEMA_VERSION };

/** What a BIGINT column reads back as: better-sqlite3 (safe integers) gives bigint, mysql2 a string. */
export type Int64Out = bigint | number | string;
type Int64 = ColumnType<Int64Out, bigint | number, bigint | number>;
type Int64Nullable = ColumnType<Int64Out | null, bigint | number | null, bigint | number | null>;
type Int32 = ColumnType<Int64Out, number, number>;
type Int32Nullable = ColumnType<Int64Out | null, number | null, number | null>;

/**
 * The events table of schema versions 1 to 5, one row per call: migration 0006 repacks its rows
 * into event_packs and drops it. Kept as the type the migration reads.
 */
export interface EventsTable {
  id: Generated<Int64Out>;
  time_ms: Int64;
  ktime_ns: Int64;
  host: string;
  pid: Int32;
  tid: Int32;
  name: string;
  thread: string;
  syscall: string;
  addr: Int64;
  length_bytes: Int64;
  prot: Int32Nullable;
  flags: Int64Nullable;
  fd: Int32Nullable;
  result: Int64;
  error: string | null;
  new_length_bytes: Int64Nullable;
  new_addr: Int64Nullable;
}

/**
 * The stored calls (schema version 6): one row per (id block of a batch, host, pid, name), its calls
 * in `body` (event-pack-codec.ts). The other columns are what queries select packs by: the primary
 * key last_id orders them by id, the indexes (pid, last_id, …) and (name, last_id, …) serve the
 * calls view's filters and counts, (min_time_ms) retention by age. See event-store.ts for how ids are given.
 */
export interface EventPacksTable {
  /** The greatest id of the pack's calls: unique, since every call has its own id. */
  last_id: Int64;
  first_id: Int64;
  /** The first id of the pack's id block (packs.ts, ID_BLOCK): packs of one block share it. */
  base_id: Int64;
  host: string;
  pid: Int32;
  name: string;
  event_count: Int32;
  /** Which calls the pack holds: bit i for MEM_CALLS[i]. */
  calls: Int32;
  min_time_ms: Int64;
  max_time_ms: Int64;
  body: Uint8Array;
}

/** One row (k = 1): the next event id to give. */
export interface EventIdsTable {
  k: Int32;
  next_id: Int64;
}

/** Per-process totals, one row per process instance (host, pid, start), updated with every batch. */
export interface ProcessesTable {
  host: string;
  pid: Int32;
  /** Kernel time of the process's fork when the tracer saw it; 0 = already running when seen first. */
  start_ns: Int64;
  name: string;
  mmap_bytes: Int64;
  munmap_bytes: Int64;
  mmap_calls: Int64;
  munmap_calls: Int64;
  brk_calls: Int64;
  mremap_calls: Int64;
  /** Added by migration 0003. */
  mprotect_calls: Int64;
  failed_calls: Int64;
  first_seen_ms: Int64;
  last_seen_ms: Int64;
  /** Order in which instances of the same (host, pid) were opened: the greatest is the current one. */
  seq: Int64;
}

export interface HostsTable {
  host: string;
  first_seen_ms: Int64;
  last_seen_ms: Int64;
  /** Events ever written for the host. */
  event_count: Int64;
  /** Of those, how many retention deleted: event_count − deleted_events are stored now (0 on insert). */
  deleted_events: ColumnType<Int64Out, bigint | number | undefined, bigint | number>;
  lost_events: Int64;
  unpaired: Int64;
  malformed: Int64;
}

/** One row per committed batch: makes a retried batch (after a commit whose answer was lost) a no-op. */
export interface BatchesTable {
  batch_id: string;
  host: string;
  event_count: Int32;
  committed_ms: Int64;
}

/**
 * The /proc history of `memlens serve`, one row per (host, tier, bucket, ledger category). Tier 0
 * holds every sample (n = 1, min = max = avg); tiers 1 and 2 one bucket per minute and per hour
 * (history.ts). Sizes in KiB: /proc/meminfo counts in kB, so nothing is lost, and a KiB figure
 * below 8 GiB fits SQLite's 3-byte integer where the byte figure takes 6.
 */
export interface HistorySystemTable {
  host: string;
  tier: Int32;
  /** Sample time (tier 0) or the bucket's start (epoch ms). */
  t_ms: Int64;
  /** The ledger item's key (ledger.ts), e.g. "anon", "free". */
  category: string;
  n: Int32;
  avg_kib: Int64;
  min_kib: Int64;
  max_kib: Int64;
}

/** Per-process history: one row per (host, tier ≥ 1, bucket, process instance). */
export interface HistoryProcessTable {
  host: string;
  tier: Int32;
  t_ms: Int64;
  pid: Int32;
  /** Field 22 of /proc/PID/stat (clock ticks since boot): with the pid, one process for good. */
  start_ticks: Int64;
  /** Samples merged into the bucket. */
  n: Int32;
  pss_avg_kib: Int64;
  pss_min_kib: Int64;
  pss_max_kib: Int64;
  /** The bucket's last reading of each (null when unreadable). */
  rss_kib: Int64Nullable;
  uss_kib: Int64Nullable;
  swap_kib: Int64Nullable;
}

/** Names of the process instances in the history (comm is chosen by the process: untrusted). */
export interface HistoryNamesTable {
  host: string;
  pid: Int32;
  start_ticks: Int64;
  name: string;
  first_ms: Int64;
  last_ms: Int64;
}

export interface StoreDatabase {
  event_packs: EventPacksTable;
  event_ids: EventIdsTable;
  processes: ProcessesTable;
  hosts: HostsTable;
  batches: BatchesTable;
  history_system: HistorySystemTable;
  history_process: HistoryProcessTable;
  history_names: HistoryNamesTable;
}

export type Dialect = 'sqlite' | 'mysql';

// Migrations build tables through an untyped handle: the typed one describes the result. This is
// the one untyped handle of the store (migrate.ts and the tests that build old schemas use it).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDb = Kysely<any>;

/** A line for the user while a migration runs (the CLI prints it on stderr, `serve` logs it). */
export type StoreNotice = (line: string) => void;

/** One step of the schema. `notice` is for a step that can take long enough to be noticed. */
export interface Migration {
  up(db: AnyDb, notice: StoreNotice): Promise<void>;
  /** How to undo the step by hand: memlens itself never runs it. */
  down?(db: AnyDb): Promise<void>;
}

/**
 * The events table of schema versions 1 to 5, one row per call, with its indexes (the first
 * migration; bench/store/insert-rate.ts builds it too, for the one-row-per-call comparison).
 */
export async function createEventsTable(db: AnyDb, dialect: Dialect): Promise<void> {
  const mysql = dialect === 'mysql';
  const bigint = 'bigint';
  const text = (n: number) => sql.raw(`varchar(${n})`);
  const tableEnd = mysql ? sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin` : sql``;
  await db.schema
    .createTable('events')
    // SQLite: AUTOINCREMENT so ids are never reused after retention deletes the newest rows
    // (keyset cursors held by a dashboard stay meaningful). MySQL: a 64-bit AUTO_INCREMENT.
    .addColumn('id', mysql ? bigint : 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('time_ms', bigint, (c) => c.notNull())
    .addColumn('ktime_ns', bigint, (c) => c.notNull())
    .addColumn('host', text(255), (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('tid', 'integer', (c) => c.notNull())
    .addColumn('name', text(255), (c) => c.notNull())
    .addColumn('thread', text(255), (c) => c.notNull())
    .addColumn('syscall', text(8), (c) => c.notNull())
    .addColumn('addr', bigint, (c) => c.notNull())
    .addColumn('length_bytes', bigint, (c) => c.notNull())
    .addColumn('prot', 'integer')
    .addColumn('flags', bigint)
    .addColumn('fd', 'integer')
    .addColumn('result', bigint, (c) => c.notNull())
    .addColumn('error', text(32))
    .addColumn('new_length_bytes', bigint)
    .addColumn('new_addr', bigint)
    .modifyEnd(tableEnd)
    .execute();
  // Keyset paging is "WHERE <filter> AND id < cursor ORDER BY id DESC": an index on (filter, id)
  // serves it without sorting. Few hosts and four calls are selective enough by scanning id.
  await db.schema.createIndex('events_pid_id').on('events').columns(['pid', 'id']).execute();
  await db.schema.createIndex('events_name_id').on('events').columns(['name', 'id']).execute();
  await db.schema.createIndex('events_time').on('events').column('time_ms').execute();
}

function initial(dialect: Dialect): Migration {
  const mysql = dialect === 'mysql';
  const bigint = 'bigint';
  const text = (n: number) => sql.raw(`varchar(${n})`);
  const tableEnd = mysql ? sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin` : sql``;
  return {
    async up(db: AnyDb): Promise<void> {
      await createEventsTable(db, dialect);

      await db.schema
        .createTable('processes')
        .addColumn('host', text(255), (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('start_ns', bigint, (c) => c.notNull())
        .addColumn('name', text(255), (c) => c.notNull())
        .addColumn('mmap_bytes', bigint, (c) => c.notNull())
        .addColumn('munmap_bytes', bigint, (c) => c.notNull())
        .addColumn('mmap_calls', bigint, (c) => c.notNull())
        .addColumn('munmap_calls', bigint, (c) => c.notNull())
        .addColumn('brk_calls', bigint, (c) => c.notNull())
        .addColumn('mremap_calls', bigint, (c) => c.notNull())
        .addColumn('failed_calls', bigint, (c) => c.notNull())
        .addColumn('first_seen_ms', bigint, (c) => c.notNull())
        .addColumn('last_seen_ms', bigint, (c) => c.notNull())
        .addColumn('seq', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('processes_pk', ['host', 'pid', 'start_ns'])
        .modifyEnd(tableEnd)
        .execute();
      await db.schema.createIndex('processes_last_seen').on('processes').column('last_seen_ms').execute();

      await db.schema
        .createTable('hosts')
        .addColumn('host', text(255), (c) => c.primaryKey())
        .addColumn('first_seen_ms', bigint, (c) => c.notNull())
        .addColumn('last_seen_ms', bigint, (c) => c.notNull())
        .addColumn('event_count', bigint, (c) => c.notNull())
        .addColumn('lost_events', bigint, (c) => c.notNull())
        .addColumn('unpaired', bigint, (c) => c.notNull())
        .addColumn('malformed', bigint, (c) => c.notNull())
        .modifyEnd(tableEnd)
        .execute();

      await db.schema
        .createTable('batches')
        .addColumn('batch_id', text(64), (c) => c.primaryKey())
        .addColumn('host', text(255), (c) => c.notNull())
        .addColumn('event_count', 'integer', (c) => c.notNull())
        .addColumn('committed_ms', bigint, (c) => c.notNull())
        .modifyEnd(tableEnd)
        .execute();
      await db.schema.createIndex('batches_committed').on('batches').column('committed_ms').execute();
    },
    async down(db: AnyDb): Promise<void> {
      for (const t of ['batches', 'hosts', 'processes', 'events']) await db.schema.dropTable(t).execute();
    },
  };
}

/**
 * The /proc history (schema version 2). The tables are keyed by (host, tier, t_ms, …) so that a
 * window of one tier is one range of the key; on SQLite they are WITHOUT ROWID tables, whose rows
 * live in the primary key's b-tree instead of a rowid table plus an index holding the same columns
 * again (https://sqlite.org/withoutrowid.html): at 300 processes a minute that is 432,000 rows a
 * day, where every byte of a row counts. history_process has a second index by process, for the
 * few series the timeline draws.
 */
function history(dialect: Dialect): Migration {
  const mysql = dialect === 'mysql';
  const text = (n: number) => sql.raw(`varchar(${n})`);
  const tableEnd = mysql ? sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin` : sql`WITHOUT ROWID`;
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('history_system')
        .addColumn('host', text(255), (c) => c.notNull())
        .addColumn('tier', 'integer', (c) => c.notNull())
        .addColumn('t_ms', 'bigint', (c) => c.notNull())
        .addColumn('category', text(64), (c) => c.notNull())
        .addColumn('n', 'integer', (c) => c.notNull())
        .addColumn('avg_kib', 'bigint', (c) => c.notNull())
        .addColumn('min_kib', 'bigint', (c) => c.notNull())
        .addColumn('max_kib', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('history_system_pk', ['host', 'tier', 't_ms', 'category'])
        .modifyEnd(tableEnd)
        .execute();
      await db.schema
        .createTable('history_process')
        .addColumn('host', text(255), (c) => c.notNull())
        .addColumn('tier', 'integer', (c) => c.notNull())
        .addColumn('t_ms', 'bigint', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('start_ticks', 'bigint', (c) => c.notNull())
        .addColumn('n', 'integer', (c) => c.notNull())
        .addColumn('pss_avg_kib', 'bigint', (c) => c.notNull())
        .addColumn('pss_min_kib', 'bigint', (c) => c.notNull())
        .addColumn('pss_max_kib', 'bigint', (c) => c.notNull())
        .addColumn('rss_kib', 'bigint')
        .addColumn('uss_kib', 'bigint')
        .addColumn('swap_kib', 'bigint')
        .addPrimaryKeyConstraint('history_process_pk', ['host', 'tier', 't_ms', 'pid', 'start_ticks'])
        .modifyEnd(tableEnd)
        .execute();
      await db.schema
        .createIndex('history_process_by_pid')
        .on('history_process')
        .columns(['host', 'tier', 'pid', 't_ms'])
        .execute();
      await db.schema
        .createTable('history_names')
        .addColumn('host', text(255), (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('start_ticks', 'bigint', (c) => c.notNull())
        .addColumn('name', text(64), (c) => c.notNull())
        .addColumn('first_ms', 'bigint', (c) => c.notNull())
        .addColumn('last_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('history_names_pk', ['host', 'pid', 'start_ticks'])
        .modifyEnd(tableEnd)
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      for (const t of ['history_names', 'history_process', 'history_system']) await db.schema.dropTable(t).execute();
    },
  };
}

/**
 * mprotect is traced too: its events fit the events table as they are (`syscall` is varchar(8),
 * and "mprotect" has 8 characters; prot has its column), and processes counts its calls. Rows
 * written before have none: 0.
 */
function mprotectCalls(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .alterTable('processes')
        .addColumn('mprotect_calls', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.alterTable('processes').dropColumn('mprotect_calls').execute();
    },
  };
}

/**
 * The index by process holds the PSS figures too (a covering index), so that the few series the
 * Timeline draws are read from the index alone: before, each of a day's 1,440 minute buckets of a
 * series cost a lookup in the table, and SQLite preferred to read every process's rows of the
 * window through the primary key (bench/README.md, "/proc history"). It costs about 40 % more
 * index bytes, measured there against the 50 MB a day the history may take.
 */
function historySeriesIndex(dialect: Dialect): Migration {
  const columns = (withPss: boolean): string[] => [
    'host',
    'tier',
    'pid',
    't_ms',
    ...(withPss ? ['start_ticks', 'n', 'pss_avg_kib', 'pss_min_kib', 'pss_max_kib'] : []),
  ];
  const rebuild = async (db: AnyDb, withPss: boolean): Promise<void> => {
    // MySQL names the table of the index to drop; SQLite's DROP INDEX has no ON.
    const drop = db.schema.dropIndex('history_process_by_pid');
    await (dialect === 'mysql' ? drop.on('history_process') : drop).execute();
    await db.schema.createIndex('history_process_by_pid').on('history_process').columns(columns(withPss)).execute();
  };
  return {
    up: (db) => rebuild(db, true),
    down: (db) => rebuild(db, false),
  };
}

/**
 * How many of a host's events are stored is kept, not counted: counting was a scan of every event
 * of the host (no index starts with the host), 0.4–0.9 s for a million events on the server's
 * thread, and a dashboard asks for it with every status. Retention adds what it deletes to
 * deleted_events; the upgrade counts once what earlier retention runs deleted.
 */
function hostsDeletedEvents(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .alterTable('hosts')
        .addColumn('deleted_events', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update hosts set deleted_events = event_count - (select count(*) from events where events.host = hosts.host)`.execute(
        db,
      );
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.alterTable('hosts').dropColumn('deleted_events').execute();
    },
  };
}

/**
 * Calls stored as packs (event_packs, see its type above): one row per id block of a batch and
 * process instead of one row and three index entries per call, which cost SQLite more than the
 * goal of 2.5 µs of memlens CPU per call on its own (bench/README.md, "Cost per call").
 *
 * Stores of schema 1 to 5 are repacked here, once, rather than read in both layouts: a second
 * layout would stay in every query, every count and retention for as long as any old store
 * exists, with the id order of two tables to merge, while repacking costs one pass over the old
 * rows at the first open (about 15 s of CPU a million rows into SQLite, bench/README.md: minutes
 * for a store of ten million). Every event keeps its id: the old rows
 * are read in id order and cut into blocks of ids less than ID_BLOCK apart, whose packs hold
 * each id as it was (event-pack-codec.ts), so a cursor a client holds keeps its place. The next id
 * given is past the greatest old one (and past SQLite's AUTOINCREMENT counter, which also counts
 * ids deleted from the top). On MySQL, where DDL commits at once, a run cut short is started over:
 * the new tables are emptied first, and the old table is dropped last.
 */
function eventPacks(dialect: Dialect): Migration {
  const mysql = dialect === 'mysql';
  const text = (n: number) => sql.raw(`varchar(${n})`);
  const tableEnd = mysql ? sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin` : sql``;
  return {
    async up(db: AnyDb, notice: StoreNotice): Promise<void> {
      await db.schema
        .createTable('event_packs')
        .ifNotExists()
        // SQLite: an INTEGER PRIMARY KEY is the rowid, the table's own b-tree key.
        .addColumn('last_id', mysql ? 'bigint' : 'integer', (c) => c.primaryKey())
        .addColumn('first_id', 'bigint', (c) => c.notNull())
        .addColumn('base_id', 'bigint', (c) => c.notNull())
        .addColumn('host', text(255), (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('name', text(255), (c) => c.notNull())
        .addColumn('event_count', 'integer', (c) => c.notNull())
        .addColumn('calls', 'integer', (c) => c.notNull())
        .addColumn('min_time_ms', 'bigint', (c) => c.notNull())
        .addColumn('max_time_ms', 'bigint', (c) => c.notNull())
        // Last, so that a read of the other columns does not load it (SQLite reads a row's columns
        // in order; a body past a page is in overflow pages). MySQL: MEDIUMBLOB holds 16 MiB.
        .addColumn('body', mysql ? sql.raw('mediumblob') : 'blob', (c) => c.notNull())
        .modifyEnd(tableEnd)
        .execute();
      // By pid and by name, newest first; host and event_count too, so that the dashboard's counts
      // of a host's process or name are read from the index alone (a 10 M store's count by a
      // shared name read 60,000 packs' rows otherwise: 60 ms at the server, bench/README.md).
      await db.schema
        .createIndex('event_packs_pid')
        .ifNotExists()
        .on('event_packs')
        .columns(['pid', 'last_id', 'host', 'event_count'])
        .execute();
      await db.schema
        .createIndex('event_packs_name')
        .ifNotExists()
        .on('event_packs')
        .columns(['name', 'last_id', 'host', 'event_count'])
        .execute();
      await db.schema
        .createIndex('event_packs_min_time')
        .ifNotExists()
        .on('event_packs')
        .column('min_time_ms')
        .execute();
      await db.schema
        .createTable('event_ids')
        .ifNotExists()
        .addColumn('k', 'integer', (c) => c.primaryKey())
        .addColumn('next_id', 'bigint', (c) => c.notNull())
        .modifyEnd(tableEnd)
        .execute();
      await db.deleteFrom('event_packs').execute();
      await db.deleteFrom('event_ids').execute();

      const progress = await repackProgress(db, notice);
      let greatest = 0;
      let block: { base: number; events: StoredEvent[] } | undefined;
      const flush = async (): Promise<void> => {
        if (block === undefined || block.events.length === 0) return;
        const events = block.events;
        await insertPackRows(
          db,
          packBlock(events, (i) => events[i]?.id ?? 0, block.base),
        );
        block = undefined;
      };
      for (;;) {
        const rows = (await db
          .selectFrom('events')
          .selectAll()
          .where('id', '>', greatest)
          .orderBy('id')
          .limit(20_000)
          .execute()) as Selectable<EventsTable>[];
        for (const r of rows) {
          const e = rowToEvent(r);
          if (block !== undefined && e.id >= block.base + ID_BLOCK) await flush();
          block ??= { base: e.id, events: [] };
          block.events.push(e);
          greatest = e.id;
        }
        progress.add(rows.length);
        if (rows.length < 20_000) break;
      }
      await flush();
      // MySQL's AUTO_INCREMENT counter is read only through information_schema, which migrate.ts
      // keeps away from: there, only ids of a table that retention emptied entirely can come again.
      if (!mysql) {
        const seq = (await sql<{ seq: Int64Out }>`select seq from sqlite_sequence where name = 'events'`.execute(db))
          .rows[0];
        if (seq !== undefined) greatest = Math.max(greatest, Number(seq.seq));
      }
      await db
        .insertInto('event_ids')
        .values({ k: 1, next_id: greatest + 1 })
        .execute();
      await db.schema.dropTable('events').execute();
      progress.end();
    },
  };
}

/** Below this many old rows the repack takes under about 2 s and says nothing. */
const REPACK_QUIET_ROWS = 100_000;
/** How often a long repack says how far it is. */
const REPACK_PROGRESS_MS = 10_000;

/**
 * What the repack of migration 0006 tells the user: a store of ten million calls takes minutes at
 * its first open by this version, which without a word looks like a hang. The count is one pass
 * over the old table's primary key, small beside the repack's own pass.
 */
async function repackProgress(db: AnyDb, notice: StoreNotice): Promise<{ add(rows: number): void; end(): void }> {
  const counted = (await sql<{ n: Int64Out }>`select count(*) as n from events`.execute(db)).rows[0];
  const total = Number(counted?.n ?? 0);
  if (total < REPACK_QUIET_ROWS) return { add: () => undefined, end: () => undefined };
  const startMs = Date.now();
  let lastMs = startMs;
  let done = 0;
  notice(
    `repacking the ${total.toLocaleString('en-US')} stored calls into packs (store schema 6), once; this takes about 15 s a million calls`,
  );
  return {
    add(rows: number): void {
      done += rows;
      const nowMs = Date.now();
      if (nowMs - lastMs < REPACK_PROGRESS_MS || done >= total) return;
      lastMs = nowMs;
      notice(`repacking: ${Math.floor((100 * done) / total)} % of the stored calls`);
    },
    end(): void {
      notice(`repacked ${total.toLocaleString('en-US')} calls in ${((Date.now() - startMs) / 1000).toFixed(0)} s`);
    },
  };
}

/** Inserts pack rows in statements of at most 200 rows and about 4 MiB (mysql2 sends them whole). */
export async function insertPackRows(db: AnyDb, rows: readonly PackRow[]): Promise<void> {
  let i = 0;
  while (i < rows.length) {
    let bytes = 0;
    let j = i;
    while (j < rows.length && j - i < 200 && (j === i || bytes < 4 << 20)) bytes += rows[j++]?.body.length ?? 0;
    await db.insertInto('event_packs').values(rows.slice(i, j)).execute();
    i = j;
  }
}

/** The migrations, keyed so that they sort in the order they apply. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_history': history(dialect),
    '0003_mprotect_calls': mprotectCalls(),
    '0004_history_series_index': historySeriesIndex(dialect),
    '0005_hosts_deleted_events': hostsDeletedEvents(),
    '0006_event_packs': eventPacks(dialect),
  };
}
