// `memlens events` as a user runs it, on a SQLite file and on the shared MariaDB.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { openStore } from '../../src/store/index.js';
import type { MemEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import { mariadbBackend, SHARED_MYSQL, sqliteBackend, type Backend } from './backends.js';
import { event } from './events-fixture.js';

const backends: Backend[] = [];
const now = Date.now();
before(async () => {
  backends.push(sqliteBackend(), await mariadbBackend('memlens_test_store_cli'));
  for (const b of backends) {
    const store = await openStore(b.url);
    await store.appendEvents([
      event({ timeMs: now - 2 * 3_600_000, ktimeNs: 1n, pid: 42, name: 'old', lengthBytes: (1n << 53n) + 4096n }),
      event({ timeMs: now - 60_000, ktimeNs: 2n, pid: 42, tid: 43, name: 'web server', thread: 'worker 1', fd: 99, flags: 1, result: -9n, error: 'EBADF' }),
      event({ timeMs: now - 30_000, ktimeNs: 3n, pid: 7, name: 'other', call: 'munmap', prot: null, flags: null, fd: null, result: 0n }),
      event({ timeMs: now - 10_000, ktimeNs: 4n, pid: 42, name: 'web server', call: 'mremap', prot: null, flags: 1, fd: null, lengthBytes: 8192n, newLengthBytes: 1n << 20n, result: 0x7f10_0000_0000n }),
    ]);
    await store.close();
  }
});
const scratch = mkdtempSync(join(tmpdir(), 'memlens-events-cli-'));
after(async () => {
  for (const b of backends) await b.drop();
  rmSync(scratch, { recursive: true, force: true });
});

const parse = (stdout: string): MemEventJson[] =>
  stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as MemEventJson);

