import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { memoryCgroupPath, parseCgroupFile } from '../../src/parsers/proc/cgroup.js';
import type { LedgerItemJson, ProcessMappingsJson, SnapshotJson } from '../../src/wire/snapshot.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { vmDir } from './fixtures.js';

const sum = (xs: readonly LedgerItemJson[]): number => xs.reduce((a, i) => a + i.bytes, 0);

// Each command runs in this process (runCliInProcess), but for `snapshot --json` and `process PID`,
// which run as the built command. Every process's smaps_rollup read is most of a snapshot's cost:
// two tests that check the output of the same command share its one run.
let plainSnapshot: Promise<CliResult> | undefined;
const snapshotJson = (): Promise<CliResult> => (plainSnapshot ??= runCli(['snapshot', '--json']));
let cgroupSnapshot: Promise<CliResult> | undefined;
const snapshotByCgroup = (): Promise<CliResult> =>
  (cgroupSnapshot ??= runCliInProcess(['snapshot', '--json', '--group-by', 'cgroup']));

test('snapshot --json: schema 1, ledger adds up to total with one "unaccounted", processes in bytes', async () => {
  const r = await snapshotJson();
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as SnapshotJson;
  assert.equal(j.schema, 1);
  assert.ok(!Number.isNaN(Date.parse(j.time)));
  assert.equal(typeof j.host, 'string');
  assert.equal(sum(j.ledger.items), j.ledger.total);
  assert.equal(j.ledger.items.filter((i) => i.key === 'unaccounted').length, 1);
  assert.equal(j.ledger.total, j.meminfo.MemTotal);
  assert.ok(j.processes.length > 0);
  for (const p of j.processes) {
    for (const k of ['pid', 'ppid', 'name', 'user', 'rss', 'pss', 'uss', 'swap'] as const)
      assert.ok(k in p, `${k} in process`);
    assert.ok(p.pss === null || Number.isInteger(p.pss));
  }
  // Sorted by PSS, largest first, unknown last.
  const pss = j.processes.map((p) => p.pss ?? -1);
  assert.deepEqual(
    pss,
    [...pss].sort((a, b) => b - a),
  );
  assert.ok(j.used.some((u) => u.formula === 'MemTotal − MemAvailable'));
});

