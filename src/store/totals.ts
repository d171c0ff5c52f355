// Per-process totals, kept incrementally: each batch is folded into one delta per process
// instance here (pure), and the deltas are added to the processes table in the batch's transaction.
// Nothing ever scans the events table to compute a total.
//
// "requested" is the classic figure of the issue: Σ lengths of successful mmaps − Σ lengths of
// successful munmaps, shown as 0 when negative (munmap of memory mapped before tracing began).
// Failed calls (error ≠ null) are counted as calls and as failures, never as memory.
import { MEM_CALLS, type MemEvent } from '../wire/events.js';
import { EventRecords } from './event-batch-codec.js';

/** A process instance: the pid alone is not an identity, pids are reused. */
export interface ProcessKey {
  host: string;
  pid: number;
  /** The instance's start stamp (see ProcessStart); 0n = already running when first seen. */
  startNs: bigint;
}

/** A new process instance, as reported by the tracer (a fork of a new thread group). */
export interface ProcessStart {
  host: string;
  pid: number;
  /** Kernel time of the fork (the tracer's clock); events of this pid at or after it belong to it. */
  startNs: bigint;
  name: string;
  timeMs: number;
}

/** What the processes table counts of a process instance: its name, call sums and the time it was seen. */
export interface ProcessCounts {
  name: string;
  mmapBytes: bigint;
  munmapBytes: bigint;
  mmapCalls: number;
  munmapCalls: number;
  brkCalls: number;
  mremapCalls: number;
  mprotectCalls: number;
  failedCalls: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** One batch's counts of an instance, added to its row. */
export interface ProcessDelta extends ProcessKey, ProcessCounts {
  /** True when this batch opened the instance (its seq must be assigned). */
  opened: boolean;
}

export const keyOf = (host: string, pid: number): string => `${host}\u0000${pid}`;

/**
 * Folds a batch into deltas. `current` gives the instance start of each (host, pid) known before the
 * batch, by keyOf (none known: 0n). Starts and events are merged in kernel-time order, so that
 * events before a fork in the batch still count for the previous instance of a reused pid.
 */
export function foldBatch(
  events: readonly MemEvent[],
  starts: readonly ProcessStart[],
  current: ReadonlyMap<string, bigint>,
): ProcessDelta[] {
  return foldRecords(EventRecords.of(events), starts, current);
}

/**
 * A delta while a batch is folded, the byte sums as numbers while they stay exact. A class, so that
 * every delta has one shape for the optimised loop (object spreads gave several).
 */
class Folding {
  readonly mmapBytes = new LengthSum();
  readonly munmapBytes = new LengthSum();
  mmapCalls = 0;
  munmapCalls = 0;
  brkCalls = 0;
  mremapCalls = 0;
  mprotectCalls = 0;
  failedCalls = 0;
  firstSeenMs: number;
  lastSeenMs: number;

  constructor(
    readonly host: string,
    readonly pid: number,
    readonly startNs: bigint,
    public name: string,
    timeMs: number,
    readonly opened: boolean,
  ) {
    this.firstSeenMs = timeMs;
    this.lastSeenMs = timeMs;
  }

  delta(): ProcessDelta {
    return {
      host: this.host,
      pid: this.pid,
      startNs: this.startNs,
      name: this.name,
      mmapBytes: this.mmapBytes.total(),
      munmapBytes: this.munmapBytes.total(),
      mmapCalls: this.mmapCalls,
      munmapCalls: this.munmapCalls,
      brkCalls: this.brkCalls,
      mremapCalls: this.mremapCalls,
      mprotectCalls: this.mprotectCalls,
      failedCalls: this.failedCalls,
      firstSeenMs: Math.trunc(this.firstSeenMs),
      lastSeenMs: Math.trunc(this.lastSeenMs),
      opened: this.opened,
    };
  }
}

/**
 * Sums past this go to the bigint sum: with small lengths below 2^48 (EventRecords.smallLength), a
 * number sum stays below 2^52 + 2^48, exact.
 */
const SMALL_SUM = 2 ** 52;

/** A sum of call lengths: a number while it stays exact, so that a call adds no BigInt. */
class LengthSum {
  private big = 0n;
  private small = 0;

  /** Adds call i's length argument. */
  add(r: EventRecords, i: number): void {
    const n = r.smallLength(i);
    if (n < 0) this.big += r.lengthBytes(i);
    else if ((this.small += n) > SMALL_SUM) {
      this.big += BigInt(this.small);
      this.small = 0;
    }
  }

