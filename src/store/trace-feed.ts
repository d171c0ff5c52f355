// The one path from a tracer to the store, for `memlens trace` and `memlens serve` alike, both
// through the writer's worker thread (WorkerWriter, opened by trace-sink.ts):
// the events go to the writer in kernel-time order; each fork of a new process becomes a process
// start, which tells the store where a reused pid's new process begins; and the tracer's lost
// counts are added to the store as what was lost since the last report.
import { MonotonicClock } from '../sources/mono-clock.js';
import type { LifecycleEvent, LostCounts, MemEvent } from '../wire/events.js';
import type { ProcessStart } from './totals.js';

/** What both writers offer the trace path (BufferedWriter and WorkerWriter). */
export interface TraceEventWriter {
  write(events: readonly MemEvent[]): void;
  processStarted(start: ProcessStart): void;
  /** Adds lost-event counts for a host (deltas, not running totals). */
  recordLost(host: string, counts: LostCounts): void;
}

export class TraceStoreFeed {
  /**
   * Kernel time → wall clock for process starts. Every event carries both times, so the latest
   * one gives the offset, whatever the backend's clock (a SystemTap stream has its own); before
   * the first event, this process's own monotonic clock.
   */
  private offsetMs: number;
  private reported: LostCounts = { lostEvents: 0, unpaired: 0, malformed: 0 };

  constructor(
    private readonly writer: TraceEventWriter,
    readonly host: string,
  ) {
    this.offsetMs = new MonotonicClock().wallMs(0n);
  }

  /** Queues the events, and a process start for each fork of a new process among the lifecycle events. */
  write(events: readonly MemEvent[], lifecycle: readonly LifecycleEvent[] = []): void {
    const last = events.at(-1);
    if (last !== undefined) this.offsetMs = last.timeMs - Number(last.ktimeNs) / 1e6;
    for (const l of lifecycle) {
      if (l.kind !== 'fork' || l.isThread) continue;
      this.writer.processStarted({
        host: this.host,
        pid: l.childPid,
        startNs: l.ktimeNs,
        name: l.name,
        timeMs: this.offsetMs + Number(l.ktimeNs) / 1e6,
      });
    }
    this.writer.write(events);
  }

  /** Given the tracer's running totals, adds to the store what was lost since the last report. */
  reportLost(totals: LostCounts): void {
    const delta = {
      lostEvents: totals.lostEvents - this.reported.lostEvents,
      unpaired: totals.unpaired - this.reported.unpaired,
      malformed: totals.malformed - this.reported.malformed,
    };
    if (delta.lostEvents > 0 || delta.unpaired > 0 || delta.malformed > 0) this.writer.recordLost(this.host, delta);
    this.reported = { ...totals };
  }
}
