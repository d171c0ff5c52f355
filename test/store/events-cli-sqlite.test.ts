// `memlens events` on a temporary SQLite file (fast tier): the tests it shares with MariaDB
// (events-cli-cases.ts), then those that need no database server.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { sqliteBackend } from './backends.js';
import { eventsCliTests } from './events-cli-cases.js';
import { event } from './events-fixture.js';

eventsCliTests('sqlite');

test('bad flags are usage errors (exit 2); an unreachable database exits 1; one line each', async () => {
  for (const args of [
    ['--since', 'yesterday'],
    ['--pid', '-3'],
    ['--call', 'mlock'],
    ['--limit', '0'],
    ['--db', 'ftp://x/y'],
  ]) {
    const r = await runCliInProcess(['events', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const r = await runCliInProcess(['events', '--db', 'mysql://root@127.0.0.1:1/x']);
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
      const r = await runCliInProcess(['events', '--db', b.url, '--json', '--limit', '2', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: number; pid: number });
    };
    const newest = await page([]);
    assert.deepEqual(
      newest.map((e) => e.pid),
      [104, 105],
    );
    assert.ok(
      newest.every((e) => Number.isSafeInteger(e.id)),
      JSON.stringify(newest),
    );
    const older = await page(['--before', String(Math.min(...newest.map((e) => e.id)))]);
    assert.deepEqual(
      older.map((e) => e.pid),
      [102, 103],
      'the next page back, no overlap',
    );
  } finally {
    await b.drop();
  }
});

test('a store that is not there is an error (exit 1, one line) and is not created', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'memlens-events-cli-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const file = join(scratch, 'typo.sqlite');
  for (const args of [[], ['--json'], ['--prune', '--max-rows', '5']]) {
    const r = await runCliInProcess(['events', '--db', file, ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(
      r.stderr,
      `memlens: no database sqlite:${file}: no such file (memlens events reads what memlens trace stored; check --db)\n`,
    );
    assert.equal(r.stdout, '');
    assert.equal(existsSync(file), false, 'no file created');
  }
  const dir = await runCliInProcess(['events', '--db', scratch]);
  assert.equal(dir.code, 1);
  assert.match(dir.stderr, /^memlens: no database sqlite:.*: not a file/);
  // The default store too: a machine that never traced has none.
  const home = join(scratch, 'home');
  const dflt = await runCli(['events'], { env: { XDG_DATA_HOME: home } });
  assert.equal(dflt.code, 1, dflt.stderr);
  assert.match(dflt.stderr, /^memlens: no database sqlite:.*\/memlens\/events\.sqlite: no such file/);
  assert.equal(existsSync(home), false, 'no data directory created');
});
