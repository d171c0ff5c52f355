// Carrying a process's smaps_rollup over from one sample to the next when nothing of its own
// memory has moved. smaps_rollup is the expensive file of a sample: the kernel walks every page
// table of the process (fs/proc/task_mmu.c show_smaps_rollup, smap_gather_stats), so its cost
// grows with the resident size; measured on a 2-core VM with ~130 processes, one pass over every
// smaps_rollup cost about 50 ms of CPU, one pass over every status file under 4 ms. status is read
// anyway (it says whether the process has an address space at all).
//
// The freshness rule, precisely. A sample reads a process's smaps_rollup again when any of these
// holds, and otherwise shows the reading it kept (with the time it was read, `pssReadAtMs`):
// 1. its own counters moved since that reading: in status VmRSS, RssAnon, RssFile, RssShmem,
//    VmSwap, VmSize, VmPTE, HugetlbPages, the name and the parent. (The page faults of stat were
//    tried as well and left out: on kernels before 6.2 each thread batches its RSS changes and
//    adds them to the counters status prints every 64 faults, mm/memory.c TASK_RSS_EVENTS_THRESH,
//    so the faults move before status does. With them, the sampler of a server alone with a
//    headless Chromium (a PID namespace of 14 processes) kept 7 readings of 14 where status alone
//    kept 10: more CPU, for moves that status shows a little later);
// 2. it is a relative of a process that started, ended or exec'd (changed its name) since the
//    sample before: that process's parent, the parent's other children, and its own children (a
//    child of one that ended is re-parented, so rule 1 catches it too). fork() shares every
//    private page of the parent copy-on-write with the child and exit or exec() ends that sharing
//    (mm/memory.c, kernel/fork.c dup_mmap), which halves or doubles the parent's PSS of those
//    pages while its own counters stay put. The relative is read in the sample after the one that
//    saw the change, unless this one read it already (a reading taken after the listing is newer
//    than the fork or exit it listed). The children of init (pid 1) are no siblings here: init
//    starts programs with exec(), which ends the sharing, and orphans re-parented to it share
//    nothing through it, so one of them starting or ending re-reads init alone;
// 3. the kept reading would be older than maxAgeMs (the slow full refresh): what rules 1 and 2
//    cannot see, a change of sharing by an unrelated process (another program mapping or
//    unmapping the same file pages or shared memory, an unrelated exit, KSM merging pages), shows
//    in the figures within maxAgeMs.
// So a PSS/USS/SwapPss figure is never older than maxAgeMs (30 s in `memlens serve`) when its
// sample is taken, as before. What changed from the earlier rule ("every rollup again after any
// fork or exit anywhere"): an unrelated process's start or exit now reaches the figures within
// maxAgeMs instead of one sample; its effect there is its share of the file pages both map (a
// page mapped by N processes counts 1/N to each: one more or one less mapper moves each of them
// by 1/N(N±1) of the page).
// Everything else of the process (status, cmdline, cgroup, exe) is read every sample as before.
import type { SmapsCounters } from '../parsers/proc/smaps.js';
import type { ProcStatus } from '../parsers/proc/status.js';

/** init, whose children are not each other's relatives (rule 2). */
const INIT_PID = 1;

interface Carried {
  /** The status the rollup was read with (its own counters, rule 1). */
  st: ProcStatus;
  counters: SmapsCounters;
  readAtMs: number;
  /** CPU time the read cost (user + system). */
  costMs: number;
}

/** Rule 1: whether the process's own figures are where they were at the read. */
function sameOwn(c: Carried, st: ProcStatus): boolean {
  const a = c.st;
  return (
    a.vmRssBytes === st.vmRssBytes &&
    a.rssAnonBytes === st.rssAnonBytes &&
    a.rssFileBytes === st.rssFileBytes &&
    a.rssShmemBytes === st.rssShmemBytes &&
    a.vmSwapBytes === st.vmSwapBytes &&
    a.vmSizeBytes === st.vmSizeBytes &&
    a.vmPteBytes === st.vmPteBytes &&
    a.hugetlbBytes === st.hugetlbBytes &&
    a.ppid === st.ppid &&
    a.name === st.name
  );
}

