// What an older kernel does not print, and what memlens shows instead. Each entry names the
// missing file or counter, the kernel version that added it, and either the fallback used
// (an estimate or a substitute counter, `estimated: true`) or that the figure is n/a. The list is
// empty on a current kernel. docs/snapshot.md "Older kernels" lists every entry.
import type { Meminfo } from '../parsers/proc/meminfo.js';
import type { AvailableEstimate } from './available.js';
import type { Ledger } from './ledger.js';
import type { ProcessMemory } from './processes.js';
import { pssSplitUnavailable } from './reconciliation.js';

export interface KernelFallback {
  /** The missing file or counter: "MemAvailable", "KReclaimable", "Hugetlb", "Percpu", "VmallocUsed", "smaps_rollup", "SwapPss", "Pss_Anon/Pss_File/Pss_Shmem". */
  key: string;
  /** What is missing and since when the kernel prints it. */
  reason: string;
  /** What memlens shows instead. */
  fallback: string;
  /** True when a figure is computed another way; false when it is shown as n/a (or left in unaccounted). */
  estimated: boolean;
}

export function kernelFallbacks(
  mi: Meminfo,
  ledger: Ledger,
  available: AvailableEstimate | undefined,
  processes: readonly ProcessMemory[] | undefined,
): KernelFallback[] {
  const out: KernelFallback[] = [];
  if (!mi.sizes.has('MemAvailable')) {
    const reason = '/proc/meminfo has no MemAvailable line (Linux 3.14+)';
    if (available?.ok === true) {
      out.push({
        key: 'MemAvailable',
        reason,
        fallback: `MemAvailable estimated as si_mem_available() does: MemFree − totalreserve_pages + (file LRU − min(file LRU / 2, Σ low watermarks)) + (${available.reclaimableCounter} − min(${available.reclaimableCounter} / 2, Σ low watermarks)), watermarks and reserves from /proc/zoneinfo`,
        estimated: true,
      });
    } else {
      out.push({
        key: 'MemAvailable',
        reason,
        fallback: `"not available" is n/a: ${available?.reason ?? 'not estimated'}`,
        estimated: false,
      });
    }
    if (available?.ok === true && available.reclaimableCounter === 'SReclaimable') {
      out.push({
        key: 'KReclaimable',
        reason: '/proc/meminfo has no KReclaimable line (Linux 4.20+)',
        fallback:
          'SReclaimable stands for it in the MemAvailable estimate: before 4.20 the kernel had no other reclaimable kernel memory counter',
        estimated: true,
      });
    }
  }
  // Without hugetlb support there are no HugePages_* lines at all, and no pool to miss.
  if (!mi.sizes.has('Hugetlb') && mi.counts.has('HugePages_Total')) {
    out.push({
      key: 'Hugetlb',
      reason: '/proc/meminfo has no Hugetlb line (Linux 4.16+)',
      fallback:
        'hugetlb pool = HugePages_Total × Hugepagesize: pools of other huge page sizes (/sys/kernel/mm/hugepages) are inside unaccounted',
      estimated: true,
    });
  }
  for (const g of ledger.unavailable) {
    out.push({
      key: g.key === 'percpu' ? 'Percpu' : g.key === 'vmalloc' ? 'VmallocUsed' : g.key,
      reason: g.reason,
      fallback: `${g.label} n/a: inside unaccounted`,
      estimated: false,
    });
  }
  if (processes !== undefined) {
    const fromSmaps = processes.filter((p) => p.pssFrom === 'smaps').length;
    if (fromSmaps > 0) {
      out.push({
        key: 'smaps_rollup',
        reason: `/proc/PID/smaps_rollup is missing for ${fromSmaps} ${fromSmaps === 1 ? 'process' : 'processes'} (Linux 4.14+)`,
        fallback:
          'PSS, USS, SwapPss and Rss summed over /proc/PID/smaps (each mapping rounds Pss down to a whole kB, so PSS can be up to 1 kB per mapping lower than a rollup)',
        estimated: true,
      });
    }
    // SwapPss came with Linux 4.3 (in smaps; smaps_rollup always has it).
    const noSwapPss = processes.filter((p) => p.pssFrom !== null && p.swapPssBytes === null).length;
    if (noSwapPss > 0) {
      out.push({
        key: 'SwapPss',
        reason: `smaps has no SwapPss line for ${noSwapPss} ${noSwapPss === 1 ? 'process' : 'processes'} (Linux 4.3+)`,
        fallback: 'swapPss n/a; swap (VmSwap of status) is still shown',
        estimated: false,
      });
    }
    const split = pssSplitUnavailable(processes);
    if (split !== undefined) {
      out.push({
        key: 'Pss_Anon/Pss_File/Pss_Shmem',
        reason: split,
        fallback: 'pssAnon, pssFile, pssShmem n/a; the reconciliation rows that sum them are n/a',
        estimated: false,
      });
    }
  }
  return out;
}
