// The --json output of `memlens snapshot` and `memlens process`, schema 1. This is a contract
// that scripts and the dashboard rely on: fields are only ever added, never renamed or
// removed, without a new schema number. All sizes are bytes (integers) or null when
// unreadable ("n/a"), never 0 for unknown. The top-level ledger items add up to ledger.total
// exactly; exactly one of them has the key "unaccounted" (negative when counters disagree).
import type { GroupBy, MappingKind } from './snapshot-kinds.js';

export type { GroupBy, MappingKind } from './snapshot-kinds.js';

export const SNAPSHOT_SCHEMA = 1;
// Additions within schema 1 (nothing renamed or removed):
// - fallbacks: what an older kernel does not print and what is shown instead (docs/snapshot.md
//   "Older kernels"); ledger.unavailable: ledger parts such a kernel does not count;
//   reconciliation rows whose process side the kernel cannot give have processes and
//   unattributed null (sizes are null when unknown, as everywhere here) and say why in
//   `unavailable`.
// - process --json: addressBits (32 or 64), the width of the process's address space.
// - ledger.highmem: the low/high memory split of a 32-bit kernel with CONFIG_HIGHMEM.

/** One thing an older kernel does not print, and what memlens shows instead. */
export interface KernelFallbackJson {
  /** "MemAvailable", "KReclaimable", "Hugetlb", "Percpu", "VmallocUsed", "smaps_rollup", "SwapPss" or "Pss_Anon/Pss_File/Pss_Shmem". */
  key: string;
  /** What is missing, and the kernel version that added it. */
  reason: string;
  /** The estimate or substitute used, or which figures are n/a. */
  fallback: string;
  /** True when a figure is computed another way; false when it is n/a (or inside unaccounted). */
  estimated: boolean;
}

export interface LedgerDetailJson {
  key: string;
  label: string;
  bytes: number;
  counters: string[];
}

export interface LedgerItemJson {
  key: string;
  label: string;
  bytes: number;
  /** The /proc/meminfo (or slabinfo) counters the figure comes from. */
  counters: string[];
  formula: string;
  /** Children; they add up to bytes exactly. */
  items?: LedgerItemJson[];
  /** "Of which" figures; may overlap; not added. */
  details?: LedgerDetailJson[];
  note?: string;
}

export interface ProcessJson {
  pid: number;
  ppid: number;
  name: string;
  user: string | null;
  uid: number;
  program: string;
  /** Arguments joined by spaces; null when unreadable. */
  cmdline: string | null;
  cgroup: string | null;
  threads: number | null;
  rss: number | null;
  pss: number | null;
  uss: number | null;
  swap: number | null;
  swapPss: number | null;
  pssAnon: number | null;
  pssFile: number | null;
  pssShmem: number | null;
  vmSize: number | null;
  rssAnon: number | null;
  rssFile: number | null;
  rssShmem: number | null;
  /** Hugetlb pages mapped (Private_Hugetlb + Shared_Hugetlb); not part of rss/pss. */
  hugetlb: number | null;
  /** Why some figures are null ([] when all were read). */
  unread: string[];
}

export interface GroupJson {
  key: string;
  label: string;
  pids: number[];
  pss: number | null;
  uss: number | null;
  rss: number | null;
  swap: number | null;
  swapPss: number | null;
  pssUnknown: number;
}

/** How a snapshot's processes were read: the counts `collectProcesses` keeps, as they are. */
export interface CollectStats {
  /** Pids listed by the proc root. */
  listed: number;
  collected: number;
  /** Processes that exited while being read: skipped. */
  vanished: number;
  kernelThreadsSkipped: number;
  /** Processes with at least one null figure. */
  partlyRead: number;
  /** Reason → number of processes. */
  partlyReadReasons: Record<string, number>;
}

export interface SnapshotJson {
  schema: typeof SNAPSHOT_SCHEMA;
  /** ISO-8601 time the data describes. */
  time: string;
  host: string;
  source: string;
  pageSize: number;
  ledger: {
    total: number;
    items: LedgerItemJson[];
    unaccounted: number;
    inconsistent: boolean;
    vmapStack: { value: boolean; source: string };
    notes: string[];
    /** Parts this kernel does not count (no Percpu line, VmallocUsed 0): their memory is inside unaccounted. */
    unavailable: { key: string; label: string; reason: string }[];
    /**
     * 32-bit kernels with CONFIG_HIGHMEM only: MemTotal and MemFree split into low memory (always
     * mapped by the kernel) and high memory (HighTotal, HighFree, LowTotal, LowFree of meminfo).
     * A split across the ledger, never added to it; absent on other kernels.
     */
    highmem?: { highTotal: number; highFree: number; lowTotal: number; lowFree: number };
  };
  used: { key: string; label: string; usedBy: string; formula: string; bytes: number }[];
  reconciliation: {
    rows: {
      key: string;
      label: string;
      systemFormula: string;
      system: number;
      processFormula: string;
      /** Null when the kernel does not print what is summed; `unavailable` says why. */
      processes: number | null;
      unattributed: number | null;
      note: string;
      unavailable?: string;
    }[];
    processesUnknown: number;
  } | null;
  processes: ProcessJson[];
  /** Present with --group-by program|user|cgroup. */
  groups?: { by: GroupBy; items: GroupJson[] };
  stats: CollectStats;
  /** Every /proc/meminfo size field, in bytes. */
  meminfo: Record<string, number>;
  /** What this kernel does not print, and what is shown instead; [] on a current kernel. */
  fallbacks: KernelFallbackJson[];
}

export interface MappingTotalsJson {
  size: number;
  rss: number;
  pss: number;
  uss: number;
  swap: number;
  swapPss: number;
}

export interface ProcessMappingsJson {
  schema: typeof SNAPSHOT_SCHEMA;
  time: string;
  host: string;
  source: string;
  pid: number;
  ppid: number;
  name: string;
  cmdline: string | null;
  total: MappingTotalsJson & { mappings: number };
  kinds: (MappingTotalsJson & { kind: MappingKind; mappings: number })[];
  groups: (MappingTotalsJson & { kind: MappingKind; name: string; mappings: number })[];
  /**
   * 32 when every mapping ends at or below 4 GiB (a 32-bit kernel or a 32-bit program), else 64;
   * null for a process without mappings.
   */
  addressBits?: 32 | 64 | null;
  /** With --vmas: every mapping, in address order. Addresses are hex strings (64-bit). */
  vmas?: VmaJson[];
}

export interface VmaJson extends MappingTotalsJson {
  start: string;
  end: string;
  perms: string;
  kind: MappingKind;
  name: string;
}
