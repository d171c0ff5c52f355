// What the line parsers of external tracers (SystemTap, bpftrace) turn their output into.
import type { LifecycleEvent, MemCall, MemEvent } from '../wire/events.js';
import { isThreadClone, MREMAP_FIXED } from '../base/linux-flags.js';
import { memCallError, toSigned64 } from './mem-call-result.js';

/** One item of an external tracer's output, calls already paired (tracefs's raw records are RawTraceRecord, tracefs/trace-records.ts). */
export type TracerLineRecord =
  | { kind: 'call'; event: MemEvent }
  | { kind: 'lifecycle'; event: LifecycleEvent }
  /** Returns seen without their entry, or entries still waiting for their return at the end. */
  | { kind: 'unpaired'; count: number }
  /** Events the tracer says it lost. */
  | { kind: 'lost'; count: number }
  /** The tracer is attached (bpftrace) or its header line was read (SystemTap). */
  | { kind: 'started' }
  /** bpftrace's periodic mark: everything before it, up to its kernel time, has been printed. */
  | { kind: 'heartbeat'; ktimeNs: bigint };

/** The arguments of one call as the tracers print them, already split per call. */
export type CallArgs =
  | { call: 'mmap'; addr: bigint; len: bigint; prot: bigint; flags: bigint; fd: bigint }
  | { call: 'munmap'; addr: bigint; len: bigint }
  | { call: 'brk'; brk: bigint }
  | { call: 'mremap'; addr: bigint; oldLen: bigint; newLen: bigint; flags: bigint; newAddr: bigint }
  | { call: 'mprotect'; addr: bigint; len: bigint; prot: bigint };

/**
 * How many arguments memlens.bt and memlens.stp print for each call, before its return value.
 * Both print them in the order of the call's parameters, as printedCallArgs reads them.
 */
export const PRINTED_ARG_COUNT: Readonly<Record<MemCall, number>> = {
  mmap: 5,
  munmap: 2,
  brk: 1,
  mremap: 5,
  mprotect: 3,
};

/**
 * A call's arguments from the values a tracer printed in parameter order: `arg(i)` reads the i-th
 * (0 is the first), `signedArg(i)` the i-th of a signed parameter (mmap's fd).
 */
export function printedCallArgs(
  call: MemCall,
  arg: (i: number) => bigint,
  signedArg: (i: number) => bigint = arg,
): CallArgs {
  switch (call) {
    case 'mmap':
      return { call, addr: arg(0), len: arg(1), prot: arg(2), flags: arg(3), fd: signedArg(4) };
    case 'munmap':
      return { call, addr: arg(0), len: arg(1) };
    case 'brk':
      return { call, brk: arg(0) };
    case 'mremap':
      return { call, addr: arg(0), oldLen: arg(1), newLen: arg(2), flags: arg(3), newAddr: arg(4) };
    case 'mprotect':
      return { call, addr: arg(0), len: arg(1), prot: arg(2) };
  }
}

/** The lifecycle records memlens.bt and memlens.stp print: fork, exec, exit, rename. */
export type PrintedLifecycleKind = 'F' | 'E' | 'X' | 'R';

/** How many fields each lifecycle record has after its kind and time(s), in both tracers' output. */
export const PRINTED_LIFECYCLE_FIELDS: Readonly<Record<PrintedLifecycleKind, number>> = { F: 6, E: 5, X: 3, R: 4 };

/** How a tracer's output reads the i-th field after a record's kind and time(s) (0 is the first). */
export interface PrintedFields {
  /** A process or thread id. */
  id(i: number): number;
  /** Clone flags. */
  bits(i: number): bigint;
  /** A name or a path. */
  text(i: number): string;
}

/**
 * A lifecycle record from the fields both tracers print in the same order after its kind and
 * time(s): F pid, tid, child tid, clone flags, child comm, parent process name; E pid, tid, the
 * tid that called execve (the event's tid, as for the other backends), name, filename; X pid,
 * tid, name; R pid, renamed tid, old name, new name. The tid of F and E is checked, not kept.
 */
