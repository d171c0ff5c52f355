// Opens the Kysely handle for a store location: better-sqlite3 for a file, a mysql2 pool for a URL.
// Failures to reach the database become one-line UserErrors that name the database and the cause.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  Kysely,
  MysqlDialect,
  SqliteDialect,
  type MysqlPool,
  type MysqlPoolConnection,
  type MysqlQueryResult,
  type SqliteDatabase,
} from 'kysely';
// mysql2 is loaded only for a MySQL URL (connectMysql): loading it costs about 45 ms and 15 MiB of
// resident memory in each thread that does, which a SQLite store (the default) never uses.
import type * as Mysql2 from 'mysql2';
import type { ConnectionOptions, ExecuteValues, Pool, PoolConnection, QueryError } from 'mysql2';
import { UserError, errnoCode } from '../base/errors.js';
import type { Dialect, StoreDatabase } from './schema.js';
import { describeLocation, type StoreLocation } from './url.js';

/** A statement prepared once and run many times on the SQLite connection itself. */
export interface PreparedRun {
  run(values: readonly unknown[]): void;
}

export interface Connection {
  db: Kysely<StoreDatabase>;
  dialect: Dialect;
  description: string;
  /**
   * SQLite only: prepares SQL text (compiled by Kysely) on the same connection, so that its runs
   * take part in Kysely's open transaction. The event INSERT uses it: one prepared single-row
   * statement run per event costs less than building, preparing and binding multi-row INSERTs.
   */
  prepare?: (sqlText: string) => PreparedRun;
}

export interface ConnectOptions {
  /**
   * The database must exist already: for commands that only read (`memlens events`), where a
   * mistyped path or database name must be an error, not a new empty store that answers "nothing".
   */
  mustExist?: boolean;
}

export async function connect(loc: StoreLocation, opts: ConnectOptions = {}): Promise<Connection> {
  return loc.kind === 'sqlite'
    ? connectSqlite(loc.path, loc.createDir === true && opts.mustExist !== true, opts.mustExist === true)
    : connectMysql(loc, opts.mustExist === true);
}

/** The one line for a store that is not there, with what to check. */
function missing(description: string, why: string): UserError {
  return new UserError(
    `no database ${description}: ${why} (memlens events reads what memlens trace stored; check --db)`,
  );
}

function connectSqlite(path: string, createDir: boolean, mustExist: boolean): Connection {
  let sqlite: Database.Database;
  if (mustExist) {
    let isFile: boolean;
    try {
      isFile = statSync(path).isFile();
    } catch (e) {
      throw missing(`sqlite:${path}`, errnoCode(e) === 'ENOENT' ? 'no such file' : (errnoCode(e) ?? String(e)));
    }
    if (!isFile) throw missing(`sqlite:${path}`, 'not a file');
  }
  try {
    // Only the default location's directories are created: a mistyped --db path is an error, not
    // a new directory tree (and recursive mkdir under /proc never returns on Node 20).
    if (createDir) mkdirSync(dirname(path), { recursive: true });
    // fileMustExist: a file removed between the check above and here is still not created.
    sqlite = new Database(path, { fileMustExist: mustExist });
    // WAL: readers (the dashboard, `memlens events`) never block the tracer's writes, and a commit
    // is one append to the log. synchronous=NORMAL is durable across an application crash in WAL
    // mode (a power loss may lose the last commits): https://sqlite.org/pragma.html#pragma_synchronous
    // 16 KiB pages for a new file (https://sqlite.org/pragma.html#pragma_page_size: set before the
    // database is created; a file in WAL mode keeps the size it has). A batch's packs are blobs of
    // about 0.5 MB, and each page is a frame of its own in the WAL and a write of its own: with
    // 4 KiB pages SQLite's share of a 5,000-call batch was 0.55 µs a call, with 16 KiB 0.35 µs,
    // while a batch of one call costs the same (bench/README.md, issue 13 §2). 64 KiB pages cost a
    // batch of one call twice as much. The WAL is checkpointed at 1,000 pages, 16 MiB now.
    sqlite.pragma('page_size = 16384');
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 10000');
  } catch (e) {
    throw new UserError(`cannot open database sqlite:${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  // 64-bit columns read back as bigint, never rounded through a double.
  sqlite.defaultSafeIntegers(true);
  const prepare = (sqlText: string): PreparedRun => {
    const stmt = sqlite.prepare(sqlText);
    return { run: (values) => void stmt.run(values) };
  };
  return {
    db: new Kysely<StoreDatabase>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) }),
    dialect: 'sqlite',
    description: `sqlite:${path}`,
    prepare,
  };
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing a 1,500-row INSERT costs as much as
 * a fifth of running it. Prepared statements are reusable in better-sqlite3, so the handle given to
 * Kysely keeps the most recent ones by SQL text (nothing here streams results, which would keep a
 * statement busy).
 */
function cachingStatements(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare: (text: string) => {
      let stmt = cache.get(text);
      if (stmt === undefined) {
        stmt = db.prepare(text);
        if (cache.size >= 64) cache.clear();
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

type MysqlLocation = Extract<StoreLocation, { kind: 'mysql' }>;

function options(loc: MysqlLocation, withDatabase: boolean): ConnectionOptions {
  return {
    ...(loc.socketPath === undefined ? { host: loc.host, port: loc.port } : { socketPath: loc.socketPath }),
    user: loc.user,
    password: loc.password,
    ...(withDatabase ? { database: loc.database } : {}),
    charset: 'utf8mb4',
    connectTimeout: 5000,
    // BIGINT always as decimal strings: no value past 2^53 is ever rounded.
    supportBigNumbers: true,
    bigNumberStrings: true,
  };
}

/** One connection to check that the server answers and the database exists (creating it if not, unless mustExist). */
function probe(loc: MysqlLocation, mustExist: boolean, mysql: typeof Mysql2): Promise<void> {
  const attempt = (withDatabase: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = mysql.createConnection(options(loc, withDatabase));
      c.on('error', () => undefined);
      c.connect((err) => {
        if (err) {
          c.destroy();
          reject(err);
          return;
        }
        const done = (e: Error | null): void => {
          c.end(() => undefined);
          if (e) reject(e);
          else resolve();
        };
        // The name passed the URL check (letters, digits, _ $ -), so quoting it with backticks is safe.
        if (withDatabase) done(null);
        else c.query(`CREATE DATABASE IF NOT EXISTS \`${loc.database}\` CHARACTER SET utf8mb4`, (e) => done(e));
      });
    });
  return attempt(true).catch(async (e: unknown) => {
    if (errnoCode(e) === 'ER_BAD_DB_ERROR' && !mustExist) return attempt(false);
    throw e;
  });
}

