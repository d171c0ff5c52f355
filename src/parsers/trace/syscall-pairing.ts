// Pairs each syscall entry with its exit. A thread makes one system call at a time, so the key is
// the thread id; records must arrive in timestamp order across CPUs (a thread can migrate between
// its entry and its exit). Whatever cannot be paired is counted, never guessed.
import type { EnterRecord, ExitRecord } from '../tracefs/trace-records.js';

export interface Pending<A> {
  enter: EnterRecord;
  /** What the caller attached at entry time (the process and names at that moment). */
  attached: A;
}

export class SyscallPairer<A> {
  private readonly pending = new Map<number, Pending<A>>();
  /** Entries never followed by their exit, and exits with no entry (tracing started mid-call, lost events). */
  unpaired = 0;

  enter(r: EnterRecord, attached: A): void {
    if (this.pending.has(r.tid)) this.unpaired++; // the previous entry's exit was lost
    this.pending.set(r.tid, { enter: r, attached });
  }

  exit(r: ExitRecord): Pending<A> | undefined {
    const p = this.pending.get(r.tid);
    if (!p || p.enter.call !== r.call) {
      this.unpaired++;
      return undefined;
    }
    this.pending.delete(r.tid);
    return p;
  }

  /** The thread exited or exec'd: an entry still waiting will never see its exit. */
  endThread(tid: number): void {
    if (this.pending.delete(tid)) this.unpaired++;
  }

  /** After lost events nothing pending can be trusted to pair correctly. */
  dropAll(): void {
    this.unpaired += this.pending.size;
    this.pending.clear();
  }

  get waiting(): number {
    return this.pending.size;
  }
}
