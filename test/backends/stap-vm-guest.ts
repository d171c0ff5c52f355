// The program the SystemTap virtual machine runs (stap-vm.live.test.ts), under Debian's kernel with
// this checkout shared read-only: it loads the memlens.stp module built on the host with staprun,
// runs the known workload while both SystemTap and memlens's tracefs backend trace the whole
// machine, and prints what each saw as `MEMLENS-VM-RESULT <name> <json>` for the host to judge.
//
//   node stap-vm-guest.js MODULE.ko WORKLOAD
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createTracefsBackend } from '../../src/sources/tracefs.js';
import { eventToJson, type LifecycleEvent } from '../../src/wire/events.js';
import { waitingFor } from '../helpers/waiting.js';
import { collect, spawnKnownWorkload } from './known-workload.js';

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

function report(name: string, value: unknown): void {
  process.stdout.write(`MEMLENS-VM-RESULT ${name} ${json(value)}\n`);
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const [moduleKo, workload] = process.argv.slice(2);
report('release', release());

try {
  if (moduleKo === undefined || workload === undefined) throw new Error('usage: stap-vm-guest.js MODULE.ko WORKLOAD');
  // The runtime looks this up by name (tracing/stap-runtime-task-work.patch): show that it is there.
  const kallsyms = readFileSync('/proc/kallsyms', 'utf8');
  report('kallsyms', { taskWorkCancelFunc: / T task_work_cancel_func$/m.test(kallsyms) });

  const out = join(tmpdir(), 'memlens-stap.txt');
  const held = spawnKnownWorkload(workload);
  // The whole machine, as memlens.stp traces it: the workload's pid and its child's are picked
  // out afterwards, on both sides.
  const tracefs = createTracefsBackend({ host: 'vm', excludeSelf: false });
  await tracefs.start();
  const fromTracefs = collect(tracefs);

  const staprun = spawn('staprun', ['-o', out, moduleKo], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stapOutput = '';
  staprun.stdout.setEncoding('utf8').on('data', (d: string) => (stapOutput += d));
  staprun.stderr.setEncoding('utf8').on('data', (d: string) => (stapOutput += d));
  // Set from the child's events: read through a function, which the type checker does not narrow.
  let exitStatus: number | string | null | undefined;
  const stapExit = (): number | string | null | undefined => exitStatus;
  const stapExited = new Promise<void>((resolve) => {
    staprun.on('exit', (code, signal) => {
      exitStatus = code ?? signal;
      resolve();
    });
    staprun.on('error', (e) => {
      exitStatus = e.message;
      resolve();
    });
  });
  const written = (): string => (existsSync(out) ? readFileSync(out, 'latin1') : '');

  // The probes are live once a process started now has its calls in the output (the begin
  // probe's header alone does not prove that the syscall probes are attached).
  const probe = await waitingFor(
    'memlens.stp to print the calls of a process started after staprun',
    async (signal) => {
      while (!signal.aborted) {
        const status = stapExit();
        if (status !== undefined) throw new Error(`staprun exited (${String(status)}): ${stapOutput}`);
        const pid = spawnSync('/bin/true').pid;
        await pause(500);
        if (new RegExp(`^C \\d+ \\d+ ${pid} ${pid} `, 'm').test(written())) return pid;
      }
      return undefined;
    },
  );
  report('probe', { pid: probe });

  const r = await held.go();
  // SystemTap's transport hands lines over in batches: wait for the workload's last marker.
  await waitingFor(`memlens.stp to print the end marker of pid ${r.pid}`, async (signal) => {
    const marker = new RegExp(
      `^C \\d+ \\d+ ${r.pid} ${r.pid} \\S+ \\S+ munmap 0x${r.markEnd.toString(16)} 0x0 -22$`,
      'm',
    );
    while (!signal.aborted && !marker.test(written())) await pause(250);
  });
  // SIGINT: staprun unloads the module, whose end probe prints the U and L lines first.
  staprun.kill('SIGINT');
  await waitingFor('staprun to exit after SIGINT', () => stapExited, 3 * 60_000);
  await tracefs.stop();
  const got = await fromTracefs;

  const ours = new Set([r.pid, r.child]);
  const mine = (l: LifecycleEvent): boolean => (l.kind === 'fork' ? ours.has(l.parentPid) : ours.has(l.pid));
  const text = readFileSync(out);
  report('capture', {
    workload: r,
    stapExit: stapExit(),
    stapOutput,
    // Compressed: the serial console is the only way out of the machine.
    stapGzipBase64: gzipSync(text).toString('base64'),
    stapBytes: text.length,
    tracefsEvents: got.events.filter((e) => ours.has(e.pid)).map(eventToJson),
    tracefsLifecycle: got.lifecycle.filter(mine),
    tracefsLost: tracefs.lost(),
  });
} catch (e) {
  report('error', e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}
report('done', true);
// Whatever is left (a staprun or a workload held at its gate after a failure) must not keep the
// machine from powering off.
process.exit(0);
