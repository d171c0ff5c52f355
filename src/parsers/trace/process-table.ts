// Who is who while tracing: thread id → process (thread group) and names. Syscall records carry
// only the thread id (common_pid is task->pid), so the process and its name come from here. The
// table is seeded from /proc when tracing starts and kept current from lifecycle records:
// task_newtask (CLONE_THREAD or not), sched_process_exec (a thread that execs becomes the leader),
// task_rename, sched_process_exit (group_dead ends the process).
import type { LifecycleEvent } from '../../wire/events.js';
import type { RawTraceRecord } from '../tracefs/trace-records.js';
import { forkEvent } from '../trace-records.js';

export interface SeedTask {
  tid: number;
  tgid: number;
  /** The thread's comm. */
  comm: string;
}

interface ThreadInfo {
  tgid: number;
  name: string;
}

interface ProcessInfo {
  /** The leader's comm: the process's name. */
  name: string;
  /** Left out of the output (memlens itself and its children, unless asked otherwise). */
  excluded: boolean;
  threads: Set<number>;
}

/** Looks a thread up outside the trace (live: /proc/TID/status) when the trace never introduced it. */
export type ThreadResolver = (tid: number) => SeedTask | undefined;

export class ProcessTable {
  private readonly threads = new Map<number, ThreadInfo>();
  private readonly processes = new Map<number, ProcessInfo>();
  /** Threads that appeared in a syscall record without any introduction and could not be resolved. */
  unresolved = 0;

  constructor(
    private readonly resolve?: ThreadResolver,
    /** Whether task_rename is traced: then exec's new name has already arrived by rename. */
    private readonly renameTraced = true,
  ) {}

  seed(tasks: Iterable<SeedTask>, excludedPids: Iterable<number> = []): void {
    const excluded = new Set(excludedPids);
    for (const t of tasks) this.addThread(t.tid, t.tgid, t.comm, excluded.has(t.tgid));
  }

  private addThread(tid: number, tgid: number, comm: string, excluded: boolean): ThreadInfo {
    let p = this.processes.get(tgid);
    if (!p) {
      p = { name: comm, excluded, threads: new Set() };
      this.processes.set(tgid, p);
    }
    if (tid === tgid) p.name = comm;
    p.threads.add(tid);
    const info = { tgid, name: comm };
    this.threads.set(tid, info);
    return info;
  }

  private thread(tid: number): ThreadInfo {
    const known = this.threads.get(tid);
    if (known) return known;
    const found = this.resolve?.(tid);
    if (found) return this.addThread(tid, found.tgid, found.comm, this.processes.get(found.tgid)?.excluded ?? false);
    this.unresolved++;
    // Unknown: treat it as a process of its own so that it is still counted, under a visible "?".
    return this.addThread(tid, tid, '?', false);
  }

  /** The thread's process id, process name and thread name right now. */
  attribute(tid: number): { pid: number; name: string; thread: string; excluded: boolean } {
    const t = this.thread(tid);
    const p = this.processes.get(t.tgid);
    return { pid: t.tgid, name: p?.name ?? t.name, thread: t.name, excluded: p?.excluded ?? false };
  }

  isExcluded(pid: number): boolean {
    return this.processes.get(pid)?.excluded ?? false;
  }

  processName(pid: number): string | undefined {
    return this.processes.get(pid)?.name;
  }

  get processCount(): number {
    return this.processes.size;
  }

  /**
   * Applies a lifecycle record and returns the lifecycle event it means, if any. Threads that exit
   * while their process lives on change the table but produce no event: "exit" is a process's end.
   */
  apply(r: RawTraceRecord): LifecycleEvent | undefined {
    switch (r.kind) {
      case 'newtask': {
        const parent = this.attribute(r.parentTid);
        const fork = forkEvent(r.ktimeNs, parent.pid, r.tid, r.cloneFlags, r.comm, parent.name);
        this.addThread(r.tid, fork.childPid, r.comm, parent.excluded);
        return fork;
      }
      case 'exec': {
        // fs/exec.c de_thread(): a non-leader that execs takes over the leader's pid; the other threads are gone.
        const before = this.thread(r.oldPid);
        const tgid = r.pid;
        const p = this.processes.get(tgid) ?? this.processes.get(before.tgid);
        // task_rename fires in begin_new_exec() after de_thread(), so for the task's new pid, before this event.
        const renamed = this.threads.get(tgid)?.name ?? before.name;
        const name = this.renameTraced && renamed !== '?' ? renamed : basename15(r.filename);
        for (const tid of p?.threads ?? []) this.threads.delete(tid);
        this.processes.delete(before.tgid);
        this.processes.delete(tgid);
        this.addThread(tgid, tgid, name, p?.excluded ?? false);
        return { kind: 'exec', ktimeNs: r.ktimeNs, pid: tgid, tid: r.oldPid, name, filename: r.filename };
      }
      case 'rename': {
        const t = this.thread(r.tid);
        t.name = r.newComm;
        const p = this.processes.get(t.tgid);
        if (p && r.tid === t.tgid) p.name = r.newComm;
        return { kind: 'rename', ktimeNs: r.ktimeNs, pid: t.tgid, tid: r.tid, oldName: r.oldComm, newName: r.newComm };
      }
      case 'task-exit': {
        const t = this.threads.get(r.tid);
        const tgid = t?.tgid ?? r.tid;
        const p = this.processes.get(tgid);
        this.threads.delete(r.tid);
        p?.threads.delete(r.tid);
        const dead = r.groupDead ?? (p === undefined || p.threads.size === 0);
        if (!dead) return undefined;
        const name = p?.name ?? r.comm;
        for (const tid of p?.threads ?? []) this.threads.delete(tid);
        this.processes.delete(tgid);
        return { kind: 'exit', ktimeNs: r.ktimeNs, pid: tgid, tid: r.tid, name };
      }
      case 'enter':
      case 'exit':
        return undefined;
    }
  }
}

/** The kernel names a task after exec from the file's basename, cut to TASK_COMM_LEN-1 = 15 bytes. */
function basename15(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const bytes = new TextEncoder().encode(base);
  return bytes.length <= 15 ? base : new TextDecoder().decode(bytes.subarray(0, 15));
}