  total(): bigint {
    return this.big + BigInt(this.small);
  }
}

const MMAP = MEM_CALLS.indexOf('mmap');
const MUNMAP = MEM_CALLS.indexOf('munmap');
const BRK = MEM_CALLS.indexOf('brk');
const MREMAP = MEM_CALLS.indexOf('mremap');
const MPROTECT = MEM_CALLS.indexOf('mprotect');

/**
 * foldBatch over a batch's bytes (event-batch-codec.ts), reading only the fields the totals need,
 * with no object and no BigInt per call: the kernel time only while a process start of the batch
 * is still to be merged, the length as a number (below 2^53, every real mapping's).
 */
export function foldRecords(
  r: EventRecords,
  starts: readonly ProcessStart[],
  current: ReadonlyMap<string, bigint>,
): ProcessDelta[] {
  const deltas = new Map<string, Folding>(); // key: host, pid, start
  const instance = new Map<string, bigint>(); // key: host, pid → start within this batch
  const sortedStarts = [...starts].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  const strings = r.strings;
  let s = 0;
  const open = (st: ProcessStart): void => {
    instance.set(keyOf(st.host, st.pid), st.startNs);
    const dk = `${keyOf(st.host, st.pid)}\u0000${st.startNs}`;
    const d = deltas.get(dk);
    if (d) d.name = st.name;
    else deltas.set(dk, new Folding(st.host, st.pid, st.startNs, st.name, st.timeMs, true));
  };
  // Calls come in runs of one process: the previous call's delta is reused while the process is
  // the same and no start came in between, which saves building two string keys per call.
  let last: Folding | undefined;
  let lastHost = -1;
  let nextStartNs = sortedStarts[0]?.startNs;
  for (let i = 0; i < r.length; i++) {
    if (nextStartNs !== undefined && nextStartNs <= r.ktimeNs(i)) {
      const ktime = r.ktimeNs(i);
      while (s < sortedStarts.length) {
        const st = sortedStarts[s];
        if (st === undefined || st.startNs > ktime) break;
        open(st);
        last = undefined;
        s++;
      }
      nextStartNs = sortedStarts[s]?.startNs;
    }
    const pid = r.pid(i);
    const hostIndex = r.host(i);
    const timeMs = r.timeMs(i);
    let d: Folding;
    if (last !== undefined && last.pid === pid && lastHost === hostIndex) d = last;
    else {
      const host = strings[hostIndex] ?? '';
      const k = keyOf(host, pid);
      let startNs = instance.get(k);
      let opened = false;
      if (startNs === undefined) {
        const known = current.get(k);
        opened = known === undefined;
        startNs = known ?? 0n;
        instance.set(k, startNs);
      }
      const dk = `${k}\u0000${startNs}`;
      let found = deltas.get(dk);
      if (!found) {
        found = new Folding(host, pid, startNs, strings[r.name(i)] ?? '', timeMs, opened);
        deltas.set(dk, found);
      }
      d = found;
      last = d;
      lastHost = hostIndex;
    }
    d.name = strings[r.name(i)] ?? '';
    if (timeMs < d.firstSeenMs) d.firstSeenMs = timeMs;
    if (timeMs > d.lastSeenMs) d.lastSeenMs = timeMs;
    const ok = !r.failed(i);
    if (!ok) d.failedCalls++;
    switch (r.call(i)) {
      case MMAP:
        d.mmapCalls++;
        if (ok) d.mmapBytes.add(r, i);
        break;
      case MUNMAP:
        d.munmapCalls++;
        if (ok) d.munmapBytes.add(r, i);
        break;
      case BRK:
        d.brkCalls++;
        break;
      case MREMAP:
        d.mremapCalls++;
        break;
      case MPROTECT:
        d.mprotectCalls++;
        break;
    }
  }
  for (; s < sortedStarts.length; s++) {
    const st = sortedStarts[s];
    if (st) open(st);
  }
  return [...deltas.values()].map((d) => d.delta());
}

/** max(0, mmap − munmap): the classic "requested" figure. */
export const requestedBytes = (mmapBytes: bigint, munmapBytes: bigint): bigint =>
  mmapBytes > munmapBytes ? mmapBytes - munmapBytes : 0n;
