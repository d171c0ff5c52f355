// Carrying a process's smaps_rollup over from one sample to the next when nothing of its own
// memory has moved. smaps_rollup is the expensive file of a sample: the kernel walks every page
// table of the process (fs/proc/task_mmu.c show_smaps_rollup, smap_gather_stats), so its cost
// grows with the resident size; measured on a 2-core VM with ~130 processes, one pass over every
// smaps_rollup cost about 50 ms of CPU, one pass over every status file under 4 ms. status is read
// anyway (it says whether the process has an address space at all).
//
// What a carried reading may miss, precisely: PSS divides each resident page by the number of
// processes mapping it, so a process's PSS (and USS, SwapPss) also changes when *another* process
// starts or stops sharing its pages (a fork, an exit, a sharer faulting in or unmapping the same
// file pages, KSM merging pages) while its own counters in status (VmRSS, RssAnon, RssFile,
// RssShmem, VmSwap, VmSize, VmPTE, HugetlbPages) stay the same. Two rules keep that bounded:
// - every rollup is read again in the sample after the one that found the set of processes with an
//   address space changed (a fork or an exit is where most sharing starts and ends);
// - a carried reading is never older than maxAgeMs.
// Everything else of the process (status, cmdline, cgroup, exe) is read every sample as before.
import type { SmapsCounters } from '../parsers/proc/smaps.js';
import type { ProcStatus } from '../parsers/proc/status.js';

interface Carried {
  /** The status figures the rollup was read with. */
  key: string;
  counters: SmapsCounters;
  readAtMs: number;
  /** The process set's generation at the read. */
  generation: number;
  /** CPU time the read cost (user + system). */
  costMs: number;
}

/** The status figures that move with the process's own resident and swapped memory. */
function ownKey(st: ProcStatus): string {
  return [
    st.name,
    st.ppid,
    st.vmSizeBytes,
    st.vmRssBytes,
    st.rssAnonBytes,
    st.rssFileBytes,
    st.rssShmemBytes,
    st.vmSwapBytes,
    st.vmPteBytes,
    st.hugetlbBytes,
  ].join(' ');
}

export class RollupCarry {
  private readonly byPid = new Map<number, Carried>();
  /** Bumped when the set of processes with an address space differs from the last pass's. */
  private generation = 0;
  private lastSet = '';
  private nowMs = 0;
  private seen: number[] = [];
  /** Processes whose rollup the last pass carried over instead of reading. */
  deferred = 0;
  /** What reading those again would have cost, by their last reads' CPU time. */
  savedCostMs = 0;

  /** @param maxAgeMs the oldest a carried reading may be. */
  constructor(readonly maxAgeMs: number) {}

  /** Starts a pass over the processes at `nowMs`. */
  begin(nowMs: number): void {
    this.nowMs = nowMs;
    this.deferred = 0;
    this.savedCostMs = 0;
    this.seen = [];
  }

  /** The rollup read earlier that still holds for this status, with the time it was read. */
  reuse(pid: number, st: ProcStatus): { counters: SmapsCounters; readAtMs: number } | undefined {
    this.seen.push(pid);
    const c = this.byPid.get(pid);
    if (c === undefined || c.generation !== this.generation || this.nowMs - c.readAtMs > this.maxAgeMs)
      return undefined;
    if (c.key !== ownKey(st)) return undefined;
    this.deferred++;
    this.savedCostMs += c.costMs;
    return { counters: c.counters, readAtMs: c.readAtMs };
  }

  /** Keeps a rollup just read, and the CPU time reading it cost. */
  keep(pid: number, st: ProcStatus, counters: SmapsCounters, costMs = 0): void {
    this.byPid.set(pid, { key: ownKey(st), counters, readAtMs: this.nowMs, generation: this.generation, costMs });
  }

  /**
   * Ends the pass: forgets processes not seen, and when the set of processes seen differs from
   * the last pass's, starts a new generation, so that the next pass reads every rollup again.
   */
  end(): void {
    const set = this.seen.sort((a, b) => a - b).join(',');
    if (set !== this.lastSet) {
      this.generation++;
      this.lastSet = set;
      // Rollups read in this pass were read with the new set already listed: they count as new.
      for (const c of this.byPid.values()) if (c.readAtMs === this.nowMs) c.generation = this.generation;
    }
    const alive = new Set(this.seen);
    for (const pid of this.byPid.keys()) if (!alive.has(pid)) this.byPid.delete(pid);
  }
}
