// `memlens trace` with the tracefs backend on the real kernel, against a workload whose calls are
// known exactly (test/workloads/mmap-known.c).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { MemEventJson } from '../../src/wire/events.js';
import { pidNamespaceOf } from '../../src/sources/tracefs-instance.js';
import { runCli } from '../helpers/cli.js';
import { withTraceLock } from '../helpers/trace-lock.js';
import { waitingFor } from '../helpers/waiting.js';
import { buildWorkload, checkWorkloadEvents, parseDone } from './known-workload.js';
import { ended, startTrace, startWorkload } from './trace-process.js';

const INSTANCES = '/sys/kernel/tracing/instances';
/** The start of the instance name of a memlens run with this pid, in this test's pid namespace. */
const instancePrefix = (pid: number | undefined): string => `memlens-${pidNamespaceOf('self') ?? '?'}-${pid ?? '?'}-`;
const { binary, execLink } = buildWorkload();

interface SummaryRow {
  pid: number;
  name: string;
  requestedBytes: number;
  reservedBytes: number;
  mappedNowBytes: number | null;
  mappedNowPercent: number | null;
  modelComplete: boolean;
  exited: boolean;
}
interface Summary {
  summary: {
    totalVirtualBytes: number;
    processes: SummaryRow[];
    lost: { lostEvents: number; unpaired: number; malformed: number };
  };
}

function parseNdjson(text: string): MemEventJson[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as MemEventJson);
}

const memlensInstances = () =>
  existsSync(INSTANCES) ? readdirSync(INSTANCES).filter((n) => n.startsWith('memlens-')) : [];

