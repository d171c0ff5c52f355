// The capture script run by Debian's BusyBox sh, with nothing but BusyBox applets on PATH (as
// on a board), fed on standard input exactly as `memlens capture --print-script | ssh board sh`
// does; its archive must read back like a live read of the same moment.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ParseError, errnoCode } from '../../src/base/errors.js';
import { parseArchive, type CaptureArchive } from '../../src/parsers/archive.js';
import { archiveSource } from '../../src/sources/archive.js';
import type { ProcSource, ReadResult } from '../../src/sources/proc-source.js';
import { runCli } from '../helpers/cli.js';
import { waitingFor } from '../helpers/waiting.js';
import { startWorkload, type Workload } from './workload.js';

const CHILDREN = 3;
const PRIVATE_KIB = 2048;
const SHARED_KIB = 4096;
/** The applets the script is documented to use; nothing else is on PATH. */
const APPLETS = ['cat', 'cp', 'wc', 'readlink', 'mkdir', 'rm', 'date', 'hostname', 'uname', 'id'];

const which = (name: string): string => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
const busybox = which('busybox');
const setpriv = which('setpriv');
const scratch = mkdtempSync(join(tmpdir(), 'memlens-capture-test-'));
const binDir = join(scratch, 'bin');

let workload: Workload;
let script: string;

before(async () => {
  execFileSync(busybox, ['mkdir', '-p', binDir]);
  for (const applet of APPLETS) symlinkSync(busybox, join(binDir, applet));
  const printed = await runCli(['capture', '--print-script']);
  assert.equal(printed.code, 0, printed.stderr);
  script = printed.stdout;
  workload = await startWorkload(scratch, CHILDREN, PRIVATE_KIB, SHARED_KIB);
});

after(async () => {
  await workload.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs the script under BusyBox sh; returns stdout bytes and stderr text. */
function runBusybox(
  args: string[],
  opts: { asNobody?: boolean } = {},
): Promise<{ code: number | null; out: Buffer; err: string }> {
  const command = opts.asNobody ? setpriv : busybox;
  const argv = [
    ...(opts.asNobody ? ['--reuid=65534', '--regid=65534', '--clear-groups', busybox] : []),
    'sh',
    '-s',
    ...args,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env: { PATH: binDir, TMPDIR: tmpdir() }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
    child.stdin.end(script);
  });
}

function livePids(): Set<number> {
  return new Set(
    readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number),
  );
}

/** The live outcome of reading a /proc file, classified as the ProcSource contract does. */
function liveRead(path: string, link: boolean): ReadResult<string> {
  try {
    return { ok: true, value: link ? readlinkSync(`/proc/${path}`) : readFileSync(`/proc/${path}`, 'latin1') };
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'EACCES' || code === 'EPERM') return { ok: false, reason: 'permission' };
    if (code === 'ENOENT' || code === 'ESRCH') return { ok: false, reason: 'missing' };
    throw e;
  }
}

function field(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  assert.ok(m?.[1], `${name} in ${text.slice(0, 200)}`);
  return Number(m[1]);
}

async function text(source: ProcSource, path: string): Promise<string> {
  const r = await source.readText(path);
  assert.ok(r.ok, `${path} readable in the archive (${r.ok ? '' : r.reason})`);
  return r.value;
}

const PID_FILES = ['status', 'stat', 'statm', 'cmdline', 'comm', 'smaps_rollup', 'maps', 'cgroup', 'exe'];

/** A process's start time (field 22 of stat, after the parenthesised comm): with the pid, its identity. */
function startTime(pid: number): string | undefined {
  const r = liveRead(`${pid}/stat`, false);
  return r.ok ? r.value.slice(r.value.lastIndexOf(')') + 2).split(' ')[19] : undefined;
}

/**
 * Whether each file of each process can be read live, and if not why ("ok", "permission",
 * "missing"), keyed by pid, start time and file, so that a reused pid is another process.
 */
function liveOutcomes(): Map<string, string> {
  const out = new Map<string, string>();
  for (const pid of livePids()) {
    const start = startTime(pid);
    if (start === undefined) continue;
    for (const file of PID_FILES) {
      const r = liveRead(`${pid}/${file}`, file === 'exe');
      out.set(`${pid}/${file}@${start}`, r.ok ? 'ok' : r.reason);
    }
  }
  return out;
}

