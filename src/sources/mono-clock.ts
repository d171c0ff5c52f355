// Kernel trace timestamps → wall-clock time. Every live backend's timestamps are CLOCK_MONOTONIC:
// tracefs's trace_clock "mono" (kernel/trace/trace.c, trace_clocks[]), bpftrace's nsecs
// (bpf_ktime_get_ns) and Node's process.hrtime. Wall clock minus monotonic is one offset, read
// once when tracing starts; a later step of the wall clock (NTP, settimeofday) is not followed, so
// the times of one run stay in the order the kernel saw them.

/** Wall clock minus CLOCK_MONOTONIC in ns, read between two monotonic readings and taken at their middle. */
export function monotonicToWallOffsetNs(): bigint {
  const before = process.hrtime.bigint();
  const wallNs = BigInt(Date.now()) * 1_000_000n;
  const after = process.hrtime.bigint();
  return wallNs - (before + after) / 2n;
}

/** The wall clock of one tracing run: a monotonic kernel time → ms since the epoch. */
export class MonotonicClock {
  readonly offsetNs: bigint;
  private readonly offsetMs: number;

  constructor(offsetNs: bigint = monotonicToWallOffsetNs()) {
    this.offsetNs = offsetNs;
    this.offsetMs = Number(offsetNs) / 1e6;
  }

  /** Ms since the epoch, with the fraction (the kernel time is exact to the ns; a double keeps about a µs of it). */
  wallMs(ktimeNs: bigint): number {
    return this.offsetMs + Number(ktimeNs) / 1e6;
  }
}
