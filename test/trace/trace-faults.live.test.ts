// `memlens trace` when the storage fails under it, run as a user would: Ctrl-C while the database
// is frozen (a private MariaDB stopped with SIGSTOP: it keeps its connections and answers nothing),
// and a full disk under the SQLite store or under the spill file (a small tmpfs this test mounts
// and fills). In each case memlens ends when told to, says what happened to the events, and every
// event it read is stored exactly once (at once, or by the next run from the spill file) or
// reported lost.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../helpers/cli.js';
import { Teardown } from '../helpers/teardown.js';
import { waitAtMost } from '../helpers/waiting.js';
import { PrivateMariadb } from '../store/private-mariadb.js';
import { buildSteps, startSteps, startTrace, type Running } from './trace-process.js';
import { fillDisk } from '../helpers/disk-fill.js';

const teardown = new Teardown();
let dir: string;
let binary: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'memlens-trace-faults-'));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  binary = buildSteps(dir);
});
after(() => teardown.run());

const MINUTES = 60_000;

interface Summary {
  processes: { pid: number; calls: number }[];
  lost: { lostEvents: number };
  store: { complete: boolean; spillFiles: string[]; lostEvents: number };
}

const summaryOf = (stderr: string): Summary => {
  const line = stderr
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  assert.ok(line !== undefined, `a JSON summary on stderr: ${stderr}`);
  return (JSON.parse(line) as { summary: Summary }).summary;
};

/** SIGINT, then the exit code, waiting at most `bound` (failing with what memlens said). */
async function interrupt(trace: Running, what: string, bound = 3 * MINUTES): Promise<number | null> {
  trace.child.kill('SIGINT');
  return waitAtMost(
    bound,
    `memlens trace to exit after SIGINT ${what}`,
    () => trace.exited,
    () => `memlens said: ${trace.stderr()}`,
  );
}

/** Waits (bounded) until memlens has said `text` on stderr. */
async function untilSaid(trace: Running, text: string): Promise<void> {
  await waitAtMost(
    3 * MINUTES,
    `memlens trace to say "${text}"`,
    async () => {
      while (!trace.stderr().includes(text)) await sleep(50);
    },
    () => `memlens said: ${trace.stderr()}`,
  );
}

