// The private tracefs instance memlens traces into (Documentation/trace/ftrace.rst, "Instances"):
// finding or mounting tracefs, creating instances/memlens-<pid>-<starttime>, enabling events, and
// removing the instance afterwards. An instance outlives the process that made it, so leftovers of
// a killed run (whose pid and start time no longer name a live process) are removed at next start.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, isPermission, UserError } from '../base/errors.js';
import { startTime } from './trace-proc.js';

const CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

const hasEvents = (root: string) => existsSync(join(root, 'instances')) && existsSync(join(root, 'events'));

/** The tracefs root, mounting tracefs on /sys/kernel/tracing when nothing is mounted yet. */
export function findTracefs(): string {
  if (process.geteuid?.() !== 0)
    throw new UserError('memlens trace needs root: tracefs and the per-CPU ring buffers are readable by root only');
  for (const root of CANDIDATES) if (hasEvents(root)) return root;
  const first = CANDIDATES[0] ?? '/sys/kernel/tracing';
  if (existsSync(first)) {
    spawnSync('mount', ['-t', 'tracefs', 'nodev', first], { stdio: 'ignore' });
    if (hasEvents(first)) return first;
  }
  if (existsSync('/sys/kernel/debug') && !existsSync('/sys/kernel/debug/tracing')) {
    spawnSync('mount', ['-t', 'debugfs', 'nodev', '/sys/kernel/debug'], { stdio: 'ignore' });
    for (const root of CANDIDATES) if (hasEvents(root)) return root;
  }
  throw new UserError(
    'tracefs is not available: mount it with "mount -t tracefs nodev /sys/kernel/tracing" (needs CONFIG_FTRACE_SYSCALLS)',
  );
}

export function write(path: string, value: string): void {
  writeFileSync(path, value);
}

export function tryWrite(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

const NAME = /^memlens-(\d+)-(\d+)$/;

export function instanceName(): string {
  return `memlens-${process.pid}-${startTime('self') ?? '0'}`;
}

/** Disables everything in an instance, then removes it. Safe on a half-made one. */
export function removeInstance(dir: string): void {
  if (!existsSync(dir)) return;
  tryWrite(join(dir, 'tracing_on'), '0');
  tryWrite(join(dir, 'events', 'enable'), '0');
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return;
      // EBUSY while a reader of ours still has a trace_pipe_raw open: it closes right after.
      if (code !== 'EBUSY' || attempt >= 50) throw e;
      const until = Date.now() + 20;
      while (Date.now() < until) {
        /* a short wait: this also runs from signal handlers, where nothing can be awaited */
      }
    }
  }
}

/** Removes instances left by memlens runs whose process is gone. Returns their names. */
export function removeLeftovers(root: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(root, 'instances'));
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m?.[1] || !m[2]) continue;
    const pid = Number(m[1]);
    if (startTime(pid) === m[2]) continue; // still running
    removeInstance(join(root, 'instances', name));
    removed.push(name);
  }
  return removed;
}

export function createInstance(root: string, name: string): string {
  const dir = join(root, 'instances', name);
  try {
    mkdirSync(dir);
  } catch (e) {
    if (isPermission(e))
      throw new UserError(
        `cannot create a tracing instance in ${root}/instances: permission denied (memlens trace needs root)`,
      );
    throw new UserError(`cannot create a tracing instance in ${root}/instances: ${errnoCode(e) ?? String(e)}`);
  }
  return dir;
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Numbers of the CPUs that have a per_cpu directory in the instance. */
export function instanceCpus(dir: string): number[] {
  return readdirSync(join(dir, 'per_cpu'))
    .map((n) => /^cpu(\d+)$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