let capture:
  { archive: CaptureArchive; source: ProcSource; before: Map<string, string>; after: Map<string, string> } | undefined;

async function captureAll(): Promise<NonNullable<typeof capture>> {
  if (capture) return capture;
  const outcomesBefore = liveOutcomes();
  // Processes that come and go during the capture: some vanish between their files.
  const churn = spawn(busybox, ['sh', '-c', 'while :; do busybox sleep 0.03 & busybox sleep 0.01; done'], {
    stdio: 'ignore',
  });
  let run: Awaited<ReturnType<typeof runBusybox>>;
  try {
    run = await runBusybox([]);
  } finally {
    churn.kill('SIGKILL');
  }
  const outcomesAfter = liveOutcomes();
  assert.equal(run.code, 0, run.err);
  assert.equal(run.err, '');
  const archive = parseArchive(run.out, 'busybox capture');
  assert.ok(archive, 'the output is a capture archive');
  capture = {
    archive,
    source: archiveSource(archive, 'busybox capture'),
    before: outcomesBefore,
    after: outcomesAfter,
  };
  return capture;
}

test('BusyBox capture: system files and metadata match the live system', async () => {
  const { archive, source } = await captureAll();
  assert.equal(
    field(await text(source, 'meminfo'), 'MemTotal'),
    field(readFileSync('/proc/meminfo', 'utf8'), 'MemTotal'),
  );
  // No getconf among the applets: the script reads the page size from its own smaps.
  const pageSize = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));
  assert.equal(archive.meta.get('pagesize'), String(pageSize));
  assert.equal(await source.pageSize(), pageSize);
  assert.equal(await source.hostname(), readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
  assert.equal(await text(source, 'sys/kernel/osrelease'), readFileSync('/proc/sys/kernel/osrelease', 'utf8'));
  // A binary file (gzip) comes back byte for byte, or as missing where the kernel has none.
  const config = await source.readBytes('config.gz');
  const liveConfig = liveRead('config.gz', false);
  if (liveConfig.ok) {
    assert.ok(config.ok);
    assert.deepEqual(Buffer.from(config.value), readFileSync('/proc/config.gz'));
  } else {
    assert.deepEqual(config, liveConfig);
  }
  const users = await source.userNames();
  assert.equal(users.get(0), 'root');
  assert.equal(users.get(65534), 'nobody');
  const age = Date.now() - source.time().getTime();
  assert.ok(age >= -1000 && age < 10 * 60_000, `capture time ${source.time().toISOString()}`);
});

