// The few /proc facts tracing needs at start (Documentation/filesystems/proc.rst): a process's
// mapped ranges and heap end (maps), its start_brk (stat field 47), a thread's Tgid (status), and
// the total virtual memory MemTotal + SwapTotal (meminfo, in KiB).
import { ParseError } from '../../base/errors.js';

/** What the address-space model of one process starts from when tracing begins. */
export interface ProcessSeed {
  pid: number;
  name: string;
  ranges: [bigint, bigint][];
  /** The ranges among `ranges` mapped with PROT_NONE ("---p" or "---s" in maps). */
  reserved: [bigint, bigint][];
  /** The current break (end of [heap], or start_brk when there is no heap yet), if known. */
  brk: bigint | undefined;
}

export interface MapsRanges {
  /** [start, end) of every mapping except [vsyscall], which is not a VMA and not in VmSize. */
  ranges: [bigint, bigint][];
  /** The ranges with no access at all (permissions "---p" or "---s"): reserved address space. */
  reserved: [bigint, bigint][];
  /** End of the [heap] mapping, if the process has one. */
  heapEnd: bigint | undefined;
}

export function parseMapsRanges(text: string, source: string): MapsRanges {
  const ranges: [bigint, bigint][] = [];
  const reserved: [bigint, bigint][] = [];
  let heapEnd: bigint | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const m = /^([0-9a-f]+)-([0-9a-f]+) (....)/.exec(line);
    if (!m?.[1] || !m[2]) throw new ParseError(`not a maps line: "${line}"`, source, i + 1);
    if (line.endsWith(' [vsyscall]')) continue;
    const start = BigInt(`0x${m[1]}`);
    const end = BigInt(`0x${m[2]}`);
    ranges.push([start, end]);
    // The permissions column: r, w, x or '-', then p (private) or s (shared) (fs/proc/task_mmu.c show_map_vma).
    if (m[3]?.startsWith('---')) reserved.push([start, end]);
    if (line.endsWith(' [heap]')) heapEnd = end;
  }
  return { ranges, reserved, heapEnd };
}

/** Field 47 of /proc/PID/stat (start_brk), counting after the parenthesised comm which may hold spaces. */
export function parseStatStartBrk(text: string): bigint | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const v = rest[47 - 3];
  return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : undefined;
}

export function parseStatusTgid(text: string): number | undefined {
  const m = /^Tgid:\s*(\d+)/m.exec(text);
  return m?.[1] ? Number(m[1]) : undefined;
}

/** MemTotal + SwapTotal in bytes: memlens's definition of the system's total virtual memory. */
export function parseTotalVirtualBytes(meminfo: string): bigint {
  const kib = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\d+) kB`, 'm').exec(meminfo);
    if (!m?.[1]) throw new ParseError(`no ${name}`, 'meminfo');
    return BigInt(m[1]) * 1024n;
  };
  return kib('MemTotal') + kib('SwapTotal');
}
