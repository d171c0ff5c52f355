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
  processBytes: Bytes;
  /** systemBytes − processBytes: not attributed to any (readable) process. */
  unattributedBytes: Bytes;
  note: string;
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

export function reconcile(mi: Meminfo, processes: readonly ProcessMemory[]): Reconciliation {
  const b = (k: string): number => meminfoBytes(mi, k);
  const row = (key: string, label: string, systemFormula: string, systemBytes: number, processFormula: string, processBytes: number, note: string): ReconciliationRow => ({
    key,
    label,
    systemFormula,
    systemBytes: systemBytes as Bytes,
    processFormula,
    processBytes: processBytes as Bytes,
    unattributedBytes: (systemBytes - processBytes) as Bytes,
    note,
  });
  const pssShmem = sumOf(processes, (p) => p.pssShmemBytes);
  const rows = [
    row('anon', 'anonymous', 'AnonPages', b('AnonPages'), 'Σ Pss_Anon', sumOf(processes, (p) => p.pssAnonBytes), 'the rest: processes not read (permission), processes that exited meanwhile, and counter timing'),
    row('shmem', 'shared memory', 'Shmem', b('Shmem'), 'Σ Pss_Shmem', pssShmem, 'the rest: tmpfs files, memfd and SysV segments that no process maps'),
    row('file_mapped', 'mapped file pages', 'Mapped − Σ Pss_Shmem', Math.max(0, b('Mapped') - pssShmem), 'Σ Pss_File', sumOf(processes, (p) => p.pssFileBytes), 'Mapped counts mapped shmem too, hence the subtraction'),
    row('page_cache', 'page cache', 'Cached − Shmem', Math.max(0, b('Cached') - b('Shmem')), 'Σ Pss_File', sumOf(processes, (p) => p.pssFileBytes), 'the rest: cached file data no process maps (reclaimable)'),
    row('page_tables', 'page tables', 'PageTables', b('PageTables'), 'Σ VmPTE', sumOf(processes, (p) => p.vmPteBytes), 'VmPTE is per process; threads share it'),
  ];
  return { rows, processesUnknown: processes.filter((p) => p.pssBytes === null).length };
}
