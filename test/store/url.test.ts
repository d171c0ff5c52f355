// `--db` values: the default location, SQLite forms, MySQL URLs, and one-line errors for bad ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError, UserError } from '../../src/base/errors.js';
import { openStore, parseStoreUrl, redact } from '../../src/store/index.js';

test('no --db: events.sqlite under $XDG_DATA_HOME/memlens, else ~/.local/share/memlens', () => {
  assert.deepEqual(parseStoreUrl(undefined, { XDG_DATA_HOME: '/data', HOME: '/home/u' }), {
    kind: 'sqlite',
    path: '/data/memlens/events.sqlite',
    createDir: true,
  });
  assert.deepEqual(parseStoreUrl(undefined, { HOME: '/home/u' }), {
    kind: 'sqlite',
    path: '/home/u/.local/share/memlens/events.sqlite',
    createDir: true,
  });
  // The XDG spec: a relative value is invalid and ignored.
  assert.deepEqual(parseStoreUrl(undefined, { XDG_DATA_HOME: 'rel', HOME: '/home/u' }), {
    kind: 'sqlite',
    path: '/home/u/.local/share/memlens/events.sqlite',
    createDir: true,
  });
  // An empty --db (an unset shell variable) is not the default: refused.
  assert.throws(
    () => parseStoreUrl('', { HOME: '/home/u' }),
    (e: unknown) => e instanceof UsageError && /empty/.test(e.message),
  );
});

test('SQLite: a plain path, sqlite:///absolute, sqlite:relative', () => {
  assert.deepEqual(parseStoreUrl('/tmp/a.sqlite'), { kind: 'sqlite', path: '/tmp/a.sqlite' });
  assert.deepEqual(parseStoreUrl('sqlite:///tmp/b%20c.sqlite'), { kind: 'sqlite', path: '/tmp/b c.sqlite' });
  assert.deepEqual(parseStoreUrl('sqlite:rel.sqlite'), { kind: 'sqlite', path: `${process.cwd()}/rel.sqlite` });
  assert.throws(() => parseStoreUrl('sqlite://host/x'), UsageError);
});

test('MySQL and MariaDB URLs: user, password (percent-decoded), host, port, database', () => {
  assert.deepEqual(parseStoreUrl('mysql://memlens:p%40ss@db.example:3307/traces'), {
    kind: 'mysql',
    host: 'db.example',
    port: 3307,
    user: 'memlens',
    password: 'p@ss',
    database: 'traces',
  });
  assert.deepEqual(parseStoreUrl('mariadb://127.0.0.1/t'), {
    kind: 'mysql',
    host: '127.0.0.1',
    port: 3306,
    user: 'root',
    password: '',
    database: 't',
  });
  assert.deepEqual(parseStoreUrl('mysql://u@[::1]:3306/t'), {
    kind: 'mysql',
    host: '::1',
    port: 3306,
    user: 'u',
    password: '',
    database: 't',
  });
  // No host but a local socket: the socket is the server.
  assert.deepEqual(parseStoreUrl('mysql:///t?socket=/run/mysqld/mysqld.sock'), {
    kind: 'mysql',
    host: 'localhost',
    port: 3306,
    user: 'root',
    password: '',
    database: 't',
    socketPath: '/run/mysqld/mysqld.sock',
  });
});

test('bad URLs are usage errors on one line, without the password', () => {
  for (const [url, why] of [
    ['mysql://u:secret@host:3306/', /database name is missing/],
    ['mysql://u:secret@host:99999/db', /not a valid URL|bad port/],
    ['mysql://u:secret@host/bad;name', /database name/],
    ['postgres://u@h/db', /unknown scheme "postgres:"/],
    // No host: the driver would quietly use localhost:3306 and create the database there.
    ['mysql:///x', /host is missing/],
    ['mysql://u:secret@/x', /host is missing|not a valid URL/],
    ['mariadb://:3307/x', /host is missing|not a valid URL/],
  ] as const) {
    assert.throws(
      () => parseStoreUrl(url),
      (e: unknown) =>
        e instanceof UsageError && why.test(e.message) && !e.message.includes('secret') && !e.message.includes('\n'),
      url,
    );
  }
  assert.equal(redact('mysql://u:secret@h/db'), 'mysql://u:***@h/db');
});

test('an unreachable database is a one-line runtime error naming it', async () => {
  // Port 1 on loopback: nothing listens there, the kernel refuses at once.
  await assert.rejects(
    openStore('mysql://root@127.0.0.1:1/x'),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === 1 &&
      /cannot reach database mysql:\/\/root@127\.0\.0\.1:1\/x: connection refused/.test(e.message),
  );
  await assert.rejects(
    openStore('/nonexistent-dir/x.sqlite'),
    (e: unknown) => e instanceof UserError && /directory does not exist/.test(e.message),
  );
});
