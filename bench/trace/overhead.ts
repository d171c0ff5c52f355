// Tracing overhead: one workload of N mmap+munmap pairs (2N traced calls, 4N tracepoint hits),
// timed around its loop, untraced, with the kernel's tracepoints alone, and under each tracer,
// side by side in one run.
//   node dist/bench/trace/overhead.js [--pairs 1000000] [--runs 3] [--slow-runs 1] [--db FILE|URL|none]
// (--slow-runs 0 leaves out strace and perf trace, which take minutes.)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, buildC, median, root, runToEnd, scratch, sleep, startMemlens } from './harness.js';

const pairs = Number(arg('pairs', '1000000'));
const runs = Number(arg('runs', '3'));
const slowRuns = Number(arg('slow-runs', '1'));
const db = arg('db', join(scratch, 'overhead.sqlite'));
const storeArgs = db === 'none' ? ['--no-store'] : ['--db', db];
const calls = 2 * pairs;

interface Row {
  config: string;
  nsPerPair: number;
  captured: string;
}

const bin = await buildC('mmap-pairs');
// The workload runs on CPU 0; tracers are free to use the other CPU.
const workload = async (prefix: string[] = []): Promise<{ pid: number; ns: number }> => {
  const out = await runToEnd('taskset', ['-c', '0', ...prefix, bin, String(pairs)]);
  const m = /pid (\d+) pairs \d+ ns (\d+)/.exec(out);
  if (!m?.[1] || !m[2]) throw new Error(`workload said: ${out}`);
  return { pid: Number(m[1]), ns: Number(m[2]) };
};

const rows: Row[] = [];
const times = async (config: string, n: number, once: () => Promise<{ ns: number; captured: string }>) => {
  const ns: number[] = [];
  let captured = '';
  for (let i = 0; i < n; i++) {
    const r = await once();
    ns.push(r.ns);
    captured = r.captured;
  }
  rows.push({ config, nsPerPair: median(ns) / pairs, captured });
  process.stderr.write(`${config}: ${(median(ns) / pairs).toFixed(0)} ns/pair (${ns.map((x) => (x / pairs).toFixed(0)).join(', ')})\n`);
};

await times('untraced', runs, async () => ({ ...(await workload()), captured: '-' }));

// The kernel's own share: the same events enabled in an instance of ours, nobody reading (the
// ring buffer overwrites itself). What any tracefs reader adds comes on top of this.
await times('kernel floor: the same tracepoints enabled, nothing reading', runs, async () => {
  const tracefs = '/sys/kernel/tracing';
  if (!existsSync(join(tracefs, 'instances'))) await runToEnd('mount', ['-t', 'tracefs', 'nodev', tracefs]);
  const dir = join(tracefs, 'instances', 'memlens-bench-floor');
  if (!existsSync(dir)) mkdirSync(dir);
  try {
    writeFileSync(join(dir, 'buffer_size_kb'), '8192');
    writeFileSync(join(dir, 'trace_clock'), 'mono');
    const events = ['mmap', 'munmap', 'brk', 'mremap'].flatMap((c) => [`syscalls/sys_enter_${c}`, `syscalls/sys_exit_${c}`]);
    for (const e of [...events, 'task/task_newtask', 'sched/sched_process_exec', 'sched/sched_process_exit', 'task/task_rename']) {
      if (existsSync(join(dir, 'events', e, 'enable'))) writeFileSync(join(dir, 'events', e, 'enable'), '1');
    }
    writeFileSync(join(dir, 'tracing_on'), '1');
    return { ...(await workload()), captured: 'nothing read' };
  } finally {
    writeFileSync(join(dir, 'tracing_on'), '0');
    writeFileSync(join(dir, 'events', 'enable'), '0');
    rmdirSync(dir);
  }
});

const store = db === 'none' ? 'no store' : db.startsWith('mysql') ? 'MariaDB' : 'SQLite';
const memlensConfigs: { label: string; args: string[] }[] = [
  { label: `memlens trace --quiet (tracefs), ${store}`, args: ['--quiet', '--backend', 'tracefs'] },
  { label: `memlens trace --json > /dev/null (tracefs), ${store}`, args: ['--backend', 'tracefs'] },
  { label: `memlens trace --quiet --backend bpftrace, ${store}`, args: ['--quiet', '--backend', 'bpftrace'] },
];
for (const c of memlensConfigs) {
  await times(c.label, runs, async () => {
    const t = await startMemlens([...c.args, ...storeArgs]);
    const cpuBefore = t.cpuMs();
    const w = await workload();
    await sleep(1000);
    const cpuMs = t.cpuMs() - cpuBefore;
    const s = await t.stop();
    const got = s.processes.find((p) => p.pid === w.pid)?.calls ?? 0;
    return {
      ns: w.ns,
      captured: `${got} of ${calls} calls (+ loader); lost ${s.lost.lostEvents}, unpaired ${s.lost.unpaired}; memlens CPU ${(cpuMs / 1000).toFixed(2)} s, peak RSS ${(t.peakRssKib() / 1024).toFixed(0)} MiB`,
    };
  });
}

// The peer: bpftrace printing every completed call (the same script memlens runs), to a file.
await times('bpftrace -f json tracing/memlens.bt, printing every call', runs, async () => {
  const outFile = join(scratch, `bpftrace-${Date.now()}.json`);
  const bt = spawn('bpftrace', ['-f', 'json', '-B', 'full', '-o', outFile, join(root, 'tracing', 'memlens.bt'), '0'], { stdio: 'ignore' });
  while (!existsSync(outFile) || !readFileSync(outFile, 'utf8').includes('["S"')) await sleep(100);
  const w = await workload();
  await sleep(500);
  bt.kill('SIGINT');
  await new Promise((r) => bt.on('close', r));
  const lines = readFileSync(outFile, 'utf8').split('\n').filter((l) => l.includes(`,${w.pid},${w.pid},`)).length;
  const lost = /"lost_events", "data": \{"events": (\d+)/.exec(readFileSync(outFile, 'utf8'))?.[1] ?? '0';
  return { ns: w.ns, captured: `${lines} lines for the pid, bpftrace lost ${lost}` };
});

if (slowRuns > 0) await times('strace -f -o /dev/null', slowRuns, async () => ({ ...(await workload(['strace', '-f', '-o', '/dev/null'])), captured: 'per process' }));
if (slowRuns > 0) await times('perf trace -e mmap,munmap,brk,mremap -o /dev/null', slowRuns, async () => ({ ...(await workload(['perf', 'trace', '-e', 'mmap,munmap,brk,mremap', '-o', '/dev/null', '--'])), captured: 'per process' }));

const base = rows[0]?.nsPerPair ?? NaN;
console.log(`| configuration | ns per pair | added ns per traced call | captured |`);
console.log(`|---|---:|---:|---|`);
for (const r of rows) console.log(`| ${r.config} | ${r.nsPerPair.toFixed(0)} | ${r === rows[0] ? '-' : ((r.nsPerPair - base) / 2).toFixed(0)} | ${r.captured} |`);
