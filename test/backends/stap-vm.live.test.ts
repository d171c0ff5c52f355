// tracing/memlens.stp run live: built on the host into a module for Debian's kernel (with the
// runtime patch of tracing/stap-runtime.sh), loaded by staprun in that kernel booted under qemu
// (as the soft-dirty tests boot it), while memlens's tracefs backend traces the same machine. The
// guest (stap-vm-guest.ts) runs the known workload and sends both traces back; here SystemTap's
// output is read through `memlens trace --from-stap`, and every call of the workload must equal
// what tracefs recorded, field by field.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { before, test } from 'node:test';
import { createStapBackend } from '../../src/sources/stap.js';
import type { LifecycleEvent, LostCounts, MemEvent, MemEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import { artifactsDir, repoRoot } from '../helpers/paths.js';
import { runInVm, vmResults, type GuestKernel, type VmRun } from '../dirty/vm.js';
import {
  betweenMarkers,
  buildKnownWorkload,
  collect,
  expectedCalls,
  shape,
  type KnownReport,
} from './known-workload.js';
import { stapModuleFor, type StapModule } from './stap-module.js';

/** The newest kernel under /boot whose modules and headers (a build tree) are installed. */
function kernelWithHeaders(): GuestKernel | undefined {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort()
    .reverse();
  const version = versions.find(
    (v) => existsSync(join('/lib/modules', v, 'build', '.config')) && existsSync(join('/lib/modules', v, 'kernel')),
  );
  return version === undefined
    ? undefined
    : { version, image: `/boot/vmlinuz-${version}`, modulesDir: join('/lib/modules', version) };
}

/** What the guest sent, its bigints as decimal strings. */
interface Capture {
  workload: Record<keyof KnownReport, string | number>;
  stapExit: number | string | null;
  stapOutput: string;
  stapGzipBase64: string;
  stapBytes: number;
  tracefsEvents: MemEventJson[];
  tracefsLifecycle: (Omit<LifecycleEvent, 'ktimeNs'> & { ktimeNs: string })[];
  tracefsLost: LostCounts;
}

let kernel: GuestKernel;
let module: StapModule;
let run: VmRun;
let capture: Capture;
let report: KnownReport;
let stapFile: string;

before(async () => {
  const k = kernelWithHeaders();
  assert.ok(
    k,
    'no kernel under /boot with its headers installed: run .ci/setup-system (linux-image-amd64, linux-headers-amd64)',
  );
  kernel = k;
  module = await stapModuleFor(kernel.version);
  const bin = await buildKnownWorkload();
  run = await runInVm(
    kernel,
    [process.execPath, join(repoRoot, 'dist', 'test', 'backends', 'stap-vm-guest.js'), module.path, bin],
    {
      visible: [repoRoot, dirname(process.execPath), dirname(bin)],
    },
  );
  const dir = join(artifactsDir, 'stap-vm');
  mkdirSync(dir, { recursive: true });
  // The whole console, for a person to read when a check fails.
  writeFileSync(join(dir, 'console.txt'), run.console);
  const results = vmResults(run);
  assert.equal(
    results.get('error'),
    undefined,
    `the guest failed: ${String(results.get('error'))}; console:\n${run.console.slice(-6000)}`,
  );
  assert.equal(results.get('done'), true, `the guest did not finish; console:\n${run.console.slice(-6000)}`);
  const c = results.get('capture') as Capture | undefined;
  assert.ok(c, 'the guest sent no capture');
  capture = c;
  const w = c.workload;
  const big = (k: keyof KnownReport): bigint => BigInt(w[k]);
  report = {
    pid: Number(w.pid),
    worker: Number(w.worker),
    child: Number(w.child),
    markBegin: big('markBegin'),
    markEnd: big('markEnd'),
    a: big('a'),
    b: big('b'),
    c: big('c'),
    m: big('m'),
    k: big('k'),
    d: big('d'),
    e: big('e'),
  };
  stapFile = join(dir, 'memlens-stap.txt');
  writeFileSync(stapFile, gunzipSync(Buffer.from(c.stapGzipBase64, 'base64')));
});

/** The fields the two backends must agree on: all but the times and the host. */
function fields(e: MemEventJson): Omit<MemEventJson, 'time' | 'ktime' | 'host'> {
  const { time: _t, ktime: _k, host: _h, ...rest } = e;
  return rest;
}

test('memlens.stp runs in a real kernel: staprun loads the module built on the host and it prints its header, its calls and its end lines', (t) => {
  t.diagnostic(
    `guest kernel ${kernel.version} (qemu software emulation); module ${module.built ? 'built now' : 'from the cache'}: ${module.path}`,
  );
  for (const c of module.commands) t.diagnostic(`built with: ${c}`);
  t.diagnostic(`SystemTap output: ${capture.stapBytes} bytes, kept in ${stapFile}`);
  assert.equal(vmResults(run).get('release'), kernel.version);
  assert.deepEqual(vmResults(run).get('kallsyms'), { taskWorkCancelFunc: true });
  assert.equal(capture.stapExit, 0, capture.stapOutput);
  const lines = gunzipSync(Buffer.from(capture.stapGzipBase64, 'base64')).toString('latin1').split('\n');
  assert.equal(lines[0], '#memlens-stap 1');
  assert.equal(lines.at(-1), '', 'the output ends with a whole line');
  assert.match(lines.at(-3) ?? '', /^U \d+ \d+ \d+$/);
  assert.match(lines.at(-2) ?? '', /^L \d+ \d+ \d+ \d+$/);
});

test('memlens trace --from-stap on the live SystemTap output: every call of the workload equals what tracefs recorded (pid, tid, names, call, sizes, results, errors), in order', async (t) => {
  const r = await runCli([
    'trace',
    '--from-stap',
    stapFile,
    '--no-store',
    '--json',
    '--pid',
    String(report.pid),
    '--pid',
    String(report.child),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const fromStap = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MemEventJson);
  const fromTracefs = capture.tracefsEvents;
  t.diagnostic(`${fromStap.length} calls of the workload from SystemTap, ${fromTracefs.length} from tracefs`);
  // The whole life of both processes: the dynamic loader's calls, the known calls, the exit.
  assert.ok(fromTracefs.length >= expectedCalls(report).length + 2, `tracefs saw ${fromTracefs.length} calls`);
  assert.deepEqual(fromStap.map(fields), fromTracefs.map(fields));
  // The wall clocks of each call's entry: the same call, seen by two tracers reading one clock.
  const gaps = fromStap.map((e, i) => Math.abs(Date.parse(e.time) - Date.parse(fromTracefs[i]?.time ?? '')));
  t.diagnostic(`largest wall-clock difference between the two: ${Math.max(...gaps)} ms`);
  assert.ok(
    gaps.every((g) => g <= 1000),
    `wall-clock differences ${gaps.join(', ')} ms`,
  );
});

test("the SystemTap trace of the known workload is exactly its calls, and its lifecycle equals tracefs's", async () => {
  const b = createStapBackend(stapFile, { host: 'vm', excludeSelf: false, pids: [report.pid, report.child] });
  await b.start();
  const got = await collect(b);
  const calls: MemEvent[] = betweenMarkers(got.events, report);
  assert.deepEqual(calls.map(shape), expectedCalls(report));
  const life = (l: { ktimeNs: unknown }): string => {
    const { ktimeNs: _t, ...rest } = l;
    return JSON.stringify(rest);
  };
  assert.deepEqual(got.lifecycle.map(life), capture.tracefsLifecycle.map(life));
  assert.deepEqual(got.lifecycle.map((l) => l.kind).sort(), [
    'exec',
    'exit',
    'exit',
    'fork',
    'fork',
    'rename',
    'rename',
    'rename',
  ]);
});

test("SystemTap's own lost-event count (its L line) is read and shown by memlens", async (t) => {
  const text = gunzipSync(Buffer.from(capture.stapGzipBase64, 'base64')).toString('latin1');
  const m = /^L \d+ \d+ (\d+) (\d+)$/m.exec(text);
  assert.ok(m?.[1] !== undefined && m[2] !== undefined, 'no L line');
  const lost = Number(m[1]) + Number(m[2]);
  t.diagnostic(
    `SystemTap: ${m[1]} skipped probes, ${m[2]} transport failures; tracefs: ${JSON.stringify(capture.tracefsLost)}`,
  );
  const json = await runCli(['trace', '--from-stap', stapFile, '--no-store', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const summary = JSON.parse(json.stderr.split('\n').find((l) => l.startsWith('{')) ?? '{}') as {
    summary: { lost: LostCounts };
  };
  assert.equal(summary.summary.lost.lostEvents, lost);
  assert.equal(summary.summary.lost.malformed, 0);
  const human = await runCli(['trace', '--from-stap', stapFile, '--no-store', '--quiet']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(
    human.stdout + human.stderr,
    new RegExp(`lost events: ${lost} {3}unpaired calls: \\d+ {3}malformed records: 0`),
  );
  // A quiet machine and one small workload: nothing may be lost on either side.
  assert.equal(lost, 0);
  assert.equal(capture.tracefsLost.lostEvents, 0);
});
