// Per-process totals, kept incrementally: each batch is folded into one delta per process
// instance here (pure), and the deltas are added to the processes table in the batch's transaction.
// Nothing ever scans the events table to compute a total.
//
// "requested" is the classic figure of the issue: Σ lengths of successful mmaps − Σ lengths of
// successful munmaps, shown as 0 when negative (munmap of memory mapped before tracing began).
// Failed calls (error ≠ null) are counted as calls and as failures, never as memory.
import type { MemEvent } from '../wire/events.js';

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

function emptyDelta(key: ProcessKey, name: string, timeMs: number, opened: boolean): ProcessDelta {
  return {
    ...key,
    name,
    mmapBytes: 0n,
    munmapBytes: 0n,
    mmapCalls: 0,
    munmapCalls: 0,
    brkCalls: 0,
    mremapCalls: 0,
    mprotectCalls: 0,
    failedCalls: 0,
    firstSeenMs: timeMs,
    lastSeenMs: timeMs,
    opened,
  };
}

/**
 * Folds a batch into deltas. `current` gives the instance start of each (host, pid) known before the
 * batch (undefined: none known, so 0n). Starts and events are merged in kernel-time order, so that
 * events before a fork in the batch still count for the previous instance of a reused pid.
 */
export function foldBatch(
  events: readonly MemEvent[],
  starts: readonly ProcessStart[],
  current: (host: string, pid: number) => bigint | undefined,
): ProcessDelta[] {
  const deltas = new Map<string, ProcessDelta>(); // key: host, pid, start
  const instance = new Map<string, bigint>(); // key: host, pid → start within this batch
  const sortedStarts = [...starts].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  let s = 0;
  const open = (st: ProcessStart): void => {
    instance.set(keyOf(st.host, st.pid), st.startNs);
    const dk = `${keyOf(st.host, st.pid)}\u0000${st.startNs}`;
    const d = deltas.get(dk);
    if (d) d.name = st.name;
    else deltas.set(dk, emptyDelta({ host: st.host, pid: st.pid, startNs: st.startNs }, st.name, st.timeMs, true));
  };
  // Calls come in runs of one process: the previous event's delta is reused while the process is
  // the same and no start came in between, which saves building two string keys per event.
  let last: ProcessDelta | undefined;
  for (const e of events) {
    while (s < sortedStarts.length) {
      const st = sortedStarts[s];
      if (st === undefined || st.startNs > e.ktimeNs) break;
      open(st);
      last = undefined;
      s++;
    }
    let d: ProcessDelta;
    if (last !== undefined && last.pid === e.pid && last.host === e.host) d = last;
    else {
      const k = keyOf(e.host, e.pid);
      let startNs = instance.get(k);
      let opened = false;
      if (startNs === undefined) {
        const known = current(e.host, e.pid);
        opened = known === undefined;
        startNs = known ?? 0n;
        instance.set(k, startNs);
      }
      const dk = `${k}\u0000${startNs}`;
      let found = deltas.get(dk);
      if (!found) {
        found = emptyDelta({ host: e.host, pid: e.pid, startNs }, e.name, e.timeMs, opened);
        deltas.set(dk, found);
      }
      d = found;
      last = d;
    }
    d.name = e.name;
    d.firstSeenMs = Math.min(d.firstSeenMs, e.timeMs);
    d.lastSeenMs = Math.max(d.lastSeenMs, e.timeMs);
    const ok = e.error === null;
    if (!ok) d.failedCalls++;
    switch (e.call) {
      case 'mmap':
        d.mmapCalls++;
        if (ok) d.mmapBytes += e.lengthBytes;
        break;
      case 'munmap':
        d.munmapCalls++;
        if (ok) d.munmapBytes += e.lengthBytes;
        break;
      case 'brk':
        d.brkCalls++;
        break;
      case 'mremap':
        d.mremapCalls++;
        break;
      case 'mprotect':
        d.mprotectCalls++;
        break;
    }
  }
  for (; s < sortedStarts.length; s++) {
    const st = sortedStarts[s];
    if (st) open(st);
  }
  return [...deltas.values()].map((d) => ({
    ...d,
    firstSeenMs: Math.trunc(d.firstSeenMs),
    lastSeenMs: Math.trunc(d.lastSeenMs),
  }));
}

/** max(0, mmap − munmap): the classic "requested" figure. */
export const requestedBytes = (mmapBytes: bigint, munmapBytes: bigint): bigint =>
  mmapBytes > munmapBytes ? mmapBytes - munmapBytes : 0n;
