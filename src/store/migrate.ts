// Applies the schema's migrations (schema.ts) that a database has not seen yet, in name order,
// recording each in `memlens_migrations`. Not Kysely's Migrator: to learn whether its own table
// exists, the Migrator introspects the whole schema through information_schema.columns joined to
// information_schema.tables, and on MariaDB 10.11.19 that query made the server die with signal 11
// (in free_tmp_table → ha_maria::drop_table) while other databases were being created and dropped.
// A CREATE TABLE IF NOT EXISTS needs no introspection at all.
import { sql } from 'kysely';
import { migrations, type AnyDb, type Dialect, type StoreNotice } from './schema.js';

// The migrations table is not part of StoreDatabase: it is reached through the untyped handle.

const LOCK = 'memlens_store_migrate';

/** Returns the number of migrations the database has applied (its schema version). */
export async function migrate(db: AnyDb, dialect: Dialect, notice: StoreNotice = () => undefined): Promise<number> {
  if (dialect === 'sqlite') {
    // SQLite's DDL is transactional and a writer holds the database lock: one opener at a time.
    return db.transaction().execute((trx) => applyPending(trx, dialect, notice, async (up) => up(trx)));
  }
  // MySQL's DDL commits implicitly: a named lock keeps two memlens instances (two hosts starting at
  // once) from applying the same migration twice. GET_LOCK belongs to a connection, so one is held.
  return db.connection().execute(async (conn) => {
    await sql`select get_lock(${LOCK}, 60)`.execute(conn);
    try {
      return await applyPending(conn, dialect, notice, async (up) => up(conn));
    } finally {
      await sql`select release_lock(${LOCK})`.execute(conn);
    }
  });
}

async function applyPending(
  db: AnyDb,
  dialect: Dialect,
  notice: StoreNotice,
  run: (up: (db: AnyDb) => Promise<void>) => Promise<void>,
): Promise<number> {
  await db.schema
    .createTable('memlens_migrations')
    .ifNotExists()
    .addColumn('name', sql.raw('varchar(64)'), (c) => c.primaryKey())
    .addColumn('applied_ms', 'bigint', (c) => c.notNull())
    .execute();
  const rows = (await db.selectFrom('memlens_migrations').select('name').execute()) as { name: string }[];
  const done = new Set(rows.map((r) => r.name));
  const all = Object.entries(migrations(dialect)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, m] of all) {
    if (done.has(name)) continue;
    await run((d) => m.up(d, notice));
    await db.insertInto('memlens_migrations').values({ name, applied_ms: Date.now() }).execute();
    done.add(name);
  }
  return done.size;
}
