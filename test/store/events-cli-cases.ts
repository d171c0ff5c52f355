// `memlens events` as a user runs it, on a SQLite file and on the shared MariaDB (run by
// events-cli-sqlite.test.ts and events-cli-mariadb.live.test.ts).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openStore } from '../../src/store/index.js';
import type { MemEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { mariadbBackend, sqliteBackend, type Backend, type BackendKind } from './backends.js';
import { event } from './events-fixture.js';

export function eventsCliTests(kind: BackendKind): void {
  // On SQLite (fast tier) memlens runs in this process, sparing a Node start-up per command; on
  // MariaDB (live tier) the built command runs.
  const memlens = kind === 'sqlite' ? runCliInProcess : runCli;
  const backends: Backend[] = [];
  const now = Date.now();
  before(async () => {
    backends.push(kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_store_cli'));
    for (const b of backends) {
      const store = await openStore(b.url);
      await store.appendEvents([
        event({ timeMs: now - 2 * 3_600_000, ktimeNs: 1n, pid: 42, name: 'old', lengthBytes: (1n << 53n) + 4096n }),
        event({
          timeMs: now - 60_000,
          ktimeNs: 2n,
          pid: 42,
          tid: 43,
          name: 'web server',
          thread: 'worker 1',
          fd: 99,
          flags: 1,
          result: -9n,
          error: 'EBADF',
        }),
        event({
          timeMs: now - 30_000,
          ktimeNs: 3n,
          pid: 7,
          name: 'other',
          call: 'munmap',
          prot: null,
          flags: null,
          fd: null,
          result: 0n,
        }),
        event({
          timeMs: now - 10_000,
          ktimeNs: 4n,
          pid: 42,
          name: 'web server',
          call: 'mremap',
          prot: null,
          flags: 1,
          fd: null,
          lengthBytes: 8192n,
          newLengthBytes: 1n << 20n,
          result: 0x7f10_0000_0000n,
        }),
      ]);
      await store.close();
    }
  });
  after(async () => {
    for (const b of backends) await b.drop();
  });

  const parse = (stdout: string): MemEventJson[] =>
    stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as MemEventJson);

  test('--json prints NDJSON oldest first, exactly the wire fields, filtered by pid and --since', async () => {
    for (const b of backends) {
      const r = await memlens(['events', '--db', b.url, '--pid', '42', '--since', '30m', '--json']);
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
      assert.deepEqual(Object.keys(got[0] ?? {}), [
        'time',
        'ktime',
        'host',
        'pid',
        'tid',
        'name',
        'thread',
        'call',
        'addr',
        'length',
        'prot',
        'flags',
        'fd',
        'result',
        'error',
        'new_length',
        'new_addr',
        'id',
      ]);
    }
  });

  test('filters by --name, --call, --until and --limit; the table shows errors and sizes', async () => {
    for (const b of backends) {
      const byName = parse((await memlens(['events', '--db', b.url, '--name', 'other', '--json'])).stdout);
      assert.deepEqual(
        byName.map((e) => e.pid),
        [7],
      );
      const byCall = parse((await memlens(['events', '--db', b.url, '--call', 'mremap', '--json'])).stdout);
      assert.deepEqual(
        byCall.map((e) => e.ktime),
        ['4'],
      );
      const old = parse((await memlens(['events', '--db', b.url, '--until', '1h', '--json'])).stdout);
      assert.deepEqual(
        old.map((e) => [e.ktime, e.length]),
        [['1', 2 ** 53 + 4096]],
      );
      const newest2 = parse((await memlens(['events', '--db', b.url, '--limit', '2', '--json'])).stdout);
      assert.deepEqual(
        newest2.map((e) => e.ktime),
        ['3', '4'],
      );
      // Between the second and third event whatever time the test takes to get here.
      const iso = new Date(now - 45_000).toISOString();
      assert.deepEqual(
        parse((await memlens(['events', '--db', b.url, '--since', iso, '--json'])).stdout).map((e) => e.ktime),
        ['3', '4'],
      );

      const t = await memlens(['events', '--db', b.url]);
      assert.equal(t.code, 0);
      const lines = t.stdout.trim().split('\n');
      assert.equal(lines.length, 5);
      assert.match(
        lines[0] ?? '',
        /^ID\s+TIME \(UTC\)\s+PID\s+TID\s+NAME\s+THREAD\s+CALL\s+ADDR\s+LENGTH\s+PROT\s+RESULT$/,
      );
      assert.match(lines[1] ?? '', /old .* 8\.00 PiB\s+rw-\s+0x7f0000000000$/);
      assert.match(lines[2] ?? '', /web server\s+worker 1\s+mmap .* -9 EBADF$/);
      assert.match(lines[4] ?? '', /mremap .* 8\.00 KiB → 1\.00 MiB\s+0x7f1000000000$/);
    }
  });
}
