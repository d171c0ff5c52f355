// Shared pieces of the tracing benchmarks: building the C workloads, running memlens trace in the
// background as a user would, and reading its JSON summary and its peak memory.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (this file runs compiled from dist/bench/trace). */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cli = join(root, 'dist', 'src', 'cli', 'main.js');
export const scratch = mkdtempSync(join(tmpdir(), 'memlens-bench-trace-'));

export async function buildC(name: string): Promise<string> {
  const out = join(scratch, name);
  await run('gcc', ['-O2', '-o', out, join(root, 'bench', 'trace', `${name}.c`)]);
  return out;
}

/** Runs a command to its end; returns its stdout. */
export function runToEnd(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? 'a signal'}`)),
    );
  });
}

export interface Summary {
  processes: { pid: number; calls: number; failedCalls: number }[];
  lost: { lostEvents: number; unpaired: number; malformed: number };
}

export interface Tracer {
  pid: number;
  /** Peak resident set (VmHWM) of the memlens process, in KiB, as last read. */
  peakRssKib(): number;
  /** CPU time (user + system, all threads) the memlens process has used so far, in ms. */
  cpuMs(): number;
  /** SIGINT, then the summary it printed. */
  stop(): Promise<Summary>;
}

const TICKS_PER_SECOND = 100; // USER_HZ, the unit of utime and stime in /proc/PID/stat

function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, i.e. 12 and 13 after "pid (comm) ".
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/**
 * Starts `memlens trace --json ARGS` (the JSON summary on stderr). Events go to /dev/null, unless
 * ARGS has --quiet, which prints none.
 */
export async function startMemlens(args: string[]): Promise<Tracer> {
  const errPath = join(scratch, `memlens-${Date.now()}.err`);
  const errFd = openSync(errPath, 'w');
  const devnull = openSync('/dev/null', 'w');
  const child: ChildProcess = spawn(process.execPath, [cli, 'trace', '--json', ...args], {
    stdio: ['ignore', devnull, errFd],
  });
  closeSync(errFd);
  closeSync(devnull);
  const pid = child.pid;
  if (pid === undefined) throw new Error('memlens did not start');
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let hwm = 0;
  let cpu = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m?.[1]) hwm = Math.max(hwm, Number(m[1]));
      cpu = cpuMsOf(pid);
    } catch {
      // gone
    }
  }, 500);
  for (;;) {
    const text = readFileSync(errPath, 'utf8');
    if (text.includes('memlens: tracing')) break;
    if (child.exitCode !== null) throw new Error(`memlens trace ended before tracing: ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid,
    peakRssKib: () => hwm,
    cpuMs: () => {
      try {
        cpu = cpuMsOf(pid);
      } catch {
        // gone: the last reading
      }
      return cpu;
    },
    stop: async () => {
      child.kill('SIGINT');
      const code = await exited;
      clearInterval(poll);
      const text = readFileSync(errPath, 'utf8');
      const line = text
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (code !== 0 || line === undefined)
        throw new Error(`memlens trace exited with ${code ?? 'a signal'}: ${text.slice(-2000)}`);
      return (JSON.parse(line) as { summary: Summary }).summary;
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/**
 * Runs `fn` with a tracefs instance of the benchmark's own (`instances/NAME`) that has the events
 * memlens enables switched on, tracing on, and nobody reading; removes the instance afterwards.
 */
export async function withTracepointsInstance<T>(name: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const tracefs = '/sys/kernel/tracing';
  if (!existsSync(join(tracefs, 'instances'))) await runToEnd('mount', ['-t', 'tracefs', 'nodev', tracefs]);
  const dir = join(tracefs, 'instances', name);
  if (!existsSync(dir)) mkdirSync(dir);
  try {
    writeFileSync(join(dir, 'buffer_size_kb'), '8192');
    writeFileSync(join(dir, 'trace_clock'), 'mono');
    const syscalls = ['mmap', 'munmap', 'brk', 'mremap'].flatMap((c) => [
      `syscalls/sys_enter_${c}`,
      `syscalls/sys_exit_${c}`,
    ]);
    for (const e of [
      ...syscalls,
      'task/task_newtask',
      'sched/sched_process_exec',
      'sched/sched_process_exit',
      'task/task_rename',
    ]) {
      if (existsSync(join(dir, 'events', e, 'enable'))) writeFileSync(join(dir, 'events', e, 'enable'), '1');
    }
    writeFileSync(join(dir, 'tracing_on'), '1');
    return await fn(dir);
  } finally {
    writeFileSync(join(dir, 'tracing_on'), '0');
    writeFileSync(join(dir, 'events', 'enable'), '0');
    rmdirSync(dir);
  }
}
