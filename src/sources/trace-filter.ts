// Which traced processes a backend passes on: only --pid ones when given, and never memlens
// itself or its descendants (unless asked), followed through the fork events in time order.
import { PidSelection } from '../parsers/trace/pid-selection.js';
import type { LifecycleEvent, MemEvent } from '../wire/events.js';

export class TraceFilter {
  private readonly excluded = new Set<number>();
  private readonly seeds: ReadonlySet<number>;
  private readonly pids: PidSelection | undefined;

  /**
   * @param pids only these processes, if set
   * @param excludedSeeds processes left out with every descendant forked after this point
   * @param followForks with pids: also the processes they fork from now on
   */
  constructor(pids: readonly number[] | undefined, excludedSeeds: readonly number[], followForks = false) {
    this.pids = pids === undefined ? undefined : new PidSelection(pids, followForks);
    this.seeds = new Set(excludedSeeds);
    for (const p of excludedSeeds) this.excluded.add(p);
  }

  /** Adds a process (and its future descendants) to the excluded set. */
  exclude(pid: number): void {
    this.excluded.add(pid);
  }

  /** Call in kernel-timestamp order; true when the event is passed on. */
  lifecycle(ev: LifecycleEvent): boolean {
    switch (ev.kind) {
      case 'fork':
        if (this.excluded.has(ev.parentPid)) {
          this.excluded.add(ev.childPid);
          return false;
        }
        this.pids?.fork(ev.parentPid, ev.childPid);
        return this.wanted(ev.parentPid) || this.wanted(ev.childPid);
      case 'exit': {
        const keep = !this.excluded.has(ev.pid) && this.wanted(ev.pid);
        // The pid may be reused by an unrelated process from now on.
        if (!this.seeds.has(ev.pid)) this.excluded.delete(ev.pid);
        this.pids?.exit(ev.pid);
        return keep;
      }
      case 'exec':
      case 'rename':
        return !this.excluded.has(ev.pid) && this.wanted(ev.pid);
    }
  }

  event(ev: MemEvent): boolean {
    return !this.excluded.has(ev.pid) && this.wanted(ev.pid);
  }

  private wanted(pid: number): boolean {
    return this.pids === undefined || this.pids.has(pid);
  }
}