test('the traced events of the workload match its calls exactly; mapped now matches VmSize; nothing lost', async () => {
  // The workload exists (paused) before tracing starts, so its address space is seeded from /proc/PID/maps.
  const w = await startWorkload(binary, execLink);
  const trace = await startTrace(['--json', '--no-store']);
  const instance = memlensInstances().find((n) => n.startsWith(instancePrefix(trace.child.pid)));
  assert.ok(instance, 'a private instance named after the memlens process');
  const ids = parseDone(await w.go());
  assert.equal(ids.pid, w.pid);
  // Still alive (waiting on stdin): its VmSize now is what the model must show.
  const vmSizeKib = Number(/^VmSize:\s*(\d+) kB/m.exec(readFileSync(`/proc/${w.pid}/status`, 'utf8'))?.[1]);
  // And its PROT_NONE mappings (library gaps, the worker's stack guard) what the model must call reserved.
  const reservedNow = readFileSync(`/proc/${w.pid}/maps`, 'utf8')
    .split('\n')
    .map((l) => /^([0-9a-f]+)-([0-9a-f]+) ---/.exec(l))
    .reduce((n, m) => n + (m?.[1] && m[2] ? parseInt(m[2], 16) - parseInt(m[1], 16) : 0), 0);
  await new Promise((r) => setTimeout(r, 300)); // one read round, so the last calls are in
  trace.child.kill('SIGINT');
  const code = await ended(trace, 'after SIGINT');
  await w.finish();
  assert.equal(code, 0, trace.stderr());

  const events = parseNdjson(trace.stdout());
  for (const e of events) {
    assert.deepEqual(Object.keys(e), [
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
    ]);
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  checkWorkloadEvents(events, ids);
  // memlens leaves itself out by default.
  assert.ok(!events.some((e) => e.pid === trace.child.pid), 'no events of memlens itself');
  // Events of one thread come in kernel-time order.
  const mine = events.filter((e) => e.pid === ids.pid);
  assert.deepEqual(
    mine.map((e) => BigInt(e.ktime)),
    mine.map((e) => BigInt(e.ktime)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
  );

  const summaryLine = trace
    .stderr()
    .split('\n')
    .find((l) => l.startsWith('{"summary"'));
  assert.ok(summaryLine, trace.stderr());
  const summary = (JSON.parse(summaryLine) as Summary).summary;
  assert.equal(summary.lost.lostEvents, 0);
  assert.equal(summary.lost.malformed, 0);
  const row = summary.processes.find((r) => r.pid === ids.pid);
  assert.ok(row);
  assert.equal(row.name, 'mmap-known');
  assert.equal(row.modelComplete, true);
  assert.equal(row.mappedNowBytes, vmSizeKib * 1024, 'mapped now = VmSize');
  assert.equal(row.reservedBytes, reservedNow, 'reserved = the ---p mappings of /proc/PID/maps');
  assert.equal(row.requestedBytes, vmSizeKib * 1024 - reservedNow, 'requested = VmSize − reserved');
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kib = (n: string) => Number(new RegExp(`^${n}:\\s*(\\d+)`, 'm').exec(meminfo)?.[1]) * 1024;
  assert.equal(summary.totalVirtualBytes, kib('MemTotal') + kib('SwapTotal'));
  assert.ok(Math.abs((row.mappedNowPercent ?? 0) - (row.mappedNowBytes * 100) / summary.totalVirtualBytes) < 1e-9);
  const child = summary.processes.find((r) => r.pid === ids.childPid);
  assert.equal(child?.exited, true);
  assert.equal(child.name, 'mlexec');
  assert.ok(!memlensInstances().includes(instance), 'the instance is removed on SIGINT');
});

/** Traces the known workload with `--pid` and ARGS (no store) until SIGTERM; the trace must exit 0. */
async function traceWorkloadPid(
  args: string[],
): Promise<{ trace: Awaited<ReturnType<typeof startTrace>>; ids: ReturnType<typeof parseDone> }> {
  const w = await startWorkload(binary, execLink);
  const trace = await startTrace([...args, '--pid', String(w.pid), '--no-store']);
  const ids = parseDone(await w.go());
  await new Promise((r) => setTimeout(r, 300));
  trace.child.kill('SIGTERM');
  const code = await ended(trace, 'after SIGTERM');
  await w.finish();
  assert.equal(code, 0, trace.stderr());
  return { trace, ids };
}

test('--pid keeps one process; text mode prints snoop lines and the summary', async () => {
  const { trace, ids } = await traceWorkloadPid([]);
  const lines = trace.stdout().split('\n');
  assert.match(lines[0] ?? '', /^TIME\s+PID\s+TID\s+NAME\s+THREAD\s+CALL\s+ARGS = RESULT/);
  const eventLines = lines.filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
  // 13 calls of the main thread (with glibc's mprotect of the worker's stack) and 2 of the worker.
  assert.equal(eventLines.length, 16, trace.stdout());
  assert.ok(eventLines.every((l) => l.split(/\s+/)[1] === String(ids.pid)));
  assert.ok(
    eventLines.some((l) =>
      / mmap-known\s+mlworker\s+mmap\s+addr=0x0 len=77824 prot=rw- flags=0x22 fd=-1 = 0x[0-9a-f]+$/.test(l),
    ),
  );
  assert.ok(eventLines.some((l) => /mmap\s+addr=0x0 len=45056 prot=r-- flags=0x2 fd=12345 = -9 EBADF$/.test(l)));
  assert.match(trace.stdout(), /Per process/);
  assert.match(trace.stdout(), /MemTotal \+ SwapTotal/);
  assert.match(trace.stdout(), /lost events: 0 /);
});

test('--pid with --follow keeps the processes it forks, and theirs, and no other', async () => {
  // A shell that, once told to go, forks a child and a grandchild (each runs true: the loader's
  // mmap calls) and prints their pids.
  const script = "read go; /bin/true & echo child $!; wait; sh -c '/bin/true & echo grandchild $!; wait'; echo done";
  const sh = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  sh.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  try {
    const trace = await startTrace(['--pid', String(sh.pid), '--follow', '--json', '--no-store']);
    sh.stdin.write('go\n');
    await waitingFor('the forking shell to say done', async (signal) => {
      while (!signal.aborted && !out.includes('done\n')) await new Promise((r) => setTimeout(r, 20));
    });
    await new Promise((r) => setTimeout(r, 300));
    trace.child.kill('SIGTERM');
    assert.equal(await ended(trace, 'after SIGTERM'), 0, trace.stderr());
    const child = Number(/^child (\d+)$/m.exec(out)?.[1]);
    const grandchild = Number(/^grandchild (\d+)$/m.exec(out)?.[1]);
    const pids = new Set(parseNdjson(trace.stdout()).map((e) => e.pid));
    assert.ok(pids.has(child), `the child ${child} is followed: ${[...pids].join(' ')}`);
    assert.ok(pids.has(grandchild), `the grandchild ${grandchild} is followed: ${[...pids].join(' ')}`);
    // The shell itself, its two children, the inner sh: nothing else.
    assert.ok(pids.size <= 4, [...pids].join(' '));
  } finally {
    sh.kill('SIGKILL');
  }
});

test('trace -- COMMAND: the command from its first call after exec, its children, nothing else; its exit code said', async () => {
  const r = await runCli(['trace', '--json', '--no-store', '--', 'sh', '-c', '/bin/true; /bin/true; exit 3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /memlens: the command exited with code 3\n/);
  const events = parseNdjson(r.stdout);
  const byName = new Map<string, Set<number>>();
  for (const e of events) byName.set(e.name, (byName.get(e.name) ?? new Set()).add(e.pid));
  // Only the command (sh) and the two processes it started (true): not memlens, not its gate.
  assert.deepEqual([...byName.keys()].sort(), ['sh', 'true'], JSON.stringify([...byName]));
  assert.equal(byName.get('true')?.size, 2);
  // Held at the gate until tracing ran: sh's own start is seen, its loader mapping ld.so.cache
  // (PROT_READ, MAP_PRIVATE, from a file) before anything else it does.
  const sh = events.filter((e) => e.name === 'sh');
  assert.ok(sh.length >= 5, `${sh.length} calls of sh`);
  assert.equal(sh[0]?.call, 'brk', JSON.stringify(sh[0]));
});

test('kill -9 leaves the instance behind; the next start removes it', async () => {
  // Any tracefs run starting meanwhile would remove the leftover too: hold the tracing lock.
  await withTraceLock(async () => {
    const trace = await startTrace(['--no-store']);
    const pid = trace.child.pid;
    const left = memlensInstances().find((n) => n.startsWith(instancePrefix(pid)));
    assert.ok(left);
    trace.child.kill('SIGKILL');
    await ended(trace, 'after SIGKILL');
    assert.ok(memlensInstances().includes(left), 'SIGKILL cannot clean up');
    const next = await runCli(['trace', '--no-store', '--duration', '200ms']);
    assert.equal(next.code, 0, next.stderr);
    assert.ok(next.stderr.includes(`removed tracing instance left by a killed run: ${left}`), next.stderr);
    assert.ok(!memlensInstances().includes(left));
    assert.ok(!memlensInstances().some((n) => n.startsWith(instancePrefix(pid))));
  });
});

test('--duration ends the run by itself and removes the instance', async () => {
  const r = await runCli(['trace', '--no-store', '--json', '--duration', '300ms']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /"summary"/);
  // Only this run's own instance (memlens-<pidns>-<pid>-…) is checked: other tests may be tracing meanwhile.
  assert.ok(r.pid !== undefined);
  assert.deepEqual(
    memlensInstances().filter((n) => n.startsWith(instancePrefix(r.pid))),
    [],
  );
});

test('usage errors exit 2 with one line; not being root exits 1 with one line', async () => {
  for (const args of [
    ['--duration', 'soon'],
    ['--backend', 'dtrace'],
    ['--pid', 'abc'],
    ['--follow'],
    ['--pid', '1', '--', 'true'],
    ['--db', 'mysql://x', '--no-store'],
    ['--max-rows', '100', '--no-store'],
    ['--max-rows', 'many'],
    ['--max-age', 'forever'],
  ]) {
    const r = await runCli(['trace', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const nobody = await runCli(['trace', '--no-store', '--duration', '1s'], { uid: 65534, gid: 65534 });
  assert.equal(nobody.code, 1, nobody.stderr);
  assert.match(nobody.stderr, /^memlens: memlens trace needs root/);
  assert.equal(nobody.stderr.trim().split('\n').length, 1);
  // With a command: it waits at its gate for tracing, which never starts; memlens must still end
  // with its error (it used to wait for the gate), and the command never runs.
  const gated = await runCli(['trace', '--no-store', '--', 'sh', '-c', 'echo the command ran'], {
    uid: 65534,
    gid: 65534,
    boundMs: 60_000,
  });
  assert.equal(gated.code, 1, gated.stderr);
  assert.match(gated.stderr, /^memlens: memlens trace needs root/);
  assert.doesNotMatch(gated.stdout, /the command ran/);
});

test('--quiet prints no line per call, only the summary', async () => {
  const { trace, ids } = await traceWorkloadPid(['--quiet']);
  const out = trace.stdout();
  assert.doesNotMatch(out, /^TIME\s+PID/m);
  assert.equal(out.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l)).length, 0, out);
  // The summary still counts the workload's 16 calls (glibc's stack mprotect among them; 2 failed).
  assert.match(out, new RegExp(`^\\s*${ids.pid}\\s+mmap-known\\s+16\\s+2\\s`, 'm'));
  assert.match(out, /lost events: 0 /);
});

test('--include-self shows memlens itself, which is otherwise left out', async () => {
  const withSelf = await startTrace(['--json', '--no-store', '--include-self', '--duration', '300ms']);
  assert.equal(await ended(withSelf, 'at the end of --duration 300ms'), 0, withSelf.stderr());
  const own = parseNdjson(withSelf.stdout()).filter((e) => e.pid === withSelf.child.pid);
  assert.ok(own.length > 0, 'node maps memory while it reads /proc and the ring buffers');
  assert.ok(
    own.every((e) => e.name === 'node' || e.name === 'MainThread'),
    own[0]?.name,
  );
  const without = await startTrace(['--json', '--no-store', '--duration', '300ms']);
  assert.equal(await ended(without, 'at the end of --duration 300ms'), 0, without.stderr());
  assert.equal(parseNdjson(without.stdout()).filter((e) => e.pid === without.child.pid).length, 0);
});
