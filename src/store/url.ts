// Where the event store lives: parsing of `--db` values. SQLite is the default (a file under the
// user's data directory, XDG Base Directory Specification); MySQL and MariaDB are reached by URL.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../base/errors.js';

export type StoreLocation =
  | { kind: 'sqlite'; path: string; /** The default file: its directory is created if missing. */ createDir?: boolean }
  | {
      kind: 'mysql';
      host: string;
      port: number;
      user: string;
      password: string;
      database: string;
      socketPath?: string;
    };

/** $XDG_DATA_HOME/memlens, or ~/.local/share/memlens when it is unset or not absolute (the spec says to ignore relative values). */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const base =
    xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(env.HOME ?? homedir(), '.local', 'share');
  return join(base, 'memlens');
}

export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), 'events.sqlite');
}

const DATABASE_NAME = /^[A-Za-z0-9_$-]{1,64}$/;

/**
 * Parses a `--db` value: undefined → the default SQLite file; `sqlite:///abs/path`, `sqlite:rel/path`
 * or a plain path → SQLite; `mysql://user:pass@host:port/db` (also `mariadb://`) → MySQL/MariaDB.
 * A bad value is a usage error with one line that names the problem and shows the accepted forms.
 * An empty value is one: `--db "$UNSET_VARIABLE"` must not quietly mean the default store.
 */
export function parseStoreUrl(text: string | undefined, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  if (text === undefined) return { kind: 'sqlite', path: defaultSqlitePath(env), createDir: true };
  if (text.trim() === '') throw bad(text, 'empty (leave --db out for the default SQLite file)');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'sqlite', path: resolve(text) };
  if (scheme === 'sqlite' || scheme === 'file') {
    // sqlite:///abs/path (empty authority), sqlite:relative/path, sqlite://abs/path is ambiguous: refuse.
    const rest = text.slice(scheme.length + 1);
    let path: string;
    if (rest.startsWith('///')) path = rest.slice(2);
    else if (rest.startsWith('//'))
      throw bad(text, 'write sqlite:///absolute/path (three slashes) or sqlite:relative/path');
    else path = rest;
    if (path === '' || path === '/') throw bad(text, 'no file path');
    return { kind: 'sqlite', path: resolve(decodeURIComponent(path)) };
  }
  if (scheme === 'mysql' || scheme === 'mariadb') {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw bad(text, 'not a valid URL');
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (database === '') throw bad(text, 'the database name is missing (mysql://user:pass@host:port/DATABASE)');
    if (!DATABASE_NAME.test(database))
      throw bad(text, `database name "${database}" must be 1-64 letters, digits, _ $ or -`);
    let port = 3306;
    if (url.port !== '') {
      port = Number(url.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(text, `bad port ${url.port}`);
    }
    const socketPath = url.searchParams.get('socket') ?? undefined;
    // Without a host the driver would connect to localhost:3306 and create the database there: a
    // URL that names no server names no place to store. Only a local socket may stand for it.
    if (url.hostname === '' && socketPath === undefined)
      throw bad(text, 'the host is missing (mysql://user:pass@HOST:port/db, or ?socket=/path for a local socket)');
    const host = url.hostname === '' ? 'localhost' : url.hostname.replace(/^\[(.*)\]$/, '$1');
    return {
      kind: 'mysql',
      host,
      port,
      user: url.username === '' ? 'root' : decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database,
      ...(socketPath === undefined ? {} : { socketPath }),
    };
  }
  throw bad(text, `unknown scheme "${scheme}:"`);
}

function bad(text: string, why: string): UsageError {
  return new UsageError(
    `bad database URL ${redact(text)}: ${why} (use a file path, sqlite:///path or mysql://user:pass@host:port/db)`,
  );
}

/** The URL with its password replaced, for messages. */
export function redact(text: string): string {
  return text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}

export function describeLocation(loc: StoreLocation): string {
  return loc.kind === 'sqlite' ? `sqlite:${loc.path}` : `mysql://${loc.user}@${loc.host}:${loc.port}/${loc.database}`;
}
