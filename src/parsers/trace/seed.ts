// What tracing starts from (Documentation/filesystems/proc.rst): a process's mapped ranges and heap
// end (from maps, read with parsers/proc/maps.ts), and the total virtual memory MemTotal +
// SwapTotal (from meminfo, read with parsers/proc/meminfo.ts). src/sources/trace-proc.ts reads them.
import { ParseError } from '../../base/errors.js';
import { parseVmaHeader } from '../proc/maps.js';
import { meminfoBytes, type Meminfo } from '../proc/meminfo.js';

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
    const vma = parseVmaHeader(line);
    if (!vma) throw new ParseError(`not a maps line: "${line}"`, source, i + 1);
    if (vma.name === '[vsyscall]') continue;
    ranges.push([vma.start, vma.end]);
    // The permissions column: r, w, x or '-', then p (private) or s (shared) (fs/proc/task_mmu.c show_map_vma).
    if (vma.perms.startsWith('---')) reserved.push([vma.start, vma.end]);
    if (vma.name === '[heap]') heapEnd = vma.end;
  }
  return { ranges, reserved, heapEnd };
}

/** MemTotal + SwapTotal in bytes: memlens's definition of the system's total virtual memory. */
export function totalVirtualBytes(meminfo: Meminfo): bigint {
  const swap = meminfo.sizes.get('SwapTotal');
  if (swap === undefined) throw new ParseError('no SwapTotal', 'meminfo');
  return BigInt(meminfoBytes(meminfo, 'MemTotal')) + BigInt(swap);
}
