// Tracing overhead: one workload of N mmap+munmap pairs (2N traced calls, 4N tracepoint hits),
// timed around its loop, untraced, with the kernel's tracepoints alone, and under each tracer,
// side by side in one run.
//   node dist/bench/trace/overhead.js [--pairs 500000] [--rounds 7] [--slow-runs 1] [--db FILE|URL|none]
//                                     [--only 'floor,--quiet (tracefs)']
// (--slow-runs 0 leaves out strace and perf trace, which take minutes. --only keeps the
// configurations whose name holds one of the comma-separated parts, besides the untraced run: the
// 60-second run of issue 13 §2 is --pairs 11000000 --rounds 1 --slow-runs 0 with the floor and
// memlens --quiet only.)
//
// The machine these run on is a VM whose speed drifts by tens of per cent within minutes (other
// guests on the host). So the configurations are interleaved: every round runs each of them once,
// an untraced run first, and a configuration's cost is the median over rounds of its difference to
// that round's untraced run. Slow drift then cancels out; what is left shows as the spread.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  arg,
  buildC,
  median,
  root,
  runToEnd,
  scratch,
  sleep,
  startMemlens,
  withTracepointsInstance,
} from './harness.js';

const pairs = Number(arg('pairs', '500000'));
const rounds = Number(arg('rounds', '7'));
const slowRuns = Number(arg('slow-runs', '1'));
const db = arg('db', join(scratch, 'overhead.sqlite'));
const storeArgs = db === 'none' ? ['--no-store'] : ['--db', db];
const calls = 2 * pairs;
const only = arg('only', '')
  .split(',')
  .filter((part) => part !== '');
const chosen = (name: string): boolean => only.length === 0 || only.some((part) => name.includes(part));

const bin = await buildC('mmap-pairs');
// The workload runs on CPU 0; tracers are free to use the other CPU.
const workload = async (prefix: string[] = []): Promise<{ pid: number; ns: number }> => {
  const out = await runToEnd('taskset', ['-c', '0', ...prefix, bin, String(pairs)]);
  const m = /pid (\d+) pairs \d+ ns (\d+)/.exec(out);
  if (!m?.[1] || !m[2]) throw new Error(`workload said: ${out}`);
  return { pid: Number(m[1]), ns: Number(m[2]) };
};

interface Outcome {
  ns: number;
  captured: string;
}

interface Config {
  name: string;
  once: () => Promise<Outcome>;
}

// The kernel's own share: the same events enabled in an instance of ours, nobody reading (the
// ring buffer overwrites itself). What any tracefs reader adds comes on top of this.
async function kernelFloor(): Promise<Outcome> {
  return withTracepointsInstance('memlens-bench-floor', async () => ({
    ...(await workload()),
    captured: 'nothing read',
  }));
}

async function memlens(args: string[]): Promise<Outcome> {
  const t = await startMemlens([...args, ...storeArgs]);
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
}

// The peer: bpftrace printing every completed call (the same script memlens runs), to a file.
async function bpftracePrinting(): Promise<Outcome> {
  const outFile = join(scratch, `bpftrace-${Date.now()}.json`);
  const bt = spawn('bpftrace', ['-f', 'json', '-B', 'full', '-o', outFile, join(root, 'tracing', 'memlens.bt'), '0'], {
    stdio: 'ignore',
  });
  while (!existsSync(outFile) || !readFileSync(outFile, 'utf8').includes('["S"')) await sleep(100);
  const w = await workload();
  await sleep(500);
  bt.kill('SIGINT');
  await new Promise((r) => bt.on('close', r));
  const text = readFileSync(outFile, 'utf8');
  const lines = text.split('\n').filter((l) => l.includes(`,${w.pid},${w.pid},`)).length;
  const lost = /"lost_events", "data": \{"events": (\d+)/.exec(text)?.[1] ?? '0';
  return { ns: w.ns, captured: `${lines} lines for the pid, bpftrace lost ${lost}` };
}

const store = db === 'none' ? 'no store' : db.startsWith('mysql') ? 'MariaDB' : 'SQLite';
const configs: Config[] = [
  { name: 'untraced', once: async () => ({ ...(await workload()), captured: '-' }) },
  { name: 'kernel floor: the same tracepoints enabled, nothing reading', once: kernelFloor },
  { name: `memlens trace --quiet (tracefs), ${store}`, once: () => memlens(['--quiet', '--backend', 'tracefs']) },
  { name: `memlens trace --json > /dev/null (tracefs), ${store}`, once: () => memlens(['--backend', 'tracefs']) },
  {
    name: `memlens trace --quiet --backend bpftrace, ${store}`,
    once: () => memlens(['--quiet', '--backend', 'bpftrace']),
  },
  { name: 'bpftrace -f json tracing/memlens.bt, printing every call', once: bpftracePrinting },
];
const slow: Config[] = [
  {
    name: 'strace -f -o /dev/null',
    once: async () => ({ ...(await workload(['strace', '-f', '-o', '/dev/null'])), captured: 'per process' }),
  },
  {
    name: 'perf trace -e mmap,munmap,brk,mremap -o /dev/null',
    once: async () => ({
      ...(await workload(['perf', 'trace', '-e', 'mmap,munmap,brk,mremap', '-o', '/dev/null', '--'])),
      captured: 'per process',
    }),
  },
];

interface Tally {
  ns: number[];
  /** Per round: this run minus the same round's untraced run, ns per pair. */
  added: number[];
  captured: string;
}
const tally = new Map<string, Tally>();
const record = (name: string, o: Outcome, untracedNs: number): void => {
  const t = tally.get(name) ?? { ns: [], added: [], captured: '' };
  t.ns.push(o.ns / pairs);
  t.added.push((o.ns - untracedNs) / pairs);
  t.captured = o.captured;
  tally.set(name, t);
};

const runRound = async (list: Config[], label: string): Promise<void> => {
  const untraced = configs[0];
  if (untraced === undefined) throw new Error('no untraced configuration');
  const base = await untraced.once();
  record(untraced.name, base, base.ns);
  for (const c of list) {
    const o = await c.once();
    record(c.name, o, base.ns);
    process.stderr.write(
      `${label} ${c.name}: ${(o.ns / pairs).toFixed(0)} ns/pair (untraced ${(base.ns / pairs).toFixed(0)})\n`,
    );
  }
};
for (let r = 1; r <= rounds; r++)
  await runRound(
    configs.slice(1).filter((c) => chosen(c.name)),
    `round ${r}/${rounds}`,
  );
for (let r = 1; r <= slowRuns; r++)
  await runRound(
    slow.filter((c) => chosen(c.name)),
    `slow ${r}/${slowRuns}`,
  );

const fmt = (x: number): string => x.toFixed(0);
console.log(
  `${rounds} rounds of ${pairs.toLocaleString('en')} pairs; "added" is the median over rounds of (run − that round's untraced run) / 2 calls per pair, with its range.`,
);
console.log('');
console.log(
  `| configuration | ns per pair, median | added ns per traced call, median (min … max) | captured (last round) |`,
);
console.log(`|---|---:|---:|---|`);
for (const [name, t] of tally) {
  const added =
    name === 'untraced'
      ? '–'
      : `${fmt(median(t.added) / 2)} (${fmt(Math.min(...t.added) / 2)} … ${fmt(Math.max(...t.added) / 2)})`;
  console.log(`| ${name} | ${fmt(median(t.ns))} | ${added} | ${t.captured} |`);
}
