// Kernel trace timestamps → wall-clock time. Every live backend's timestamps are CLOCK_MONOTONIC:
// tracefs's trace_clock "mono" (kernel/trace/trace.c, trace_clocks[]), bpftrace's nsecs
// (bpf_ktime_get_ns) and Node's process.hrtime. Wall clock minus monotonic is one offset, read
// once when tracing starts; a later step of the wall clock (NTP, settimeofday) is not followed, so
// the times of one run stay in the order the kernel saw them.

/** One reading of both clocks: the wall clock in ms, and the monotonic clock in ns around it (the middle of two readings). */
function readClocks(): { wallMs: number; monoNs: bigint } {
  const before = process.hrtime.bigint();
  const wallMs = Date.now();
  const after = process.hrtime.bigint();
  return { wallMs, monoNs: (before + after) / 2n };
}

/** The wall clock of one tracing run: a monotonic kernel time → ms since the epoch. */
export class MonotonicClock {
  /** Wall clock minus CLOCK_MONOTONIC, in ns. */
  readonly offsetNs: bigint;
  /** The same in ms; the monotonic time since boot is exact in a double (below 2^53 ns, 104 days). */
  private readonly offsetMs: number;

  constructor() {
    const { wallMs, monoNs } = readClocks();
    this.offsetNs = BigInt(wallMs) * 1_000_000n - monoNs;
    this.offsetMs = wallMs - Number(monoNs) / 1e6;
  }

  /** Ms since the epoch, with the fraction. */
  wallMs(ktimeNs: bigint): number {
    return this.offsetMs + Number(ktimeNs) / 1e6;
  }
}

/** Wall clock minus CLOCK_MONOTONIC in ns, for a tracer's parser that works in whole ns. */
export function monotonicToWallOffsetNs(): bigint {
  return new MonotonicClock().offsetNs;
}