/** The stored events of a pid: how many, and how many distinct (tid, kernel time). */
async function storedOf(
  db: string,
  pid: number,
  env: NodeJS.ProcessEnv = {},
): Promise<{ count: number; distinct: number }> {
  const r = await runCli(['events', '--db', db, '--pid', String(pid), '--limit', '10000', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { tid: number; ktime: string });
  // Below `memlens events`'s limit: every stored event is counted.
  assert.ok(rows.length < 10_000, `${rows.length} events: fewer than --limit`);
  return { count: rows.length, distinct: new Set(rows.map((e) => `${e.tid} ${e.ktime}`)).size };
}

const spillFilesIn = (spillDir: string): string[] =>
  existsSync(spillDir) ? readdirSync(spillDir).filter((f) => f.endsWith('.ndjson')) : [];

/**
 * The next run storing into `db` (one that traces nothing new: its pid has exited or makes no
 * calls): it writes what earlier runs left in spill files; stopped once they are gone.
 */
async function replay(db: string, pid: number, env: NodeJS.ProcessEnv, spillDir: string): Promise<void> {
  const trace = await startTrace(['--json', '--quiet', '--pid', String(pid), '--db', db], env);
  try {
    await waitAtMost(
      3 * MINUTES,
      `the next memlens trace to write and remove the spill files in ${spillDir}`,
      async () => {
        while (spillFilesIn(spillDir).length > 0) await sleep(100);
      },
      () => `memlens said: ${trace.stderr()}`,
    );
  } finally {
    const code = await interrupt(trace, 'after writing the spill files');
    assert.equal(code, 0, trace.stderr());
  }
}

test('Ctrl-C while the database is frozen: memlens ends with its summary and the spill path; the next run writes the spill, each event once', async () => {
  const server = await PrivateMariadb.create();
  const local = new Teardown();
  local.add(() => server.destroy());
  try {
    const xdg = join(dir, 'frozen-data');
    const env = { XDG_DATA_HOME: xdg };
    const spillDir = join(xdg, 'memlens', 'spill');
    const url = server.url('memlens_frozen_ctrl_c');
    const w = await startSteps(binary);
    local.add(() => w.finish());
    const trace = await startTrace(['--json', '--quiet', '--pid', String(w.pid), '--db', url], env);
    local.add(() => trace.child.kill('SIGKILL'));
    await w.step(1000);
    await sleep(500);
    server.freeze();
    local.add(() => server.thaw());
    const made = await w.step(3000);
    // Past the worker's stalled-commit bound (2 s), and one more read round.
    await sleep(3000);
    const code = await interrupt(trace, 'with the database frozen');
    assert.equal(code, 0, trace.stderr());
    const summary = summaryOf(trace.stderr());
    const read = summary.processes.find((p) => p.pid === w.pid)?.calls ?? 0;
    assert.ok(read >= made, `memlens read the workload's ${made} calls (${read}, with the loader's)`);
    assert.equal(summary.store.complete, false, 'the frozen database did not take everything');
    assert.equal(summary.store.lostEvents, 0);
    assert.ok(summary.store.spillFiles.length > 0, 'the summary names the spill files');
    for (const f of summary.store.spillFiles) {
      assert.ok(existsSync(f), `spill file ${f} exists`);
      assert.ok(trace.stderr().includes(f), `memlens says where the spill is (${f})`);
    }
    assert.match(trace.stderr(), /written into mysql:\S+ by the next `memlens trace` that stores there/);

    server.thaw();
    await replay(url, w.pid, env, spillDir);
    const stored = await storedOf(url, w.pid);
    assert.equal(stored.distinct, stored.count, 'no event stored twice');
    assert.equal(stored.count, read, 'every event memlens read is stored');
  } finally {
    await local.run();
  }
});

/** A tmpfs of `mb` MiB mounted on a new directory; unmounted by the teardown. */
function smallDisk(name: string, mb: number, local: Teardown): string {
  const mnt = join(dir, name);
  mkdirSync(mnt);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', mnt], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount: ${r.stderr}`);
  local.add(() => spawnSync('umount', ['-l', mnt]));
  return mnt;
}

test('disk full under the SQLite store: "disk full" is said, the events go to the spill file elsewhere and are written once there is room', async () => {
  const local = new Teardown();
  try {
    const mnt = smallDisk('sqlite-disk', 4, local);
    const db = join(mnt, 'events.sqlite');
    const xdg = join(dir, 'sqlite-full-data');
    const env = { XDG_DATA_HOME: xdg };
    const w = await startSteps(binary);
    local.add(() => w.finish());
    const trace = await startTrace(['--json', '--quiet', '--pid', String(w.pid), '--db', db], env);
    local.add(() => trace.child.kill('SIGKILL'));
    await w.step(100);
    await sleep(500);
    const filler = fillDisk(mnt);
    const made = await w.step(3000);
    await untilSaid(trace, 'disk full');
    assert.doesNotMatch(
      trace.stderr(),
      /cannot rollback/,
      'the reason is the full disk, not the failed rollback after it',
    );
    assert.match(
      trace.stderr(),
      /database sqlite:\S+ cannot take events: disk full \(.*SQLITE_FULL.*\); events are kept in a spill file in \S+/,
    );
    const code = await interrupt(trace, 'with the store on a full disk');
    assert.equal(code, 0, trace.stderr());
    const summary = summaryOf(trace.stderr());
    const read = summary.processes.find((p) => p.pid === w.pid)?.calls ?? 0;
    assert.ok(read >= made);
    assert.equal(summary.store.lostEvents, 0);
    assert.ok(summary.store.spillFiles.length > 0, 'the rest is in the spill file');

    rmSync(filler);
    await replay(db, w.pid, env, join(xdg, 'memlens', 'spill'));
    const stored = await storedOf(db, w.pid);
    assert.equal(stored.distinct, stored.count, 'no event stored twice');
    assert.equal(stored.count, read, 'every event memlens read is stored');
  } finally {
    await local.run();
  }
});

test('disk full under the spill file too: memlens says so, never that the events are kept, holds them, and writes them once there is room', async () => {
  const local = new Teardown();
  try {
    // The reported case: the SQLite store and its spill directory on one filesystem, which fills.
    const mnt = smallDisk('shared-disk', 8, local);
    const env = { XDG_DATA_HOME: mnt };
    const db = join(mnt, 'events.sqlite');
    const w = await startSteps(binary);
    local.add(() => w.finish());
    const trace = await startTrace(['--json', '--quiet', '--pid', String(w.pid), '--db', db], env);
    local.add(() => trace.child.kill('SIGKILL'));
    await w.step(100);
    await sleep(500);
    let filler = fillDisk(mnt);
    await w.step(3000);
    await untilSaid(trace, 'cannot write the spill file');
    const said = trace.stderr();
    assert.match(said, /disk full \(.*(ENOSPC|SQLITE_FULL)/);
    assert.doesNotMatch(said, /events are kept/, 'no claim that the events are kept while nothing can hold them');
    assert.doesNotMatch(said, /worker thread exited|internal error/);

    // Room again: what waited in memory is written, and memlens says it reads on.
    rmSync(filler);
    await untilSaid(trace, 'stored or spilled now');
    const made = await w.step(1000);
    await sleep(1000);
    let code = await interrupt(trace, 'after the disk had room again');
    assert.equal(code, 0, trace.stderr());
    let summary = summaryOf(trace.stderr());
    let read = summary.processes.find((p) => p.pid === w.pid)?.calls ?? 0;
    assert.ok(read >= made);
    assert.equal(summary.store.complete, true, trace.stderr());
    let stored = await storedOf(db, w.pid);
    assert.equal(stored.distinct, stored.count, 'no event stored twice');
    assert.equal(stored.count, read, 'every event memlens read is stored');

    // Ctrl-C while the disk is still full: what could be kept nowhere is counted as lost, and the
    // exit code says so.
    const w2 = await startSteps(binary);
    local.add(() => w2.finish());
    const trace2 = await startTrace(['--json', '--quiet', '--pid', String(w2.pid), '--db', db], env);
    local.add(() => trace2.child.kill('SIGKILL'));
    await w2.step(100);
    await sleep(500);
    filler = fillDisk(mnt);
    await w2.step(3000);
    await untilSaid(trace2, 'cannot write the spill file');
    code = await interrupt(trace2, 'with the store and the spill on a full disk');
    assert.equal(code, 1, trace2.stderr());
    summary = summaryOf(trace2.stderr());
    read = summary.processes.find((p) => p.pid === w2.pid)?.calls ?? 0;
    assert.ok(summary.store.lostEvents > 0, 'the events that could be kept nowhere are counted');
    assert.match(trace2.stderr(), new RegExp(`${summary.store.lostEvents} events were LOST`));
    assert.doesNotMatch(trace2.stderr(), /events are kept|worker thread exited|internal error/);
    rmSync(filler);
    stored = await storedOf(db, w2.pid);
    assert.equal(stored.distinct, stored.count, 'no event stored twice');
    assert.equal(stored.count + summary.store.lostEvents, read, 'every event read is stored or counted as lost');
  } finally {
    await local.run();
  }
});