export class RollupCarry {
  private readonly byPid = new Map<number, Carried>();
  private nowMs = 0;
  private passes = 0;
  /** The processes with an address space of this pass and the one before: pid → parent, pid → name. */
  private ppidNow = new Map<number, number>();
  private ppidBefore = new Map<number, number>();
  private nameNow = new Map<number, string>();
  private nameBefore = new Map<number, string>();
  /** Rule 2: relatives whose kept reading the current pass must not reuse. */
  private relatives = new Set<number>();
  /** Scratch of end(): the processes that started, ended or exec'd, and their parents. */
  private readonly families = new Set<number>();
  /** Processes whose rollup the last pass carried over instead of reading. */
  deferred = 0;
  /** What reading those again would have cost, by their last reads' CPU time. */
  savedCostMs = 0;
  /** Of the rollups the last pass read, those read because of rule 2 and of rule 3. */
  readForRelative = 0;
  readForAge = 0;

  /** @param maxAgeMs the oldest a carried reading may be (rule 3). */
  constructor(readonly maxAgeMs: number) {}

  /** Starts a pass over the processes at `nowMs`. */
  begin(nowMs: number): void {
    this.nowMs = nowMs;
    this.deferred = 0;
    this.savedCostMs = 0;
    this.readForRelative = 0;
    this.readForAge = 0;
    const t = this.ppidBefore;
    this.ppidBefore = this.ppidNow;
    this.ppidNow = t;
    t.clear();
    const n = this.nameBefore;
    this.nameBefore = this.nameNow;
    this.nameNow = n;
    n.clear();
  }

  /**
   * The rollup read earlier that still holds for this process (its status), with the time it was
   * read; undefined when it must be read again.
   * Called once per process with an address space in each pass, before `keep`.
   */
  reuse(pid: number, st: ProcStatus): { counters: SmapsCounters; readAtMs: number } | undefined {
    this.ppidNow.set(pid, st.ppid);
    this.nameNow.set(pid, st.name);
    const c = this.byPid.get(pid);
    if (c === undefined || !sameOwn(c, st)) return undefined;
    if (this.relatives.has(pid)) {
      this.readForRelative++;
      return undefined;
    }
    if (this.nowMs - c.readAtMs > this.maxAgeMs) {
      this.readForAge++;
      return undefined;
    }
    this.deferred++;
    this.savedCostMs += c.costMs;
    return { counters: c.counters, readAtMs: c.readAtMs };
  }

  /** Keeps a rollup just read, and the CPU time reading it cost. */
  keep(pid: number, st: ProcStatus, counters: SmapsCounters, costMs = 0): void {
    const c = this.byPid.get(pid);
    if (c === undefined) this.byPid.set(pid, { st, counters, readAtMs: this.nowMs, costMs });
    else {
      c.st = st;
      c.counters = counters;
      c.readAtMs = this.nowMs;
      c.costMs = costMs;
    }
  }

  /**
   * Ends the pass: forgets the processes that are gone, and finds the relatives (rule 2) of those
   * that started, ended or exec'd since the pass before, for the next pass to read again.
   */
  end(): void {
    const now = this.ppidNow;
    const before = this.ppidBefore;
    const families = this.families;
    families.clear();
    this.relatives.clear();
    // The first pass reads every rollup: it has nobody's relatives to find.
    if (this.passes++ > 0) {
      for (const [pid, ppid] of now) {
        if (!before.has(pid) || this.nameBefore.get(pid) !== this.nameNow.get(pid)) {
          families.add(ppid);
          families.add(pid);
        }
      }
      for (const [pid, ppid] of before) {
        if (now.has(pid)) continue;
        families.add(ppid);
        families.add(pid);
      }
      if (families.size > 0)
        for (const [pid, ppid] of now) {
          // The parents themselves, and every child of one (siblings, and the changed process's
          // own), init's children excepted (rule 2).
          if (!families.has(pid) && (ppid === INIT_PID || !families.has(ppid))) continue;
          const c = this.byPid.get(pid);
          // A reading taken in this pass came after the listing, so after the change it saw.
          if (c !== undefined && c.readAtMs < this.nowMs) this.relatives.add(pid);
        }
    }
    for (const pid of this.byPid.keys()) if (!now.has(pid)) this.byPid.delete(pid);
  }
}
