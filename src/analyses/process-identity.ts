// Who a pid is: its name (comm), thread group, parent and owner, from /proc/PID/status, and
// whether it is a kernel thread. Shared by the snapshot, the tracer and the dashboard.
import type { ProcSource } from '../sources/proc-source.js';
import { isKernelThreadFlags, parseStat } from '../parsers/proc/stat.js';
import { parseStatus, type ProcStatus } from '../parsers/proc/status.js';

export interface ProcessIdentity {
  pid: number;
  /** Thread group id: the pid of the process this task belongs to. */
  tgid: number;
  ppid: number;
  /** comm, at most 15 bytes, unescaped. */
  name: string;
  /** Effective uid (the owner ps(1) shows). */
  uid: number;
  /**
   * Kernel thread: PF_KTHREAD in the task flags (include/linux/sched.h), read from the
   * "Kthread:" line of status where the kernel prints it, else from field 9 of stat.
   */
  kernelThread: boolean;
}

/**
 * Decides PF_KTHREAD for a parsed status, reading stat only when status has no Kthread line
 * (older kernels). Returns undefined when the process vanished meanwhile.
 */
export async function kernelThreadOf(
  source: ProcSource,
  pid: number,
  status: ProcStatus,
): Promise<boolean | undefined> {
  if (status.kthread !== undefined) return status.kthread;
  const r = await source.readText(`${pid}/stat`);
  if (r.ok) {
    const st = parseStat(r.value, `${pid}/stat`);
    if (st) return isKernelThreadFlags(st.flags);
  } else if (r.reason === 'missing') return undefined;
  // No flags: fall back to the old heuristic, kthreadd (pid 2) and its children, no mm.
  return (pid === 2 || status.ppid === 2) && status.vmSizeBytes === undefined;
}

/** Reads the identity of one pid (or thread id); undefined when it does not exist (any more). */
export async function readProcessIdentity(source: ProcSource, pid: number): Promise<ProcessIdentity | undefined> {
  const r = await source.readText(`${pid}/status`);
  if (!r.ok) return undefined;
  const st = parseStatus(r.value, `${pid}/status`);
  if (!st) return undefined;
  const kernelThread = await kernelThreadOf(source, pid, st);
  if (kernelThread === undefined) return undefined;
  return { pid: st.pid, tgid: st.tgid, ppid: st.ppid, name: st.name, uid: st.uids[1], kernelThread };
}
