// `memlens trace` into the real stores: the known workload traced into a SQLite file and into the
// MariaDB server, then read back with `memlens events`: what was stored is exactly what was
// streamed, and passes the workload's exact checks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { MemEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import { buildWorkload, checkWorkloadEvents, parseDone } from './known-workload.js';
import { ended, startTrace, startWorkload } from './trace-process.js';

const { binary, execLink } = buildWorkload();
const dir = mkdtempSync(join(tmpdir(), 'memlens-trace-store-'));
const MYSQL_DB = 'memlens_test_tracestore';
const mariadb = (sql: string) =>
  spawnSync('mariadb', ['--protocol=tcp', '-h127.0.0.1', '-uroot', '-e', sql], { encoding: 'utf8' });
after(() => {
  rmSync(dir, { recursive: true, force: true });
  mariadb(`DROP DATABASE IF EXISTS ${MYSQL_DB}`);
});

const ndjson = (text: string): MemEventJson[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as MemEventJson);

const byTime = (a: MemEventJson, b: MemEventJson): number =>
  BigInt(a.ktime) < BigInt(b.ktime) ? -1 : BigInt(a.ktime) > BigInt(b.ktime) ? 1 : a.tid - b.tid;

async function traceInto(db: string): Promise<void> {
  const w = await startWorkload(binary, execLink);
  const trace = await startTrace(['--json', '--db', db]);
  const ids = parseDone(await w.go());
  await new Promise((r) => setTimeout(r, 300)); // one read round, so the last calls are in
  trace.child.kill('SIGINT');
  const code = await ended(trace, 'after SIGINT');
  await w.finish();
  assert.equal(code, 0, trace.stderr());
  const ours = (e: MemEventJson) => e.pid === ids.pid || e.pid === ids.childPid;
  const streamed = ndjson(trace.stdout()).filter(ours).sort(byTime);
  assert.ok(
    streamed.length > 15,
    `${streamed.length} events of the workload streamed; the tracer said: ${trace.stderr()}`,
  );

  const stored: MemEventJson[] = [];
  for (const pid of [ids.pid, ids.childPid]) {
    const r = await runCli(['events', '--db', db, '--pid', String(pid), '--limit', '10000', '--json']);
    assert.equal(r.code, 0, r.stderr);
    // events --json adds the row id (StoredEventJson); the rest must equal what trace streamed.
    stored.push(
      ...ndjson(r.stdout).map((e: MemEventJson & { id?: number }) => {
        const { id: _id, ...rest } = e;
        return rest;
      }),
    );
  }
  stored.sort(byTime);
  assert.deepEqual(stored, streamed, 'every streamed event is stored, field for field');
  checkWorkloadEvents(stored, ids);
}

test('trace into SQLite: the stored events are the streamed ones', async () => {
  await traceInto(join(dir, 'events.sqlite'));
});

test('trace into MariaDB: the stored events are the streamed ones', async () => {
  mariadb(`DROP DATABASE IF EXISTS ${MYSQL_DB}`);
  await traceInto(`mysql://root@127.0.0.1:3306/${MYSQL_DB}`);
});
