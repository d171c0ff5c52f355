// memlens's own threads while it traces. The main thread reads, decodes and stores; the others
// belong to the runtime (V8's background workers: concurrent garbage collection and compilation).
// Those are lowered to the weakest priority, so that when they are runnable on the CPU of a traced
// program, the program goes first: measured, that took about 0.1 µs per traced call off the
// workload's cost (bench/README.md, "tracing overhead"). The main thread keeps its priority, so
// memlens's share of a busy machine, and with it its lost events, does not change.
import { setPriority } from 'node:os';
import type { ProcSource } from './proc-source.js';
import { openLiveProcSource } from './procfs.js';

/** The weakest nice value (include/linux/sched/prio.h MAX_NICE). */
const MAX_NICE = 19;

/**
 * Sets every thread of this process but the main one to MAX_NICE. On Linux, setpriority() with a
 * thread id applies to that thread alone: the nice value is a per-thread attribute under Linux/NPTL
 * (man 2 setpriority). The threads are those of self/task in `proc`, which must be this system's
 * procfs: the ids are handed to setpriority. Returns how many were lowered.
 */
export async function lowerBackgroundThreads(proc: ProcSource = openLiveProcSource()): Promise<number> {
  let lowered = 0;
  const tids = await proc.listDir('self/task');
  if (!tids.ok) return 0;
  for (const t of tids.value) {
    const tid = Number(t);
    if (!Number.isInteger(tid) || tid === process.pid) continue;
    try {
      setPriority(tid, MAX_NICE);
      lowered++;
    } catch {
      // The thread ended meanwhile: nothing to lower.
    }
  }
  return lowered;
}
