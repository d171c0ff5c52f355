// Reads what tracing needs from /proc: every thread with its process and name (to seed the process
// table), each process's mapped ranges and break (to seed the address-space models), the total
// virtual memory and the page size. The files are read through a ProcSource and parsed by the
// parsers of src/parsers/proc, so that a fixture tree or an archive can stand in for /proc.
// Processes vanish while we read: they are skipped.
//
// Two reads cannot wait for a promise and use the ProcSource's synchronous read: the thread lookup
// the process table makes in the middle of a batch (resolveThread), and the start time that names
// a tracefs instance and is checked from signal handlers (startTime).
import { ParseError } from '../base/errors.js';
import { parseComm } from '../parsers/proc/comm.js';
import { parseMeminfo } from '../parsers/proc/meminfo.js';
import { parseStat, statStartBrk, statStartTime } from '../parsers/proc/stat.js';
import { parseStatus } from '../parsers/proc/status.js';
import type { SeedTask } from '../parsers/trace/process-table.js';
import { parseMapsRanges, totalVirtualBytes, type ProcessSeed } from '../parsers/trace/seed.js';
import type { ProcSource } from './proc-source.js';
import { openLiveProcSource } from './procfs.js';

const utf8 = new TextDecoder();

export class TraceProc {
  /** `source`: the live /proc by default, or a fixture tree or archive that stands in for it. */
  constructor(readonly source: ProcSource = openLiveProcSource()) {}

  private async text(path: string): Promise<string | undefined> {
    const r = await this.source.readText(path);
    return r.ok ? r.value : undefined;
  }

  private async comm(path: string): Promise<string | undefined> {
    const r = await this.source.readBytes(path);
    return r.ok ? parseComm(r.value) : undefined;
  }

  /** Every thread of every process right now. */
  async listTasks(): Promise<SeedTask[]> {
    const out: SeedTask[] = [];
    for (const pid of await this.source.listPids()) {
      const tids = await this.source.listDir(`${pid}/task`);
      if (!tids.ok) continue;
      for (const t of tids.value) {
        const name = await this.comm(`${pid}/task/${t}/comm`);
        if (name !== undefined) out.push({ tid: Number(t), tgid: pid, comm: name });
      }
    }
    return out;
  }

  /** A thread the trace never introduced: /proc/TID works for any thread id, listed or not. */
  readonly resolveThread = (tid: number): SeedTask | undefined => {
    const status = this.source.readBytesSync(`${tid}/status`);
    const comm = this.source.readBytesSync(`${tid}/comm`);
    const tgid = status.ok ? parseStatus(utf8.decode(status.value), `${tid}/status`)?.tgid : undefined;
    return tgid === undefined || tgid < 0 || !comm.ok ? undefined : { tid, tgid, comm: parseComm(comm.value) };
  };

  /** A process and all its descendants, from the parent links in /proc/PID/stat. */
  async descendantsOf(root: number): Promise<Set<number>> {
    const parent = new Map<number, number>();
    for (const pid of await this.source.listPids()) {
      const text = await this.text(`${pid}/stat`);
      const stat = text === undefined ? undefined : parseStat(text, `${pid}/stat`);
      if (stat !== undefined) parent.set(pid, stat.ppid);
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

  async readProcessSeed(pid: number): Promise<ProcessSeed | undefined> {
    const maps = await this.text(`${pid}/maps`);
    const name = await this.comm(`${pid}/comm`);
    if (maps === undefined || name === undefined) return undefined;
    // Kernel threads have no address space: an empty maps file.
    const parsed = parseMapsRanges(maps, `${pid}/maps`);
    const stat = parsed.heapEnd === undefined ? await this.text(`${pid}/stat`) : undefined;
    return {
      pid,
      name,
      ranges: parsed.ranges,
      reserved: parsed.reserved,
      brk: parsed.heapEnd ?? (stat === undefined ? undefined : statStartBrk(stat)),
    };
  }

  async readProcessSeeds(pids?: Iterable<number>): Promise<ProcessSeed[]> {
    const out: ProcessSeed[] = [];
    for (const pid of pids ?? (await this.source.listPids())) {
      const s = await this.readProcessSeed(pid);
      if (s) out.push(s);
    }
    return out;
  }

  /** MemTotal + SwapTotal. */
  async totalVirtualBytes(): Promise<bigint> {
    const r = await this.source.readText('meminfo');
    const where = `meminfo of ${this.source.description}`;
    if (!r.ok) throw new ParseError(`cannot read meminfo (${r.reason})`, where);
    const meminfo = parseMeminfo(r.value);
    if (meminfo === undefined) throw new ParseError('no MemTotal', where);
    return totalVirtualBytes(meminfo);
  }

  /** The base page size (the ProcSource's: AT_PAGESZ of the auxiliary vector). */
  async pageSizeBytes(): Promise<bigint> {
    return BigInt(await this.source.pageSize());
  }
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; with the pid it names one process for good. */
export function startTime(pid: number | 'self', source: ProcSource = openLiveProcSource()): string | undefined {
  const stat = source.readBytesSync(`${pid}/stat`);
  return stat.ok ? statStartTime(utf8.decode(stat.value)) : undefined;
}
