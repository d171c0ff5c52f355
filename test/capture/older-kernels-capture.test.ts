// The capture script on boards with older kernels: run by Debian's BusyBox sh (only BusyBox
// applets on PATH, the script fed on stdin as `memlens capture --no-smaps --print-script | ssh
// board sh` does) over the reshaped /proc trees of fixtures/proc/older/ (MEMLENS_CAPTURE_PROC).
// Without smaps_rollup (before 4.14) the script must keep smaps even with --no-smaps, and
// `memlens snapshot --from` must then sum it, and say so in its output.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseArchive } from '../../src/parsers/archive.js';
import type { SnapshotJson } from '../../src/wire/snapshot.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { fixturesDir } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';

const KiB = 1024;
const APPLETS = ['cat', 'cp', 'wc', 'readlink', 'mkdir', 'rm', 'date', 'hostname', 'uname', 'id'];
const busybox = execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
const scratch = mkdtempSync(join(tmpdir(), 'memlens-capture-older-'));
const binDir = join(scratch, 'bin');
/** The same applets and getconf (optional for the script; BusyBox has no such applet). */
const binWithGetconf = join(scratch, 'bin-getconf');
let script: string;

before(async () => {
  execFileSync(busybox, ['mkdir', '-p', binDir, binWithGetconf]);
  for (const applet of APPLETS) {
    symlinkSync(busybox, join(binDir, applet));
    symlinkSync(busybox, join(binWithGetconf, applet));
  }
  symlinkSync(
    execFileSync('sh', ['-c', 'command -v getconf'], { encoding: 'utf8' }).trim(),
    join(binWithGetconf, 'getconf'),
  );
  const printed = await runCliInProcess(['capture', '--no-smaps', '--print-script']);
  assert.equal(printed.code, 0, printed.stderr);
  script = printed.stdout;
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * Captures a fixture tree under BusyBox sh; returns the archive's path and bytes. Without getconf
 * the page size comes from smaps (KernelPageSize), so a capture without any smaps needs it.
 */
async function captureTree(version: string, withGetconf = false): Promise<{ path: string; bytes: Buffer }> {
  const procRoot = join(fixturesDir, 'proc', 'older', `linux-${version}`);
  const r = await waitingFor(
    `busybox sh capturing ${procRoot}`,
    () =>
      new Promise<{ code: number | null; out: Buffer; err: string }>((resolve, reject) => {
        const child = spawn(busybox, ['sh', '-s'], {
          env: { PATH: withGetconf ? binWithGetconf : binDir, TMPDIR: tmpdir(), MEMLENS_CAPTURE_PROC: procRoot },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const out: Buffer[] = [];
        let err = '';
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
        child.stdin.end(script);
      }),
    60_000,
  );
  assert.equal(r.code, 0, r.err);
  const path = join(scratch, `linux-${version}.snap`);
  writeFileSync(path, r.out);
  return { path, bytes: r.out };
}

async function snapshotFrom(path: string): Promise<SnapshotJson> {
  const r = await runCliInProcess(['snapshot', '--json', '--from', path]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as SnapshotJson;
}

test('4.9 (no smaps_rollup): --no-smaps still keeps smaps; the archive’s snapshot sums it and says why', async () => {
  const { path, bytes } = await captureTree('4.9');
  const archive = parseArchive(bytes, 'linux-4.9.snap');
  assert.ok(archive);
  for (const pid of [5050, 5052, 5053]) {
    const rollup = archive.entries.get(`proc/${pid}/smaps_rollup`);
    assert.ok(
      rollup?.kind === 'unreadable' && rollup.reason === 'missing',
      `smaps_rollup of ${pid} recorded as missing`,
    );
    assert.equal(archive.entries.get(`proc/${pid}/smaps`)?.kind, 'file', `smaps of ${pid} kept`);
  }
  const s = await snapshotFrom(path);
  assert.equal(
    s.ledger.items.reduce((a, i) => a + i.bytes, 0),
    s.ledger.total,
  );
  assert.equal(s.ledger.unaccounted, 117812 * KiB, 'as from the tree itself (test/proc/older-kernels.test.ts)');
  assert.deepEqual(
    [...s.processes].sort((a, b) => a.pid - b.pid).map((p) => [p.pid, p.pss, p.uss, p.pssAnon, p.unread]),
    [
      [5050, 4873 * KiB, 2104 * KiB, null, []],
      [5052, 6891 * KiB, 4132 * KiB, null, []],
      [5053, 6891 * KiB, 4132 * KiB, null, []],
    ],
  );
  assert.deepEqual(
    s.fallbacks.map((f) => f.key),
    ['Hugetlb', 'VmallocUsed', 'Percpu', 'smaps_rollup', 'Pss_Anon/Pss_File/Pss_Shmem'],
  );
  assert.equal(
    s.fallbacks.find((f) => f.key === 'smaps_rollup')?.reason,
    '/proc/PID/smaps_rollup is missing for 3 processes (Linux 4.14+)',
  );
  const anon = s.reconciliation?.rows.find((r) => r.key === 'anon');
  assert.equal(anon?.processes, null);
  assert.match(anon.unavailable ?? '', /no smaps_rollup before Linux 4\.14/);
  const text = await runCliInProcess(['snapshot', '--from', path]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /Older kernel: what it does not print/);
  assert.doesNotMatch(text.stderr, /partly read/, 'a kernel that prints less is not a permission problem');
});

test('4.14 (rollup without Pss_Anon): --no-smaps leaves smaps out; the Pss split is n/a with its reason', async () => {
  const { path, bytes } = await captureTree('4.14', true);
  const archive = parseArchive(bytes, 'linux-4.14.snap');
  assert.ok(archive);
  assert.equal(archive.entries.get('proc/5052/smaps_rollup')?.kind, 'file');
  assert.equal(archive.entries.get('proc/5052/smaps'), undefined, 'rollup readable: smaps not captured');
  const s = await snapshotFrom(path);
  assert.equal(s.processes.find((p) => p.pid === 5052)?.pss, 6897 * KiB);
  assert.deepEqual(
    s.fallbacks.map((f) => f.key),
    ['Hugetlb', 'VmallocUsed', 'Percpu', 'Pss_Anon/Pss_File/Pss_Shmem'],
  );
  assert.match(s.fallbacks.at(-1)?.reason ?? '', /before Linux 5\.3/);
});

test('3.10 (no MemAvailable): the archive carries zoneinfo, and the snapshot estimates MemAvailable from it', async () => {
  const { path, bytes } = await captureTree('3.10');
  assert.equal(parseArchive(bytes, 'linux-3.10.snap')?.entries.get('proc/zoneinfo')?.kind, 'file');
  const s = await snapshotFrom(path);
  assert.equal(s.used.find((u) => u.key === 'not_available')?.bytes, (24684084 - 23835588) * KiB);
  assert.deepEqual(s.ledger.vmapStack, { value: false, source: 'kernel version' });
  assert.deepEqual(
    s.fallbacks.map((f) => [f.key, f.estimated]),
    [
      ['MemAvailable', true],
      ['KReclaimable', true],
      ['Hugetlb', true],
      ['Percpu', false],
      ['smaps_rollup', true],
      ['SwapPss', false],
      ['Pss_Anon/Pss_File/Pss_Shmem', false],
    ],
  );
});
