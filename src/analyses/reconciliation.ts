// Per-process sums set against the system counters: what processes account for, and what no
// process maps (unmapped tmpfs/memfd, unmapped page cache, anon of unreadable processes).
import type { Bytes } from '../base/units.js';
import { meminfoBytes, type Meminfo } from '../parsers/proc/meminfo.js';
import type { ProcessMemory } from './processes.js';

export interface ReconciliationRow {
  key: string;
  label: string;
  /** The system side: counter formula and its value. */
  systemFormula: string;
  systemBytes: Bytes;
  /** The process side: what is summed and its value (over processes where it is known). */
  processFormula: string;
  /** Null when this kernel does not print what is summed (see unavailable). */
  processBytes: Bytes | null;
  /** systemBytes − processBytes: not attributed to any (readable) process. Null with processBytes. */
  unattributedBytes: Bytes | null;
  note: string;
  /** Why processBytes is null, e.g. Pss_Anon missing from smaps_rollup before Linux 5.3. */
  unavailable?: string;
}

export interface Reconciliation {
  rows: ReconciliationRow[];
  /** Processes whose PSS was unknown: their share is inside "unattributed". */
  processesUnknown: number;
}

function sumOf(ps: readonly ProcessMemory[], f: (p: ProcessMemory) => Bytes | null): number {
  let s = 0;
  for (const p of ps) s += f(p) ?? 0;
  return s;
}

/**
 * Why the Pss_Anon/File/Shmem split is unknown, or undefined when it is known: a process whose
 * PSS was read but whose split was not means the kernel does not print it (smaps_rollup has it
 * from Linux 5.3, commit ee2ad71b0756; smaps never has it). Summing the nulls as 0 would put all
 * of anonymous and shared memory under "not in processes".
 */
export function pssSplitUnavailable(processes: readonly ProcessMemory[]): string | undefined {
  const lacking = processes.filter((p) => p.pssBytes !== null && p.pssAnonBytes === null);
  if (lacking.length === 0) return undefined;
  const fromSmaps = lacking.filter((p) => p.pssFrom === 'smaps').length;
  const why =
    fromSmaps === lacking.length
      ? 'PSS was summed from smaps (no smaps_rollup before Linux 4.14), and smaps has no Pss_Anon/Pss_File/Pss_Shmem'
      : 'smaps_rollup has no Pss_Anon/Pss_File/Pss_Shmem before Linux 5.3';
  return `${why} (${lacking.length} of ${processes.filter((p) => p.pssBytes !== null).length} processes with a PSS)`;
}

export function reconcile(mi: Meminfo, processes: readonly ProcessMemory[]): Reconciliation {
  const b = (k: string): number => meminfoBytes(mi, k);
  const splitGap = pssSplitUnavailable(processes);
  const row = (
    key: string,
    label: string,
    systemFormula: string,
    systemBytes: number,
    processFormula: string,
    processBytes: number,
    note: string,
  ): ReconciliationRow => {
    // A sum of the Pss_ split, which this kernel does not print: the process side is unknown.
    const unavailable = splitGap !== undefined && processFormula.includes('Pss_') ? splitGap : undefined;
    return {
      key,
      label,
      systemFormula,
      systemBytes: systemBytes as Bytes,
      processFormula,
      processBytes: unavailable === undefined ? (processBytes as Bytes) : null,
      unattributedBytes: unavailable === undefined ? ((systemBytes - processBytes) as Bytes) : null,
      note,
      ...(unavailable === undefined ? {} : { unavailable }),
    };
  };
  const pssShmem = sumOf(processes, (p) => p.pssShmemBytes);
  const rows = [
    row(
      'anon',
      'anonymous',
      'AnonPages',
      b('AnonPages'),
      'Σ Pss_Anon',
      sumOf(processes, (p) => p.pssAnonBytes),
      'the rest: processes not read (permission), processes that exited meanwhile, and counter timing',
    ),
    row(
      'shmem',
      'shared memory',
      'Shmem',
      b('Shmem'),
      'Σ Pss_Shmem',
      pssShmem,
      'the rest: tmpfs files, memfd and SysV segments that no process maps',
    ),
    row(
      'file_mapped',
      'mapped file pages',
      splitGap === undefined ? 'Mapped − Σ Pss_Shmem' : 'Mapped (Σ Pss_Shmem n/a)',
      Math.max(0, b('Mapped') - pssShmem),
      'Σ Pss_File',
      sumOf(processes, (p) => p.pssFileBytes),
      'Mapped counts mapped shmem too, hence the subtraction',
    ),
    row(
      'page_cache',
      'page cache',
      'Cached − Shmem',
      Math.max(0, b('Cached') - b('Shmem')),
      'Σ Pss_File',
      sumOf(processes, (p) => p.pssFileBytes),
      // fs/proc/task_mmu.c smaps_account counts every page that is neither anonymous nor
      // swap-backed as file, the [vdso] pages (kernel pages, in no meminfo counter) included.
      'the rest: cached file data no process maps (reclaimable); Σ Pss_File also holds the vDSO pages, so with almost no page cache the rest can be a few KiB below 0',
    ),
    row(
      'page_tables',
      'page tables',
      'PageTables',
      b('PageTables'),
      'Σ VmPTE',
      sumOf(processes, (p) => p.vmPteBytes),
      'VmPTE is per process; threads share it',
    ),
  ];
  return { rows, processesUnknown: processes.filter((p) => p.pssBytes === null).length };
}
