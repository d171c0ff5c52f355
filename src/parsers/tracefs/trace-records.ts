// The raw, unpaired records a tracer delivers before pairing and attribution: one syscall entry,
// one syscall exit, or one process-lifecycle tracepoint. Backend-neutral: the tracefs decoder
// produces them, and any backend that sees enter and exit separately can too.
import type { MemCall, MemEvent } from '../../wire/events.js';

/** A call's entry: its arguments are the MemEvent's, as the assembly copies them into it. */
export interface EnterRecord extends Pick<
  MemEvent,
  'ktimeNs' | 'tid' | 'call' | 'addr' | 'lengthBytes' | 'prot' | 'flags' | 'fd' | 'newLengthBytes' | 'newAddr'
> {
  kind: 'enter';
}

export interface ExitRecord {
  kind: 'exit';
  ktimeNs: bigint;
  tid: number;
  call: MemCall;
  ret: bigint;
}

/** task:task_newtask, fired in the creator's context (include/trace/events/task.h). */
export interface NewTaskRecord {
  kind: 'newtask';
  ktimeNs: bigint;
  parentTid: number;
  tid: number;
  comm: string;
  cloneFlags: bigint;
}

/** sched:sched_process_exec: `pid` is the task's pid after exec (the tgid), oldPid its tid before. */
export interface ExecRecord {
  kind: 'exec';
  ktimeNs: bigint;
  pid: number;
  oldPid: number;
  filename: string;
}

/** sched:sched_process_exit: one thread exits; groupDead when it was the last of its process. */
export interface TaskExitRecord {
  kind: 'task-exit';
  ktimeNs: bigint;
  tid: number;
  comm: string;
  /** null on kernels whose event has no group_dead field. */
  groupDead: boolean | null;
}

/** task:task_rename: prctl(PR_SET_NAME), writes to /proc/PID/comm, and exec. */
export interface RenameRecord {
  kind: 'rename';
  ktimeNs: bigint;
  tid: number;
  oldComm: string;
  newComm: string;
}

/** One raw record as the kernel wrote it, before pairing (the line tracers' records are TracerLineRecord, ../trace-records.ts). */
export type RawTraceRecord = EnterRecord | ExitRecord | NewTaskRecord | ExecRecord | TaskExitRecord | RenameRecord;