async function connectMysql(loc: MysqlLocation, mustExist: boolean): Promise<Connection> {
  const description = describeLocation(loc);
  const mysql = await import('mysql2');
  try {
    await probe(loc, mustExist, mysql);
  } catch (e) {
    if (mustExist && errnoCode(e) === 'ER_BAD_DB_ERROR')
      throw missing(description, `the server has no database "${loc.database}"`);
    throw new UserError(`cannot reach database ${description}: ${mysqlCause(e)}`);
  }
  const pool: Pool = mysql.createPool({
    ...options(loc, true),
    connectionLimit: 4,
    waitForConnections: true,
    enableKeepAlive: true,
  });
  // A server that goes away makes idle pooled connections emit errors: they are dropped by the
  // pool, and the next query reports the outage to its caller (the BufferedWriter retries).
  pool.on('connection', (c) => c.on('error', () => undefined));
  const withBlobs: MysqlPool = {
    getConnection: (callback) =>
      // On an error Kysely reads only the error: the wrapper of no connection is never used.
      pool.getConnection((err, conn) => callback(err, new BlobsAsBytes(conn))),
    end: (callback) => pool.end((err) => callback(err)),
  };
  return {
    db: new Kysely<StoreDatabase>({ dialect: new MysqlDialect({ pool: withBlobs }) }),
    dialect: 'mysql',
    description,
  };
}

/**
 * A pooled connection as Kysely uses it, except that statements with a binary parameter (the
 * packs' bodies, event_packs.body) go as prepared statements: mysql2's text protocol, which
 * Kysely's driver uses, writes a Buffer into the statement as hex text (twice its size, built as
 * a string and encoded again), which was most of the client's CPU per stored call; the binary
 * protocol (COM_STMT_EXECUTE, https://mariadb.com/kb/en/com_stmt_execute/) sends its bytes as
 * they are. mysql2 keeps the prepared statements per connection, by SQL text.
 */
class BlobsAsBytes implements MysqlPoolConnection {
  constructor(private readonly conn: PoolConnection) {}

  query(sql: string, parameters: unknown[]): ReturnType<PoolConnection['query']>;
  query(sql: string, parameters: unknown[], callback: (error: unknown, result: MysqlQueryResult) => void): void;
  query(
    sql: string,
    parameters: unknown[],
    callback?: (error: unknown, result: MysqlQueryResult) => void,
  ): ReturnType<PoolConnection['query']> | undefined {
    if (callback === undefined) return this.conn.query(sql, parameters);
    const done = (error: QueryError | null, result: unknown): void => callback(error, result as MysqlQueryResult);
    if (parameters.some((p) => p instanceof Uint8Array)) this.conn.execute(sql, parameters as ExecuteValues, done);
    else this.conn.query(sql, parameters, done);
    return undefined;
  }

  release(): void {
    this.conn.release();
  }
}

export function mysqlCause(e: unknown): string {
  const code = errnoCode(e);
  const message = e instanceof Error ? e.message : String(e);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running?)';
    case 'ENOTFOUND':
      return 'unknown host';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return `access denied (${message})`;
    default:
      return code === undefined ? message : `${code}: ${message}`;
  }
}
