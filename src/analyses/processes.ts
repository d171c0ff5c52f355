// Per-process figures for every process: cheap status for everyone, smaps_rollup (PSS, USS,
// SwapPss; one page-table walk per process) where readable. A figure that cannot be read is
// null ("n/a"), never 0. A process that exits while being read is skipped and counted.
import type { Bytes } from '../base/units.js';
import { memoryCgroupPath, parseCgroupFile } from '../parsers/proc/cgroup.js';
import { parseCmdline } from '../parsers/proc/cmdline.js';
import { parseSmaps, parseSmapsRollup, ussBytes, type SmapsCounters } from '../parsers/proc/smaps.js';
import { parseStatus } from '../parsers/proc/status.js';
import type { ProcSource, ReadResult } from '../sources/proc-source.js';
import type { CollectStats } from '../wire/snapshot.js';
import { mapLimit } from './concurrency.js';
import { kernelThreadOf } from './process-identity.js';
import type { RollupCarry } from './rollup-carry.js';

export interface ProcessMemory {
  pid: number;
  ppid: number;
  /** comm (15 bytes at most). */
  name: string;
  /** Executable name for grouping like ps_mem: basename of exe, else of argv[0], else comm. */
  program: string;
  /** Arguments; null when unreadable; [] for a zombie. */
  cmdline: string[] | null;
  uid: number;
  user: string | null;
  /** The memory cgroup (v1 memory controller, else v2 unified path); null when unreadable or not read (CollectOptions.readCgroup). */
  cgroup: string | null;
  threads: number | null;
  kernelThread: boolean;
  /** Rss of smaps_rollup when readable (exact), else VmRSS of status (approximate). */
  rssBytes: Bytes | null;
  pssBytes: Bytes | null;
  ussBytes: Bytes | null;
  /** VmSwap of status: anonymous swap of the process (shmem swap is not in it). */
  swapBytes: Bytes | null;
  swapPssBytes: Bytes | null;
  pssAnonBytes: Bytes | null;
  pssFileBytes: Bytes | null;
  pssShmemBytes: Bytes | null;
  pssDirtyBytes: Bytes | null;
  vmSizeBytes: Bytes | null;
  rssAnonBytes: Bytes | null;
  rssFileBytes: Bytes | null;
  rssShmemBytes: Bytes | null;
  vmPteBytes: Bytes | null;
  /** Hugetlb pages mapped (not in Rss/Pss): Private_Hugetlb + Shared_Hugetlb. */
  hugetlbBytes: Bytes | null;
  /** Why some figures are null, e.g. "smaps_rollup: permission denied". Empty when complete. */
  unread: string[];
  /**
   * Where PSS, USS and SwapPss come from: smaps_rollup, or the sum over smaps when the kernel has
   * no smaps_rollup (before 4.14; each mapping's Pss is truncated to whole kB, so the sum can be
   * up to 1 kB per mapping low). Null when neither was read. Pss_Anon/File/Shmem exist only in
   * smaps_rollup from Linux 5.3: on older kernels, and from smaps, they stay null.
   */
  pssFrom: 'smaps_rollup' | 'smaps' | null;
  /**
   * When the smaps_rollup figures were carried over from an earlier read (CollectOptions.carry):
   * the wall-clock time of that read. Undefined when they were read in this pass.
   */
  pssReadAtMs?: number;
}

export interface CollectOptions {
  includeKernelThreads?: boolean;
  /** Only these pids (default: all). */
  pids?: readonly number[];
  /** Processes read at the same time (default 8). */
  concurrency?: number;
  /** Read the exe link to name programs (default true). */
  readExe?: boolean;
  /** Read /proc/PID/cgroup (default true); without it every cgroup is null. */
  readCgroup?: boolean;
  /**
   * Reuse a process's smaps_rollup from an earlier pass while its own counters in status have not
   * moved (see rollup-carry.ts). Live sources only: the carry's clock is the source's.
   */
  carry?: RollupCarry;
}

type Outcome = { kind: 'process'; p: ProcessMemory } | { kind: 'vanished' } | { kind: 'kernel-thread' };

const basename = (s: string): string => s.slice(s.lastIndexOf('/') + 1);

