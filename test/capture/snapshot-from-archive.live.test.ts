// The test: the capture script run by Debian's BusyBox sh gives an archive whose
// analysis (`memlens snapshot --from`, `memlens process PID --from`) matches a live read of the
// same moment. Compared are the things that hold still between the two reads: the ledger's
// total and its exact sums, the set of long-lived processes, and the figures of idle workload
// processes started here with known memory.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LedgerItemJson, ProcessJson, ProcessMappingsJson, SnapshotJson } from '../../src/wire/snapshot.js';
import { runCli } from '../helpers/cli.js';
import { startWorkload, type Workload } from './workload.js';

const CHILDREN = 3;
const PRIVATE_KIB = 2048;
const SHARED_KIB = 4096;
const APPLETS = ['cat', 'cp', 'wc', 'readlink', 'mkdir', 'rm', 'date', 'hostname', 'uname', 'id'];

const busybox = execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
const scratch = mkdtempSync(join(tmpdir(), 'memlens-capture-same-moment-'));
const archivePath = join(scratch, 'board.snap');

let workload: Workload;
/** Live snapshots straight before and straight after the capture. */
let live: SnapshotJson;
let liveAfter: SnapshotJson;
let captured: SnapshotJson;
/** Processes that existed throughout: same pid and start time before and after. */
let longLived: Set<number>;

/** pid → start time (field 22 of stat, after the parenthesised comm): with the pid, a process's identity. */
function startTimes(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      if (start !== undefined) out.set(Number(name), start);
    } catch {
      // gone already
    }
  }
  return out;
}

