// /proc/PID/stat (fs/proc/array.c do_task_stat): "pid (comm) state ppid …", one line.
// comm may contain spaces and parentheses, even ") (", so the comm ends at the LAST ')'.
// Field numbers below follow proc(5) / Documentation/filesystems/proc.rst table 1-4 (1-based).
import { ParseError } from '../../base/errors.js';
import type { Bytes } from '../../base/units.js';

/** PF_KTHREAD: "I am a kernel thread" (include/linux/sched.h). */
export const PF_KTHREAD = 0x00200000;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Field 9: the task's PF_* flags. */
  flags: number;
  /** Field 20. */
  numThreads: number;
  /** Field 23, in bytes. */
  vsizeBytes: Bytes;
  /** Field 24, in pages (approximate: per-CPU counters, see proc.rst). */
  rssPages: number;
}

export function parseStat(text: string, source = 'stat'): ProcStat | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open));
  if (!Number.isInteger(pid)) return undefined;
  const comm = text.slice(open + 2, close);
  // After ") " come fields 3.. separated by single spaces.
  const rest = text
    .slice(close + 2)
    .trimEnd()
    .split(' ');
  const field = (n: number): string => {
    const v = rest[n - 3];
    if (v === undefined) throw new ParseError(`field ${n} missing`, source);
    return v;
  };
  const num = (n: number): number => {
    const v = Number(field(n));
    if (!Number.isFinite(v)) throw new ParseError(`field ${n} is not a number`, source);
    return v;
  };
  return {
    pid,
    comm,
    state: field(3),
    ppid: num(4),
    flags: num(9),
    numThreads: num(20),
    vsizeBytes: num(23) as Bytes,
    rssPages: num(24),
  };
}

/**
 * Field 22 of stat, the start time in clock ticks since boot, as the text the kernel printed
 * (fs/proc/array.c do_task_stat); with the pid it names one process for good. Undefined when the
 * text is not a stat line.
 */
export function statStartTime(text: string): string | undefined {
  return statDecimalField(text, 22);
}

/**
 * Field 47 of stat, start_brk: where the heap begins (Linux 3.3 and later; printed as 0 when the
 * reader may not see the process's addresses). Undefined when the text is not a stat line.
 */
export function statStartBrk(text: string): bigint | undefined {
  const v = statDecimalField(text, 47);
  return v === undefined ? undefined : BigInt(v);
}

/** Field n (1-based, n >= 3) of a stat line as the decimal digits the kernel printed, counted after the comm. */
function statDecimalField(text: string, n: number): string | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const v = text
    .slice(close + 2)
    .trimEnd()
    .split(' ')[n - 3];
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

/** True when the flags of stat field 9 carry PF_KTHREAD. */
export function isKernelThreadFlags(flags: number): boolean {
  // flags fits in 32 bits; >>> 0 keeps the bit test unsigned.
  return ((flags >>> 0) & PF_KTHREAD) !== 0;
}