test('--json prints NDJSON oldest first, exactly the wire fields, filtered by pid and --since', async () => {
  for (const b of backends) {
    const r = await runCli(['events', '--db', b.url, '--pid', '42', '--since', '30m', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const got = parse(r.stdout);
    assert.deepEqual(
      got.map((e) => [e.ktime, e.call, e.result, e.error, e.name, e.thread, e.tid]),
      [
        ['2', 'mmap', '-9', 'EBADF', 'web server', 'worker 1', 43],
        ['4', 'mremap', '0x7f1000000000', null, 'web server', 'proc', 100],
      ],
      b.name,
    );
    assert.equal(got[1]?.new_length, 1 << 20);
    assert.deepEqual(Object.keys(got[0] ?? {}), ['time', 'ktime', 'host', 'pid', 'tid', 'name', 'thread', 'call', 'addr', 'length', 'prot', 'flags', 'fd', 'result', 'error', 'new_length', 'new_addr', 'id']);
  }
});

test('filters by --name, --call, --until and --limit; the table shows errors and sizes', async () => {
  for (const b of backends) {
    const byName = parse((await runCli(['events', '--db', b.url, '--name', 'other', '--json'])).stdout);
    assert.deepEqual(byName.map((e) => e.pid), [7]);
    const byCall = parse((await runCli(['events', '--db', b.url, '--call', 'mremap', '--json'])).stdout);
    assert.deepEqual(byCall.map((e) => e.ktime), ['4']);
    const old = parse((await runCli(['events', '--db', b.url, '--until', '1h', '--json'])).stdout);
    assert.deepEqual(old.map((e) => [e.ktime, e.length]), [['1', 2 ** 53 + 4096]]);
    const newest2 = parse((await runCli(['events', '--db', b.url, '--limit', '2', '--json'])).stdout);
    assert.deepEqual(newest2.map((e) => e.ktime), ['3', '4']);
    // Between the second and third event whatever time the test takes to get here.
    const iso = new Date(now - 45_000).toISOString();
    assert.deepEqual(parse((await runCli(['events', '--db', b.url, '--since', iso, '--json'])).stdout).map((e) => e.ktime), ['3', '4']);

    const t = await runCli(['events', '--db', b.url]);
    assert.equal(t.code, 0);
    const lines = t.stdout.trim().split('\n');
    assert.equal(lines.length, 5);
    assert.match(lines[0] ?? '', /^ID\s+TIME \(UTC\)\s+PID\s+TID\s+NAME\s+THREAD\s+CALL\s+ADDR\s+LENGTH\s+PROT\s+RESULT$/);
    assert.match(lines[1] ?? '', /old .* 8\.00 PiB\s+rw-\s+0x7f0000000000$/);
    assert.match(lines[2] ?? '', /web server\s+worker 1\s+mmap .* -9 EBADF$/);
    assert.match(lines[4] ?? '', /mremap .* 8\.00 KiB → 1\.00 MiB\s+0x7f1000000000$/);
  }
});

test('bad flags are usage errors (exit 2); an unreachable database exits 1; one line each', async () => {
  for (const args of [['--since', 'yesterday'], ['--pid', '-3'], ['--call', 'mlock'], ['--limit', '0'], ['--db', 'ftp://x/y']]) {
    const r = await runCli(['events', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const r = await runCli(['events', '--db', 'mysql://root@127.0.0.1:1/x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^memlens: cannot reach database mysql:\/\/root@127\.0\.0\.1:1\/x: connection refused/);
});

test('events --json carries each row id, so that --before ID pages further back', async () => {
  const b = sqliteBackend();
  try {
    const store = await openStore(b.url);
    await store.appendEvents([1, 2, 3, 4, 5].map((k) => event({ ktimeNs: BigInt(k), pid: 100 + k })));
    await store.close();
    const page = async (args: string[]): Promise<{ id: number; pid: number }[]> => {
      const r = await runCli(['events', '--db', b.url, '--json', '--limit', '2', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; pid: number });
    };
    const newest = await page([]);
    assert.deepEqual(newest.map((e) => e.pid), [104, 105]);
    assert.ok(newest.every((e) => Number.isSafeInteger(e.id)), JSON.stringify(newest));
    const older = await page(['--before', String(Math.min(...newest.map((e) => e.id)))]);
    assert.deepEqual(older.map((e) => e.pid), [102, 103], 'the next page back, no overlap');
  } finally {
    await b.drop();
  }
});

test('a store that is not there is an error (exit 1, one line) and is not created', async () => {
  const file = join(scratch, 'typo.sqlite');
  for (const args of [[], ['--json'], ['--prune', '--max-rows', '5']]) {
    const r = await runCli(['events', '--db', file, ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `memlens: no database sqlite:${file}: no such file (memlens events reads what memlens trace stored; check --db)\n`);
    assert.equal(r.stdout, '');
    assert.equal(existsSync(file), false, 'no file created');
  }
  const dir = await runCli(['events', '--db', scratch]);
  assert.equal(dir.code, 1);
  assert.match(dir.stderr, /^memlens: no database sqlite:.*: not a file/);
  // The default store too: a machine that never traced has none.
  const home = join(scratch, 'home');
  const dflt = await runCli(['events'], { env: { XDG_DATA_HOME: home } });
  assert.equal(dflt.code, 1, dflt.stderr);
  assert.match(dflt.stderr, /^memlens: no database sqlite:.*\/memlens\/events\.sqlite: no such file/);
  assert.equal(existsSync(home), false, 'no data directory created');

  const name = 'memlens_test_events_absent';
  const admin = await createConnection(SHARED_MYSQL);
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    const r = await runCli(['events', '--db', `mysql://root@127.0.0.1:3306/${name}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `memlens: no database mysql://root@127.0.0.1:3306/${name}: the server has no database "${name}" (memlens events reads what memlens trace stored; check --db)\n`);
    const [rows] = await admin.query(`SHOW DATABASES LIKE '${name}'`);
    assert.deepEqual(rows, [], 'no database created');
  } finally {
    await admin.end();
  }
});