test('BusyBox capture: the idle workload reads the same in the archive as live', async () => {
  const { source } = await captureAll();
  const listed = new Set(await source.listPids());
  for (const pid of [workload.parent, ...workload.children]) {
    assert.ok(listed.has(pid), `pid ${pid} captured`);
    const status = await text(source, `${pid}/status`);
    const liveStatus = readFileSync(`/proc/${pid}/status`, 'utf8');
    for (const name of ['VmSize', 'VmRSS', 'RssAnon', 'RssShmem'])
      assert.equal(field(status, name), field(liveStatus, name), `${pid} ${name}`);
    const rollup = await text(source, `${pid}/smaps_rollup`);
    const liveRollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    for (const name of ['Rss', 'Pss_Anon', 'Pss_Shmem', 'Private_Dirty'])
      assert.equal(field(rollup, name), field(liveRollup, name), `${pid} ${name}`);
    const cmdline = await source.readBytes(`${pid}/cmdline`);
    assert.ok(cmdline.ok);
    assert.deepEqual(Buffer.from(cmdline.value), readFileSync(`/proc/${pid}/cmdline`));
    assert.equal(await text(source, `${pid}/comm`), readFileSync(`/proc/${pid}/comm`, 'utf8'));
    assert.equal(await text(source, `${pid}/cgroup`), readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    assert.deepEqual(await source.readLink(`${pid}/exe`), { ok: true, value: readlinkSync(`/proc/${pid}/exe`) });
    assert.equal(
      (await text(source, `${pid}/smaps`)).split('\n').filter((l) => l.startsWith('Pss:')).length,
      (await text(source, `${pid}/maps`)).split('\n').filter(Boolean).length,
    );
  }
  // Known memory: the shared region is mapped by the parent and every child, so each child's
  // proportional share of it is SHARED / (CHILDREN + 1); each child's own pages are private.
  for (const pid of workload.children) {
    const rollup = await text(source, `${pid}/smaps_rollup`);
    assert.equal(field(rollup, 'Pss_Shmem'), SHARED_KIB / (CHILDREN + 1));
    assert.ok(field(rollup, 'Private_Dirty') >= PRIVATE_KIB);
  }
});

test('BusyBox capture: every long-lived process is there, and what was unreadable is unreadable live for the same reason', async () => {
  const { archive, source, before, after } = await captureAll();
  const listed = new Set(await source.listPids());
  let compared = 0;
  // The capture ran between the two live passes: where both passes agree (the process neither
  // started, exited nor changed in between), the archive must say the same.
  for (const [key, outcome] of before) {
    if (after.get(key) !== outcome) continue;
    const path = key.slice(0, key.indexOf('@'));
    const pid = Number(path.split('/')[0]);
    const file = path.split('/')[1] ?? '';
    if (outcome !== 'missing') {
      assert.ok(listed.has(pid), `long-lived pid ${pid} captured`);
      assert.ok(archive.entries.get(`proc/${path}`), `proc/${path} recorded`);
    }
    const captured = file === 'exe' ? await source.readLink(path) : await source.readText(path);
    assert.equal(captured.ok ? 'ok' : captured.reason, outcome, `proc/${path}`);
    compared++;
  }
  assert.ok(compared > 100, `compared ${compared} files`);
  // Paths the script does not capture read as missing, never as empty files.
  assert.deepEqual(await source.readText(`${workload.parent}/environ`), { ok: false, reason: 'missing' });
});

test('BusyBox capture as nobody: root-owned processes read as permission, never as empty', async () => {
  const pids = [workload.parent, ...workload.children].map(String);
  const run = await runBusybox(pids, { asNobody: true });
  assert.equal(run.code, 0, run.err);
  const archive = parseArchive(run.out);
  assert.ok(archive);
  assert.equal(archive.meta.get('uid'), '65534');
  const source = archiveSource(archive, 'nobody capture');
  assert.deepEqual(
    await source.listPids(),
    [...pids].map(Number).sort((a, b) => a - b),
  );
  for (const pid of pids) {
    assert.ok((await source.readText(`${pid}/status`)).ok);
    assert.ok((await source.readText(`${pid}/statm`)).ok);
    for (const file of ['smaps_rollup', 'smaps', 'maps'])
      assert.deepEqual(await source.readText(`${pid}/${file}`), { ok: false, reason: 'permission' }, file);
    assert.deepEqual(await source.readLink(`${pid}/exe`), { ok: false, reason: 'permission' });
  }
  assert.deepEqual(await source.readText('slabinfo'), { ok: false, reason: 'permission' });
});

test('BusyBox capture cut short (the reader goes away): no temporary files left, and the part is rejected as truncated', async () => {
  const tmp = join(scratch, 'cut-short');
  mkdirSync(tmp);
  const part = await waitingFor(
    'the BusyBox capture to end once its reader went away after 20 kB',
    () =>
      new Promise<Buffer>((resolve, reject) => {
        const child = spawn(busybox, ['sh', '-s'], {
          env: { PATH: binDir, TMPDIR: tmp },
          stdio: ['pipe', 'pipe', 'ignore'],
        });
        const got: Buffer[] = [];
        let n = 0;
        child.stdout.on('data', (d: Buffer) => {
          got.push(d);
          n += d.length;
          // Like a dropped ssh connection: stop reading after the first 20 kB.
          if (n > 20_000) child.stdout.destroy();
        });
        child.on('error', reject);
        child.on('close', () => resolve(Buffer.concat(got)));
        child.stdin.end(script);
      }),
  );
  assert.deepEqual(readdirSync(tmp), []);
  assert.throws(
    () => parseArchive(part),
    (e: unknown) => e instanceof ParseError && /truncated/.test(e.message),
  );
});
