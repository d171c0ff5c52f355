// The series script run live by Debian's BusyBox sh, only BusyBox applets on PATH, fed on stdin
// as `memlens capture --every 1s --for 5s --print-script | ssh board sh` does: six snapshots of a
// growing shell, read back and diffed; then a series killed mid-way (a board losing power),
// which reads up to its last complete snapshot.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseArchiveSeries } from '../../src/parsers/archive.js';
import { archiveUptimeMs } from '../../src/parsers/archive-meta.js';
import type { SeriesDiffJson } from '../../src/wire/series.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { waitingFor } from '../helpers/waiting.js';

/** The applets the script is documented to use, sleep for a series; nothing else is on PATH. */
const APPLETS = ['cat', 'cp', 'wc', 'readlink', 'mkdir', 'rm', 'date', 'hostname', 'uname', 'id', 'sleep'];
const busybox = execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
const scratch = mkdtempSync(join(tmpdir(), 'memlens-series-live-'));
const binDir = join(scratch, 'bin');
let grower: ChildProcess;
/** A shell that runs exec() 1.5 s in: same pid and start time, another program. */
let execer: ChildProcess;

before(() => {
  execFileSync(busybox, ['mkdir', '-p', binDir]);
  for (const applet of APPLETS) symlinkSync(busybox, join(binDir, applet));
  // A shell whose heap grows by 64 KiB every 0.2 s.
  grower = spawn(
    busybox,
    [
      'sh',
      '-c',
      'c=0123456789abcdef; for k in 1 2 3 4 5 6 7 8 9 10 11 12; do c="$c$c"; done; x=; while :; do x="$x$c"; sleep 0.2; done',
    ],
    { env: { PATH: binDir }, stdio: 'ignore' },
  );
  execer = spawn(busybox, ['sh', '-c', 'sleep 1.5; exec sleep 600'], { env: { PATH: binDir }, stdio: 'ignore' });
});

after(() => {
  grower.kill('SIGKILL');
  execer.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs the printed script under BusyBox sh with `args`; `stopWhen` may end it early with SIGKILL. */
function runSeries(
  script: string,
  args: string[],
  stopWhen?: (out: Buffer) => boolean,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(busybox, ['sh', '-s', ...args], {
      env: { PATH: binDir, TMPDIR: tmpdir() },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out.push(d);
      if (stopWhen?.(Buffer.concat(out)) === true) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out: Buffer.concat(out), err }));
    child.stdin.end(script);
  });
}

test('capture --every 1s --for 5s under BusyBox: six snapshots, a second apart, the growth seen', async () => {
  const printed = await runCliInProcess(['capture', '--every', '1s', '--for', '5s', '--print-script']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(
    printed.stdout,
    /^MEMLENS_CAPTURE_SMAPS=no\nMEMLENS_CAPTURE_EVERY_MS=1000\nMEMLENS_CAPTURE_FOR_MS=5000\n/,
  );
  const pid = String(grower.pid);
  const ex = String(execer.pid);
  const r = await waitingFor('a 5 s BusyBox capture series of two processes', () =>
    runSeries(printed.stdout, [pid, ex]),
  );
  assert.equal(r.code, 0, r.err);
  const series = parseArchiveSeries(r.out, 'live series');
  assert.ok(series);
  assert.equal(series.summary.snapshots, 6);
  assert.equal(series.summary.truncated, 0);
  // The script starts each round when it is due, a second after the one before; where in its
  // round /proc/uptime is read varies by a few tens of ms (the first round reads more before it).
  const ups = series.snapshots.map((s) => archiveUptimeMs(s) ?? NaN);
  assert.ok((ups[5] ?? 0) - (ups[0] ?? 0) >= 4800, `uptimes ${ups.join(', ')}`);
  for (const s of series.snapshots) assert.equal(s.entries.get(`proc/${pid}/status`)?.kind, 'file');
  // Format 3: the grower's command line and program are written once and carried into every
  // snapshot; the shell that ran exec() is read again once its name changed.
  const text = r.out.toString('latin1');
  assert.match(text, /^memlens-capture 3\n/);
  const headers = text.match(new RegExp(`\\nF \\d+ proc/${pid}/cmdline\\n`, 'g')) ?? [];
  assert.equal(headers.length, 1, "the grower's command line is written once");
  const cmdline = (k: number, p: string): string => {
    const e = series.snapshots[k]?.entries.get(`proc/${p}/cmdline`);
    return e?.kind === 'file' ? Buffer.from(e.data).toString('latin1') : `(${e?.kind ?? 'absent'})`;
  };
  for (let k = 1; k < 6; k++) {
    assert.equal(cmdline(k, pid), cmdline(0, pid), `the grower's cmdline in snapshot ${k}`);
    assert.deepEqual(
      series.snapshots[k]?.entries.get(`proc/${pid}/exe`),
      series.snapshots[0]?.entries.get(`proc/${pid}/exe`),
    );
  }
  assert.match(cmdline(0, ex), /\0sh\0-c\0sleep 1\.5; exec sleep 600\0$/);
  assert.equal(cmdline(5, ex), 'sleep\u0000600\u0000');
  const exe = series.snapshots[5]?.entries.get(`proc/${ex}/exe`);
  assert.ok(exe?.kind === 'link' && exe.target === realpathSync(busybox), JSON.stringify(exe));

  const path = join(scratch, 'live.snap');
  writeFileSync(path, r.out);
  const diff = await runCliInProcess(['snapshot', '--from', path, '--json']);
  assert.equal(diff.code, 0, diff.stderr);
  const d = JSON.parse(diff.stdout) as SeriesDiffJson;
  assert.equal(d.snapshots, 6);
  const p = d.processes.find((x) => x.pid === grower.pid);
  assert.ok(p, 'the growing shell is in both ends');
  assert.ok((p.pss.changeBytes ?? 0) > 0, `its PSS grew: ${p.pss.changeBytes}`);
});

test('a series killed mid-way reads up to its last complete snapshot', async () => {
  const printed = await runCliInProcess(['capture', '--every', '1s', '--for', '60s', '--print-script']);
  assert.equal(printed.code, 0, printed.stderr);
  const ends = (b: Buffer): number => b.toString('latin1').match(/\nend \d+\n/g)?.length ?? 0;
  const r = await waitingFor('a BusyBox capture series killed after its second snapshot', () =>
    runSeries(printed.stdout, [String(grower.pid)], (out) => ends(out) >= 2),
  );
  assert.equal(r.signal, 'SIGKILL');
  const series = parseArchiveSeries(r.out, 'killed series');
  assert.ok(series);
  assert.equal(series.summary.snapshots, ends(r.out));
  assert.ok(series.summary.snapshots >= 2);
  const path = join(scratch, 'killed.snap');
  writeFileSync(path, r.out);
  const diff = await runCliInProcess(['snapshot', '--from', path, '--json']);
  assert.equal(diff.code, 0, diff.stderr);
  assert.equal((JSON.parse(diff.stdout) as SeriesDiffJson).snapshots, series.summary.snapshots);
});
