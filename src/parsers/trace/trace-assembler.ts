// Turns raw records, in timestamp order, into MemEvents and LifecycleEvents: keeps the process
// table current, pairs entries with exits, names errors, and applies the pid filter and the
// exclusion of memlens's own processes.
import type { MemEvent, TraceBatch } from '../../wire/events.js';
import type { RawTraceRecord } from '../tracefs/trace-records.js';
import { memCallError } from '../mem-call-result.js';
import type { PidSelection } from './pid-selection.js';
import type { ProcessTable } from './process-table.js';
import { SyscallPairer } from './syscall-pairing.js';

export interface AssemblerOptions {
  host: string;
  /** Kernel timestamp (the trace clock) → wall clock, ms since the epoch. */
  wallClockMs(ktimeNs: bigint): number;
  /** Only these processes (and those they fork, when it follows), when set. */
  pids?: PidSelection;
}

interface Attribution {
  pid: number;
  name: string;
  thread: string;
  keep: boolean;
}

export class TraceAssembler {
  private readonly pairer = new SyscallPairer<Attribution>();

  constructor(
    readonly table: ProcessTable,
    private readonly options: AssemblerOptions,
  ) {}

  get unpaired(): number {
    return this.pairer.unpaired;
  }

  private wanted(pid: number): boolean {
    return !this.table.isExcluded(pid) && (this.options.pids === undefined || this.options.pids.has(pid));
  }

  /** Events were lost: pending entries may belong to exits that will never come. */
  lostEvents(): void {
    this.pairer.dropAll();
  }

  push(r: RawTraceRecord, out: TraceBatch): void {
    switch (r.kind) {
      case 'enter': {
        const a = this.table.attribute(r.tid);
        this.pairer.enter(r, {
          pid: a.pid,
          name: a.name,
          thread: a.thread,
          keep: !a.excluded && (this.options.pids === undefined || this.options.pids.has(a.pid)),
        });
        return;
      }
      case 'exit': {
        const p = this.pairer.exit(r);
        if (!p?.attached.keep) return;
        out.events.push(this.event(p.enter, p.attached, r.ret));
        return;
      }
      default: {
        if (r.kind === 'exec') this.pairer.endThread(r.oldPid);
        if (r.kind === 'task-exit') this.pairer.endThread(r.tid);
        const l = this.table.apply(r);
        if (!l) return;
        if (l.kind === 'fork') this.options.pids?.fork(l.parentPid, l.childPid);
        const pid = l.kind === 'fork' ? l.childPid : l.pid;
        const parentWanted = l.kind === 'fork' && this.wanted(l.parentPid);
        if (this.wanted(pid) || parentWanted) out.lifecycle.push(l);
        if (l.kind === 'exit') this.options.pids?.exit(l.pid);
      }
    }
  }

  private event(e: RawTraceRecord & { kind: 'enter' }, a: Attribution, ret: bigint): MemEvent {
    // brk fails by returning the unchanged break, the others by -errno (see memCallError).
    const error = memCallError(e.call, e.addr, ret);
    return {
      timeMs: this.options.wallClockMs(e.ktimeNs),
      ktimeNs: e.ktimeNs,
      host: this.options.host,
      pid: a.pid,
      tid: e.tid,
      name: a.name,
      thread: a.thread,
      call: e.call,
      addr: e.addr,
      lengthBytes: e.lengthBytes,
      prot: e.prot,
      flags: e.flags,
      fd: e.fd,
      result: ret,
      error,
      newLengthBytes: e.newLengthBytes,
      newAddr: e.newAddr,
    };
  }
}
