// per_cpu/cpuN/stats of a tracing instance (kernel/trace/trace.c tracing_stats_read()): the
// counters that say whether events were lost. "overrun" counts events overwritten before they were
// read (overwrite mode), "commit overrun" events lost while a commit was pending, "dropped events"
// events refused because the buffer was full (non-overwrite mode).

export interface CpuStats {
  entries: number;
  overrun: number;
  commitOverrun: number;
  droppedEvents: number;
  readEvents: number;
}

export function parseCpuStats(text: string): CpuStats {
  const n = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text);
    return m?.[1] ? Number(m[1]) : 0;
  };
  return {
    entries: n('entries'),
    overrun: n('overrun'),
    commitOverrun: n('commit overrun'),
    droppedEvents: n('dropped events'),
    readEvents: n('read events'),
  };
}

/** Events the kernel lost on one CPU, whatever the buffer mode. */
export const lostInStats = (s: CpuStats): number => s.overrun + s.commitOverrun + s.droppedEvents;
