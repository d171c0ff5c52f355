// Reads what tracing needs from the live /proc: every thread with its process and name (to seed
// the process table), each process's mapped ranges and break (to seed the address-space models),
// and the total virtual memory. Processes vanish while we read: they are skipped.
import { readdirSync, readFileSync } from 'node:fs';
import { isVanished, isPermission } from '../base/errors.js';
import type { SeedTask } from '../parsers/trace/process-table.js';
import type { ProcessSeed } from '../parsers/trace/seed.js';
import { parseMapsRanges, parseStatStartBrk, parseStatusTgid, parseTotalVirtualBytes } from '../parsers/trace/seed.js';

const PROC = '/proc';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (isVanished(e) || isPermission(e) || (e instanceof Error && 'code' in e && e.code === 'ESRCH')) return undefined;
    throw e;
  }
}

const comm = (text: string | undefined) => (text === undefined ? undefined : text.replace(/\n$/, ''));

export function listPids(): number[] {
  return readdirSync(PROC)
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Every thread of every process right now. */
export function listTasks(): SeedTask[] {
  const out: SeedTask[] = [];
  for (const pid of listPids()) {
    let tids: string[];
    try {
      tids = readdirSync(`${PROC}/${pid}/task`);
    } catch (e) {
      if (isVanished(e)) continue;
      throw e;
    }
    for (const t of tids) {
      const name = comm(read(`${PROC}/${pid}/task/${t}/comm`));
      if (name !== undefined) out.push({ tid: Number(t), tgid: pid, comm: name });
    }
  }
  return out;
}

/** A thread the trace never introduced: /proc/TID works for any thread id, listed or not. */
export function resolveThread(tid: number): SeedTask | undefined {
  const status = read(`${PROC}/${tid}/status`);
  const name = comm(read(`${PROC}/${tid}/comm`));
  const tgid = status === undefined ? undefined : parseStatusTgid(status);
  return tgid === undefined || name === undefined ? undefined : { tid, tgid, comm: name };
}

/** A process and all its descendants, from the parent links in /proc/PID/stat. */
export function descendantsOf(root: number): Set<number> {
  const parent = new Map<number, number>();
  for (const pid of listPids()) {
    const stat = read(`${PROC}/${pid}/stat`);
    const ppid = stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== undefined && Number.isFinite(ppid)) parent.set(pid, ppid);
  }
  const out = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return out;
}

export function readProcessSeed(pid: number): ProcessSeed | undefined {
  const maps = read(`${PROC}/${pid}/maps`);
  const name = comm(read(`${PROC}/${pid}/comm`));
  if (maps === undefined || name === undefined) return undefined;
  // Kernel threads have no address space: an empty maps file.
  const parsed = parseMapsRanges(maps, `${PROC}/${pid}/maps`);
  const stat = parsed.heapEnd === undefined ? read(`${PROC}/${pid}/stat`) : undefined;
  return { pid, name, ranges: parsed.ranges, reserved: parsed.reserved, brk: parsed.heapEnd ?? (stat === undefined ? undefined : parseStatStartBrk(stat)) };
}

export function readProcessSeeds(pids: Iterable<number> = listPids()): ProcessSeed[] {
  const out: ProcessSeed[] = [];
  for (const pid of pids) {
    const s = readProcessSeed(pid);
    if (s) out.push(s);
  }
  return out;
}

export function totalVirtualBytes(): bigint {
  return parseTotalVirtualBytes(readFileSync(`${PROC}/meminfo`, 'utf8'));
}

/** The base page size, from the kernel's own report for one of our mappings (there is no sysconf in Node). */
export function pageSizeBytes(): bigint {
  const m = /^KernelPageSize:\s*(\d+) kB/m.exec(readFileSync(`${PROC}/self/smaps`, 'utf8'));
  return m?.[1] ? BigInt(m[1]) * 1024n : 4096n;
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; with the pid it names one process for good. */
export function startTime(pid: number | 'self'): string | undefined {
  const stat = read(`${PROC}/${pid}/stat`);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
}