test('snapshot human output: tree, used definitions, processes; --limit and --sort name', async () => {
  const r = await runCliInProcess(['snapshot', '--limit', '3', '--sort', 'name']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Where MemTotal goes/);
  assert.match(r.stdout, /├─ slab/);
  assert.match(r.stdout, /unaccounted/);
  assert.match(r.stdout, /MemTotal − MemAvailable/);
  assert.match(r.stdout, /(KiB|MiB|GiB)/);
  assert.match(r.stdout, /Processes \(by name; 3 of \d+/);
  const b = await runCliInProcess(['snapshot', '--bytes', '--limit', '1']);
  assert.doesNotMatch(b.stdout.split('Processes (')[0] ?? '', /MiB|GiB/);
});

test('snapshot --group-by program|user|cgroup and --csv', async () => {
  for (const by of ['program', 'user', 'cgroup']) {
    const r = await (by === 'cgroup' ? snapshotByCgroup() : runCliInProcess(['snapshot', '--json', '--group-by', by]));
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as SnapshotJson;
    assert.equal(j.groups?.by, by);
    const grouped = j.groups.items.reduce((a, g) => a + g.pids.length, 0);
    assert.equal(grouped, j.stats.collected, 'every process in exactly one group');
  }
  const csv = await runCliInProcess(['snapshot', '--csv', '--limit', '5']);
  assert.equal(csv.code, 0);
  const lines = csv.stdout.trimEnd().split('\n');
  assert.equal(
    lines[0],
    'pid,ppid,name,user,uid,program,cgroup,threads,rss,pss,uss,swap,swap_pss,pss_anon,pss_file,pss_shmem,vm_size,cmdline',
  );
  assert.equal(lines.length, 6);
  const g = await runCliInProcess(['snapshot', '--csv', '--group-by', 'user']);
  assert.match(g.stdout, /^user,label,processes,pss/);
});

test('snapshot reads /proc/PID/cgroup only with --group-by cgroup, and then for every process', async () => {
  const plain = await snapshotJson();
  assert.equal(plain.code, 0, plain.stderr);
  const pj = JSON.parse(plain.stdout) as SnapshotJson;
  assert.deepEqual(
    pj.processes.filter((p) => p.cgroup !== null).map((p) => p.pid),
    [],
    'no cgroup without --group-by cgroup',
  );
  assert.ok(
    pj.processes.every((p) => !p.unread.some((u) => u.startsWith('cgroup'))),
    'a cgroup not read is not "unread"',
  );
  const grouped = await snapshotByCgroup();
  assert.equal(grouped.code, 0, grouped.stderr);
  const gj = JSON.parse(grouped.stdout) as SnapshotJson;
  // This test's own process lives on: its cgroup is the one its cgroup file names.
  const own = gj.processes.find((p) => p.pid === process.pid);
  assert.ok(own, `pid ${process.pid} in the snapshot`);
  assert.equal(own.cgroup, memoryCgroupPath(parseCgroupFile(readFileSync(`/proc/${process.pid}/cgroup`, 'utf8'))));
  assert.ok(gj.processes.filter((p) => p.cgroup === null).length <= gj.stats.partlyRead, 'every readable cgroup read');
});

test('usage errors exit 2, runtime failures exit 1, each with one line', async () => {
  for (const args of [
    ['snapshot', '--sort', 'size'],
    ['snapshot', '--limit', 'x'],
    ['snapshot', '--group-by', 'host'],
    ['snapshot', '--json', '--csv'],
    ['process', 'abc'],
  ]) {
    const r = await runCliInProcess(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // The largest pid Linux can give (PID_MAX_LIMIT), above this machine's pid_max: no such process.
  const gone = await runCliInProcess(['process', '4194304']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^memlens: no process 4194304/);
  const kt = await runCliInProcess(['process', '2']);
  assert.equal(kt.code, 1);
  assert.match(kt.stderr, /kernel thread/);
});

test('process PID: groups by kind in human, JSON and CSV form', async () => {
  const pid = String(process.pid);
  const h = await runCli(['process', pid]);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /By kind/);
  assert.match(h.stdout, /heap/);
  assert.match(h.stdout, /kernel-provided +\[vdso\]/);
  const j = JSON.parse((await runCliInProcess(['process', pid, '--json'])).stdout) as ProcessMappingsJson;
  assert.equal(j.schema, 1);
  assert.equal(j.pid, process.pid);
  // What /proc says, not a constant: Node 24 names its main thread "MainThread" where Node 20 leaves
  // "node" (the comm, proc(5), which /proc/PID/status shows as Name).
  assert.equal(j.name, readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, ''));
  assert.equal(
    j.groups.reduce((a, g) => a + g.rss, 0),
    j.total.rss,
  );
  assert.ok(j.groups.some((g) => g.kind === 'file' && g.name === process.execPath));
  const v = JSON.parse((await runCliInProcess(['process', pid, '--json', '--vmas'])).stdout) as ProcessMappingsJson;
  const vmas = v.vmas ?? [];
  assert.equal(vmas.length, v.total.mappings);
  assert.equal(
    vmas.reduce((a, x) => a + x.pss, 0),
    v.total.pss,
  );
  assert.match(vmas[0]?.start ?? '', /^0x[0-9a-f]+$/);
  const vh = await runCliInProcess(['process', pid, '--vmas', '--limit', '3']);
  assert.equal(vh.stdout.trimEnd().split('\n').length, 4);
  const c = await runCliInProcess(['process', pid, '--csv', '--sort', 'rss']);
  assert.match(c.stdout, /^kind,name,mappings,size,rss,pss,uss,swap,swap_pss\n/);
});

test('--from is routed to the archive reader', async () => {
  const r = await runCliInProcess(['snapshot', '--from', `${vmDir}/meminfo`]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
