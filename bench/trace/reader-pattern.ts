// What the way a tracefs ring buffer is read costs the traced program: the mmap+munmap workload
// timed with the tracepoints enabled and (a) nobody reading, (b) a reader that sweeps every CPU's
// trace_pipe_raw without blocking and sleeps 10 ms once it has read each empty, as memlens does,
// and (c) a reader that asks again at once, catching up with the writer again and again. The
// readers run in a child process on the other CPU and throw the bytes away. Interleaved rounds.
//   node dist/bench/trace/reader-pattern.js [--pairs 500000] [--rounds 5]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, buildC, median, runToEnd, sleep, withTracepointsInstance } from './harness.js';

const pairs = Number(arg('pairs', '500000'));
const rounds = Number(arg('rounds', '5'));

const bin = await buildC('mmap-pairs');
const workload = async (): Promise<number> => {
  const out = await runToEnd('taskset', ['-c', '0', bin, String(pairs)]);
  const m = /ns (\d+)/.exec(out);
  if (!m?.[1]) throw new Error(`workload said: ${out}`);
  return Number(m[1]) / pairs;
};

// The reader, as a script for a child node process: argv = instance dir, pause in ms after a sweep.
const readerSource = `
const fs = require('node:fs');
const [dir, pauseMs] = process.argv.slice(1);
const fds = fs.readdirSync(dir + '/per_cpu').map((c) => fs.openSync(dir + '/per_cpu/' + c + '/trace_pipe_raw', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
const buf = Buffer.alloc(65536);
const sweep = () => {
  for (const fd of fds) {
    for (;;) {
      let n = 0;
      try { n = fs.readSync(fd, buf, 0, buf.length, null); } catch (e) { if (e.code !== 'EAGAIN') throw e; }
      if (n === 0) break;
    }
  }
  if (Number(pauseMs) > 0) setTimeout(sweep, Number(pauseMs)); else setImmediate(sweep);
};
process.stdout.write('ready\\n');
sweep();
`;

async function withReader(dir: string, pauseMs: number | null): Promise<number> {
  if (pauseMs === null) return workload();
  const child = spawn('taskset', ['-c', '1', process.execPath, '-e', readerSource, dir, String(pauseMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  try {
    return await workload();
  } finally {
    child.kill();
    await new Promise((r) => child.on('close', r));
  }
}

const results = new Map<string, number[]>();
await withTracepointsInstance('memlens-bench-reader', async (dir) => {
  const configs: [string, number | null][] = [
    ['nobody reading', null],
    ['memlens pattern: sweep, 10 ms pause once read empty', 10],
    ['asking again at once (busy)', 0],
  ];
  for (let r = 0; r < rounds; r++) {
    writeFileSync(join(dir, 'tracing_on'), '0');
    const untraced = await workload();
    writeFileSync(join(dir, 'tracing_on'), '1');
    for (const [name, pause] of configs) {
      const ns = await withReader(dir, pause);
      const list = results.get(name) ?? [];
      list.push((ns - untraced) / 2);
      results.set(name, list);
      process.stderr.write(`round ${r + 1}: ${name}: ${ns.toFixed(0)} ns/pair (untraced ${untraced.toFixed(0)})\n`);
      await sleep(200);
    }
  }
});
console.log(`| reader | added ns per traced call, median over ${rounds} rounds (min … max) |`);
console.log('|---|---:|');
for (const [name, xs] of results)
  console.log(`| ${name} | ${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)} … ${Math.max(...xs).toFixed(0)}) |`);