export function printedLifecycle(kind: PrintedLifecycleKind, ktimeNs: bigint, f: PrintedFields): LifecycleEvent {
  switch (kind) {
    case 'F': {
      const parentPid = f.id(0);
      f.id(1);
      return forkEvent(ktimeNs, parentPid, f.id(2), f.bits(3), f.text(4), f.text(5));
    }
    case 'E': {
      const pid = f.id(0);
      f.id(1);
      return { kind: 'exec', ktimeNs, pid, tid: f.id(2), name: f.text(3), filename: f.text(4) };
    }
    case 'X':
      return { kind: 'exit', ktimeNs, pid: f.id(0), tid: f.id(1), name: f.text(2) };
    case 'R':
      return { kind: 'rename', ktimeNs, pid: f.id(0), tid: f.id(1), oldName: f.text(2), newName: f.text(3) };
  }
}

/** When and by whom a call was made: the fields of MemEvent that do not depend on the call. */
export type CallHead = Pick<MemEvent, 'timeMs' | 'ktimeNs' | 'host' | 'pid' | 'tid' | 'name' | 'thread'>;

export function buildMemEvent(head: CallHead, args: CallArgs, rawResult: bigint): MemEvent {
  const result = toSigned64(rawResult);
  const base = { ...head, call: args.call, result };
  switch (args.call) {
    case 'mmap':
      return {
        ...base,
        addr: args.addr,
        lengthBytes: args.len,
        prot: Number(args.prot),
        flags: Number(args.flags),
        fd: Number(BigInt.asIntN(32, args.fd)),
        error: memCallError('mmap', 0n, result),
        newLengthBytes: null,
        newAddr: null,
      };
    case 'munmap':
      return {
        ...base,
        addr: args.addr,
        lengthBytes: args.len,
        prot: null,
        flags: null,
        fd: null,
        error: memCallError('munmap', 0n, result),
        newLengthBytes: null,
        newAddr: null,
      };
    case 'brk':
      return {
        ...base,
        addr: args.brk,
        lengthBytes: 0n,
        prot: null,
        flags: null,
        fd: null,
        error: memCallError('brk', args.brk, result),
        newLengthBytes: null,
        newAddr: null,
      };
    case 'mremap':
      return {
        ...base,
        addr: args.addr,
        lengthBytes: args.oldLen,
        prot: null,
        flags: Number(args.flags),
        fd: null,
        error: memCallError('mremap', 0n, result),
        newLengthBytes: args.newLen,
        newAddr: (args.flags & BigInt(MREMAP_FIXED)) !== 0n ? args.newAddr : null,
      };
    case 'mprotect':
      // prot is an unsigned long in the syscall (mm/mprotect.c) and an int in user space: the low 32 bits.
      return {
        ...base,
        addr: args.addr,
        lengthBytes: args.len,
        prot: Number(BigInt.asUintN(32, args.prot)),
        flags: null,
        fd: null,
        error: memCallError('mprotect', 0n, result),
        newLengthBytes: null,
        newAddr: null,
      };
  }
}

/**
 * A fork or clone seen in the parent, for every backend (the tracefs process table too): the one
 * place that tells a new process from a new thread. The name is the new process's name: the
 * child's comm for a new process, and the parent process's name for a new thread (its comm is the
 * thread's own).
 */
export function forkEvent(
  ktimeNs: bigint,
  parentPid: number,
  childTid: number,
  cloneFlags: bigint,
  childComm: string,
  parentName: string,
): LifecycleEvent & { kind: 'fork' } {
  const isThread = isThreadClone(cloneFlags);
  return {
    kind: 'fork',
    ktimeNs,
    parentPid,
    childPid: isThread ? parentPid : childTid,
    childTid,
    isThread,
    name: isThread ? parentName : childComm,
  };
}