async function snapshotJson(args: string[]): Promise<SnapshotJson> {
  const r = await runCli(['snapshot', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as SnapshotJson;
}

function captureWithBusybox(script: string): Promise<Buffer> {
  const binDir = join(scratch, 'bin');
  execFileSync(busybox, ['mkdir', '-p', binDir]);
  for (const applet of APPLETS) symlinkSync(busybox, join(binDir, applet));
  return new Promise((resolve, reject) => {
    const child = spawn(busybox, ['sh'], { env: { PATH: binDir }, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`busybox sh exited with ${code}`)),
    );
    child.stdin.end(script);
  });
}

before(async () => {
  workload = await startWorkload(scratch, CHILDREN, PRIVATE_KIB, SHARED_KIB);
  const printed = await runCli(['capture', '--print-script']);
  assert.equal(printed.code, 0, printed.stderr);
  const startsBefore = startTimes();
  // Live, the capture, live again: "the same moment" for everything that held still.
  live = await snapshotJson([]);
  writeFileSync(archivePath, await captureWithBusybox(printed.stdout));
  liveAfter = await snapshotJson([]);
  const startsAfter = startTimes();
  longLived = new Set([...startsBefore].filter(([pid, start]) => startsAfter.get(pid) === start).map(([pid]) => pid));
  captured = await snapshotJson(['--from', archivePath]);
});

after(async () => {
  await workload.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function sum(items: LedgerItemJson[]): number {
  return items.reduce((n, i) => n + i.bytes, 0);
}

function checkSums(items: LedgerItemJson[], total: number, where: string): void {
  assert.equal(sum(items), total, where);
  for (const i of items) if (i.items) checkSums(i.items, i.bytes, `${where} > ${i.key}`);
}

test('snapshot --from: the ledger of the archive has the live total and adds up exactly', () => {
  assert.equal(captured.schema, 1);
  assert.equal(captured.host, live.host);
  assert.equal(captured.pageSize, live.pageSize);
  assert.equal(captured.ledger.total, live.ledger.total);
  assert.equal(captured.meminfo.MemTotal, live.meminfo.MemTotal);
  assert.deepEqual(Object.keys(captured.meminfo), Object.keys(live.meminfo));
  checkSums(captured.ledger.items, captured.ledger.total, 'archive');
  checkSums(live.ledger.items, live.ledger.total, 'live');
  assert.deepEqual(
    captured.ledger.items.map((i) => i.key),
    live.ledger.items.map((i) => i.key),
  );
  assert.ok(captured.ledger.items.some((i) => i.key === 'unaccounted'));
  assert.deepEqual(captured.ledger.vmapStack, live.ledger.vmapStack);
  assert.match(captured.source, /^archive board\.snap/);
});

test('snapshot --from: the long-lived processes are the same, unreadable where live is unreadable', () => {
  const byPid = (ps: ProcessJson[]): Map<number, ProcessJson> => new Map(ps.map((p) => [p.pid, p]));
  const a = byPid(captured.processes);
  const l = byPid(live.processes);
  const l2 = byPid(liveAfter.processes);
  let compared = 0;
  for (const [pid, lp] of l) {
    const lp2 = l2.get(pid);
    if (!longLived.has(pid) || !lp2) continue;
    const ap = a.get(pid);
    assert.ok(ap, `long-lived pid ${pid} (${lp.name}) is in the archive's analysis`);
    // Whatever did not change from the live read before to the one after must match in between.
    for (const key of ['ppid', 'name', 'user', 'uid', 'program', 'cmdline', 'cgroup'] as const) {
      if (lp[key] === lp2[key]) assert.equal(ap[key], lp[key], `${pid} ${key}`);
    }
    if (JSON.stringify(lp.unread) === JSON.stringify(lp2.unread))
      assert.deepEqual(ap.unread, lp.unread, `${pid} unread`);
    // Null (n/a) exactly where live is null: never 0 for what could not be read.
    for (const key of ['rss', 'pss', 'uss', 'swap', 'pssAnon', 'pssShmem', 'vmSize'] as const) {
      if ((lp[key] === null) === (lp2[key] === null))
        assert.equal(ap[key] === null, lp[key] === null, `${pid} ${key} null`);
    }
    compared++;
  }
  assert.ok(compared >= CHILDREN + 1, `compared ${compared}`);
});

test('snapshot --from: the idle workload has the same figures as live, and its known memory', () => {
  const find = (s: SnapshotJson, pid: number): ProcessJson => {
    const p = s.processes.find((q) => q.pid === pid);
    assert.ok(p, `pid ${pid}`);
    return p;
  };
  for (const pid of [workload.parent, ...workload.children]) {
    const a = find(captured, pid);
    const l = find(live, pid);
    for (const key of [
      'threads',
      'vmSize',
      'rss',
      'rssAnon',
      'rssShmem',
      'rssFile',
      'pssAnon',
      'pssShmem',
      'swap',
    ] as const)
      assert.equal(a[key], l[key], `${pid} ${key}`);
    // File pages can change hands as other processes map the same library pages; nothing else can.
    assert.ok(a.uss !== null && l.uss !== null && a.rssFile !== null);
    assert.ok(Math.abs(a.uss - l.uss) <= a.rssFile, `${pid} uss ${a.uss} vs ${l.uss}`);
  }
  for (const pid of workload.children) {
    const a = find(captured, pid);
    assert.equal(a.pssShmem, (SHARED_KIB * 1024) / (CHILDREN + 1));
    assert.ok(a.uss !== null && a.uss >= PRIVATE_KIB * 1024);
  }
});

test('process PID --from: the mappings of a workload child match live', async () => {
  const pid = workload.children[0] ?? 0;
  const run = async (args: string[]): Promise<ProcessMappingsJson> => {
    const r = await runCli(['process', String(pid), '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as ProcessMappingsJson;
  };
  const [a, l] = [await run(['--from', archivePath]), await run([])];
  assert.equal(a.pid, pid);
  assert.equal(a.cmdline, l.cmdline);
  assert.deepEqual(
    { size: a.total.size, rss: a.total.rss, mappings: a.total.mappings },
    { size: l.total.size, rss: l.total.rss, mappings: l.total.mappings },
  );
  // Groups are ordered by PSS, which moves for shared library pages; compare them by name.
  const shape = (m: ProcessMappingsJson): string[] =>
    m.groups
      .map((g) => JSON.stringify([g.kind, g.name, g.mappings, g.size, g.rss, g.kind === 'file' ? null : g.pss]))
      .sort();
  assert.deepEqual(shape(a), shape(l));
  const shmem = a.kinds.find((k) => k.kind === 'shmem');
  assert.equal(shmem?.pss, (SHARED_KIB * 1024) / (CHILDREN + 1));
});

test('snapshot --from a corrupt or foreign file: one line, exit 1', async () => {
  const notArchive = join(scratch, 'meminfo.txt');
  writeFileSync(notArchive, 'MemTotal: 1 kB\n');
  const foreign = await runCli(['snapshot', '--from', notArchive]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /^memlens: .*is not a memlens capture archive.*\n$/);
  const truncated = join(scratch, 'cut.snap');
  writeFileSync(truncated, readFileSync(archivePath).subarray(0, 5000));
  const cut = await runCli(['snapshot', '--from', truncated]);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /^memlens: corrupt archive: .*truncated.*\n$/);
});