function programName(exe: ReadResult<string> | undefined, args: string[] | null, comm: string): string {
  if (exe?.ok) {
    const e = basename(exe.value.replace(/ \(deleted\)$/, ''));
    if (e !== '') return e;
  }
  const a0 = args?.[0];
  if (a0 !== undefined && a0 !== '') {
    // setproctitle-style titles ("sshd: root@pts/0") keep their first word.
    const first = a0.split(' ')[0] ?? a0;
    const n = basename(first.replace(/:$/, ''));
    if (n !== '') return n;
  }
  return comm;
}

function sumVmas(text: string, source: string): SmapsCounters | undefined {
  const vmas = parseSmaps(text, source);
  if (!vmas) return undefined;
  const acc: Record<string, number | undefined> = {};
  for (const v of vmas) {
    for (const [k, val] of Object.entries(v.counters) as [string, number | undefined][]) {
      if (val === undefined) continue;
      acc[k] = (acc[k] ?? 0) + val;
    }
  }
  const z = (k: string): Bytes => (acc[k] ?? 0) as Bytes;
  const o = (k: string): Bytes | undefined => acc[k] as Bytes | undefined;
  return {
    sizeBytes: o('sizeBytes'),
    rssBytes: z('rssBytes'),
    pssBytes: z('pssBytes'),
    pssDirtyBytes: o('pssDirtyBytes'),
    pssAnonBytes: undefined,
    pssFileBytes: undefined,
    pssShmemBytes: undefined,
    sharedCleanBytes: z('sharedCleanBytes'),
    sharedDirtyBytes: z('sharedDirtyBytes'),
    privateCleanBytes: z('privateCleanBytes'),
    privateDirtyBytes: z('privateDirtyBytes'),
    anonymousBytes: z('anonymousBytes'),
    swapBytes: z('swapBytes'),
    swapPssBytes: o('swapPssBytes'),
    lockedBytes: z('lockedBytes'),
    sharedHugetlbBytes: z('sharedHugetlbBytes'),
    privateHugetlbBytes: z('privateHugetlbBytes'),
  };
}

