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
import type { ColumnType, Generated, Kysely, Migration } from 'kysely';
import { sql } from 'kysely';
import { STORE_SCHEMA_VERSION } from '../wire/store.js';

export { STORE_SCHEMA_VERSION };

/** What a BIGINT column reads back as: better-sqlite3 (safe integers) gives bigint, mysql2 a string. */
export type Int64Out = bigint | number | string;
type Int64 = ColumnType<Int64Out, bigint | number, bigint | number>;
type Int64Nullable = ColumnType<Int64Out | null, bigint | number | null, bigint | number | null>;
type Int32 = ColumnType<Int64Out, number, number>;
type Int32Nullable = ColumnType<Int64Out | null, number | null, number | null>;

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
  /** Added by migration 0002. */
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
  event_count: Int64;
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

export interface StoreDatabase {
  events: EventsTable;
  processes: ProcessesTable;
  hosts: HostsTable;
  batches: BatchesTable;
}

export type Dialect = 'sqlite' | 'mysql';

// Migrations build tables through an untyped handle: the typed one describes the result.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

function initial(dialect: Dialect): Migration {
  const mysql = dialect === 'mysql';
  const bigint = 'bigint';
  const text = (n: number) => sql.raw(`varchar(${n})`);
  const tableEnd = mysql ? sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin` : sql``;
  return {
    async up(db: AnyDb): Promise<void> {
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

/** The migrations, keyed so that they sort in the order they apply. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return { '0001_initial': initial(dialect), '0002_mprotect_calls': mprotectCalls() };
}
