// The processes a trace keeps when --pid is given: those pids, and with --follow every process
// they fork from then on, transitively (as strace -f does). Forks and exits must be applied in
// kernel-timestamp order, the order the backends deliver lifecycle events in, so that a child is
// selected before its first call is seen.

export class PidSelection {
  private readonly selected: Set<number>;
  private readonly given: ReadonlySet<number>;

  constructor(
    pids: Iterable<number>,
    /** Also select the processes that selected ones fork. */
    readonly follow: boolean,
  ) {
    this.given = new Set(pids);
    this.selected = new Set(this.given);
  }

  has(pid: number): boolean {
    return this.selected.has(pid);
  }

  /** A new process (not a thread): selected with its parent when following. */
  fork(parentPid: number, childPid: number): void {
    if (this.follow && this.selected.has(parentPid)) this.selected.add(childPid);
  }

  /**
   * A process ended: a followed child's pid may be reused by an unrelated process from now on, so
   * it leaves the selection. A pid given on the command line stays selected, as without --follow.
   */
  exit(pid: number): void {
    if (!this.given.has(pid)) this.selected.delete(pid);
  }
}
