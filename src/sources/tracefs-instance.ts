// The private tracefs instance memlens traces into (Documentation/trace/ftrace.rst, "Instances"):
// finding or mounting tracefs, creating instances/memlens-<pidns>-<pid>-<starttime>, enabling
// events, and removing the instance afterwards. An instance outlives the process that made it, so
// leftovers of a killed run (whose pid and start time no longer name a live process) are removed
// at next start.
//
// tracefs is one per kernel, shared by every container on it, while a pid means something only in
// its pid namespace: a tracer in another container is invisible here, or its pid names another
// process. So the name carries the pid namespace (the inode of /proc/PID/ns/pid, see
// namespaces(7)) and a run judges by pid only the instances of its own namespace. An instance of
// another namespace is removed only when that namespace has no process left, which can be known
// only from the initial pid namespace, where every process is visible; elsewhere it is left
// alone: a leftover costs its ring buffers' memory until a tracer of that namespace or of the
// host starts, while removing a live one would silently end another host's trace.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync, mkdirSync } from 'node:fs';
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

/** memlens-<pidns>-<pid>-<starttime>; memlens-<pid>-<starttime> as named before the namespace. */
const NAME = /^memlens-(?:(\d+)-)?(\d+)-(\d+)$/;

/** The pid namespace of a process, the inode number of its ns/pid link ("pid:[4026531836]"). */
export function pidNamespaceOf(pid: number | 'self'): string | undefined {
  try {
    return /^pid:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/pid`))?.[1];
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/**
 * Whether this process is in the initial pid namespace: its NSpid line in /proc/self/status (Linux
 * 4.1 and later) lists one pid per nesting level, so one value means no parent namespace.
 */
function inInitialPidNamespace(): boolean {
  try {
    const line = /^NSpid:([^\n]*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return line !== undefined && line.trim().split(/\s+/).length === 1;
  } catch {
    return false;
  }
}

/** The pid namespaces that have at least one process visible here. */
function livePidNamespaces(): Set<string> {
  const out = new Set<string>();
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    const ns = pidNamespaceOf(Number(d));
    if (ns !== undefined) out.add(ns);
  }
  return out;
}

export function instanceName(): string {
  const ns = pidNamespaceOf('self');
  const own = `${process.pid}-${startTime('self') ?? '0'}`;
  return ns === undefined ? `memlens-${own}` : `memlens-${ns}-${own}`;
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
  const ownNs = pidNamespaceOf('self');
  let liveNs: Set<string> | undefined;
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m?.[2] || !m[3]) continue;
    const ns = m[1];
    if (ns !== undefined && ns !== ownNs) {
      // Another namespace's: gone only if that namespace is (see the top of this file).
      if (!inInitialPidNamespace()) continue;
      liveNs ??= livePidNamespaces();
      if (liveNs.has(ns)) continue;
    } else if (startTime(Number(m[2])) === m[3]) {
      continue; // still running
    }
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