async function collectOne(
  source: ProcSource,
  pid: number,
  users: Map<number, string>,
  options: CollectOptions,
): Promise<Outcome> {
  const sr = await source.readText(`${pid}/status`);
  if (!sr.ok) {
    // status is world-readable: failing to read it means the process is gone.
    return { kind: 'vanished' };
  }
  const st = parseStatus(sr.value, `${pid}/status`);
  if (!st) return { kind: 'vanished' };
  const kthread = await kernelThreadOf(source, pid, st);
  if (kthread === undefined) return { kind: 'vanished' };
  if (kthread && !options.includeKernelThreads) return { kind: 'kernel-thread' };

  const unread: string[] = [];
  const hasMm = st.vmSizeBytes !== undefined;
  const carried = hasMm ? options.carry?.reuse(pid, st) : undefined;
  // With a carry (a live source that reads synchronously, procfs.ts), the read is done when
  // readText returns, so the CPU time around the call is what this rollup cost.
  const before = options.carry === undefined ? undefined : process.cpuUsage();
  const rollupP = hasMm && carried === undefined ? source.readText(`${pid}/smaps_rollup`) : undefined;
  const spent = before === undefined ? undefined : process.cpuUsage(before);
  const rollupCostMs = spent === undefined ? 0 : (spent.user + spent.system) / 1000;
  const [rollupR, cmdR, cgR, exeR] = await Promise.all([
    rollupP ?? Promise.resolve(undefined),
    source.readBytes(`${pid}/cmdline`),
    options.readCgroup === false ? Promise.resolve(undefined) : source.readText(`${pid}/cgroup`),
    options.readExe === false || !hasMm ? Promise.resolve(undefined) : source.readLink(`${pid}/exe`),
  ]);

  let counters: SmapsCounters | undefined;
  let pssFrom: ProcessMemory['pssFrom'] = null;
  if (carried !== undefined) {
    counters = carried.counters;
    pssFrom = 'smaps_rollup';
  } else if (rollupR) {
    if (rollupR.ok) {
      counters = parseSmapsRollup(rollupR.value, `${pid}/smaps_rollup`);
      if (counters) {
        pssFrom = 'smaps_rollup';
        options.carry?.keep(pid, st, counters, rollupCostMs);
      }
      // An empty rollup: the address space went away (exiting or zombie) between the reads.
      if (!counters && rollupR.value === '') return { kind: 'vanished' };
    } else if (rollupR.reason === 'permission') {
      unread.push('smaps_rollup: permission denied');
    } else {
      // No smaps_rollup: a kernel before 4.14, or an archive that kept smaps. Sum smaps.
      const again = await source.readText(`${pid}/status`);
      if (!again.ok) return { kind: 'vanished' };
      const sm = await source.readText(`${pid}/smaps`);
      if (sm.ok) {
        counters = sumVmas(sm.value, `${pid}/smaps`);
        if (counters) pssFrom = 'smaps';
      } else if (sm.reason === 'permission') unread.push('smaps: permission denied');
      else unread.push('smaps_rollup and smaps: not available');
    }
  }
  let cmdline: string[] | null = null;
  if (cmdR.ok) cmdline = parseCmdline(cmdR.value);
  else if (cmdR.reason === 'missing') return { kind: 'vanished' };
  else unread.push('cmdline: permission denied');
  let cgroup: string | null = null;
  if (cgR === undefined) {
    // Not asked for.
  } else if (cgR.ok) cgroup = memoryCgroupPath(parseCgroupFile(cgR.value)) ?? null;
  else if (cgR.reason === 'missing') return { kind: 'vanished' };
  else unread.push('cgroup: permission denied');

  const n = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
  const zeroIfNoMm = (v: Bytes | undefined): Bytes | null => (v !== undefined ? v : hasMm ? null : (0 as Bytes));
  const c = counters;
  const p: ProcessMemory = {
    pid,
    ppid: st.ppid,
    name: st.name,
    program: programName(exeR, cmdline, st.name),
    cmdline,
    uid: st.uids[1],
    user: users.get(st.uids[1]) ?? null,
    cgroup,
    threads: n(st.threads),
    kernelThread: kthread,
    rssBytes: c ? c.rssBytes : zeroIfNoMm(st.vmRssBytes),
    pssBytes: c ? c.pssBytes : zeroIfNoMm(undefined),
    ussBytes: c ? ussBytes(c) : zeroIfNoMm(undefined),
    swapBytes: zeroIfNoMm(st.vmSwapBytes),
    swapPssBytes: c ? n(c.swapPssBytes) : zeroIfNoMm(undefined),
    pssAnonBytes: c ? n(c.pssAnonBytes) : zeroIfNoMm(undefined),
    pssFileBytes: c ? n(c.pssFileBytes) : zeroIfNoMm(undefined),
    pssShmemBytes: c ? n(c.pssShmemBytes) : zeroIfNoMm(undefined),
    pssDirtyBytes: c ? n(c.pssDirtyBytes) : zeroIfNoMm(undefined),
    vmSizeBytes: zeroIfNoMm(st.vmSizeBytes),
    rssAnonBytes: zeroIfNoMm(st.rssAnonBytes),
    rssFileBytes: zeroIfNoMm(st.rssFileBytes),
    rssShmemBytes: zeroIfNoMm(st.rssShmemBytes),
    vmPteBytes: zeroIfNoMm(st.vmPteBytes),
    hugetlbBytes: c ? ((c.privateHugetlbBytes + c.sharedHugetlbBytes) as Bytes) : zeroIfNoMm(st.hugetlbBytes),
    unread,
    pssFrom,
    ...(carried === undefined ? {} : { pssReadAtMs: carried.readAtMs }),
  };
  return { kind: 'process', p };
}

/** Reads every process (or options.pids) of the source. */
export async function collectProcesses(
  source: ProcSource,
  options: CollectOptions = {},
): Promise<{ processes: ProcessMemory[]; stats: CollectStats }> {
  const pids = options.pids ?? (await source.listPids());
  const users = await source.userNames();
  options.carry?.begin(source.time().getTime());
  const outcomes = await mapLimit(pids, options.concurrency ?? 8, (pid) => collectOne(source, pid, users, options));
  options.carry?.end();
  const stats: CollectStats = {
    listed: pids.length,
    collected: 0,
    vanished: 0,
    kernelThreadsSkipped: 0,
    partlyRead: 0,
    partlyReadReasons: {},
  };
  const processes: ProcessMemory[] = [];
  for (const o of outcomes) {
    if (o.kind === 'vanished') stats.vanished++;
    else if (o.kind === 'kernel-thread') stats.kernelThreadsSkipped++;
    else {
      processes.push(o.p);
      stats.collected++;
      if (o.p.unread.length > 0) {
        stats.partlyRead++;
        for (const r of o.p.unread) stats.partlyReadReasons[r] = (stats.partlyReadReasons[r] ?? 0) + 1;
      }
    }
  }
  return { processes, stats };
}
