// Turns the payload of a ring-buffer record into a RawTraceRecord, using only offsets from the
// kernel's format files (events/<system>/<event>/format). The record's common_type selects the
// event; events memlens did not ask for come back as undefined.
import { ParseError } from '../../base/errors.js';
import { MREMAP_FIXED } from '../../base/linux-flags.js';
import { MEM_CALLS, type MemCall } from '../../wire/events.js';
import { findField, type EventFormat, type FieldFormat } from './event-format.js';
import type { RawTraceRecord } from './trace-records.js';

type Decode = (ktimeNs: bigint, view: DataView, at: number, length: number) => RawTraceRecord | undefined;

const utf8 = new TextDecoder('utf-8');

/** Reads an integer field of any size the kernel uses, as a bigint (sign from the format file). */
function readBig(view: DataView, at: number, f: FieldFormat, le: boolean): bigint {
  const o = at + f.offset;
  switch (f.size) {
    case 8:
      return f.signed ? view.getBigInt64(o, le) : view.getBigUint64(o, le);
    case 4:
      return BigInt(f.signed ? view.getInt32(o, le) : view.getUint32(o, le));
    case 2:
      return BigInt(f.signed ? view.getInt16(o, le) : view.getUint16(o, le));
    case 1:
      return BigInt(f.signed ? view.getInt8(o) : view.getUint8(o));
    default:
      throw new ParseError(`field ${f.name} has unsupported size ${f.size}`, 'format');
  }
}

function readNum(view: DataView, at: number, f: FieldFormat, le: boolean): number {
  const o = at + f.offset;
  switch (f.size) {
    case 4:
      return f.signed ? view.getInt32(o, le) : view.getUint32(o, le);
    case 2:
      return f.signed ? view.getInt16(o, le) : view.getUint16(o, le);
    case 1:
      return f.signed ? view.getInt8(o) : view.getUint8(o);
    default:
      return Number(readBig(view, at, f, le));
  }
}

/**
 * The low 32 bits of an integer field, without making a bigint: prot, flags and fd are ints in
 * user space that the kernel declares as unsigned long (mm/mmap.c ksys_mmap_pgoff).
 */
function readLow32(view: DataView, at: number, f: FieldFormat, le: boolean): number {
  const o = at + f.offset;
  if (f.size === 8) return view.getUint32(le ? o : o + 4, le);
  return readNum(view, at, f, le) >>> 0;
}

/** A char[N] field: bytes up to the first NUL. */
function readFixedString(view: DataView, at: number, f: FieldFormat): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + at + f.offset, f.size);
  const nul = bytes.indexOf(0);
  return utf8.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** A __data_loc field: u32 = (length << 16) | offset from the record start (include/trace/trace_events.h). */
function readDataLocString(view: DataView, at: number, length: number, f: FieldFormat, le: boolean): string {
  const loc = view.getUint32(at + f.offset, le);
  const offset = loc & 0xffff;
  const size = loc >>> 16;
  if (offset + size > length) return '';
  const bytes = new Uint8Array(view.buffer, view.byteOffset + at + offset, size);
  const nul = bytes.indexOf(0);
  return utf8.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

function stringField(view: DataView, at: number, length: number, f: FieldFormat, le: boolean): string {
  return f.dataLoc ? readDataLocString(view, at, length, f, le) : readFixedString(view, at, f);
}

const need = (format: EventFormat, name: string): FieldFormat => {
  const f = findField(format, name);
  if (!f) throw new ParseError(`event ${format.name} has no field "${name}"`, `${format.name}/format`);
  return f;
};

/**
 * The fields of each call's sys_enter event that fill the entry's arguments (absent: the call has
 * no such argument). Their names are the parameters of the SYSCALL_DEFINEs: mmap (the
 * architecture's, arch/x86/kernel/sys_x86_64.c and arch/arm64/kernel/sys.c: addr, len, prot,
 * flags, fd, off), munmap (addr, len), brk (brk), mremap (mm/mremap.c: addr, old_len, new_len,
 * flags, new_addr), mprotect (mm/mprotect.c: start, len, prot).
 */
const ENTER_FIELDS: Record<
  MemCall,
  { addr: string; length?: string; prot?: string; flags?: string; fd?: string; newLength?: string; newAddr?: string }
> = {
  mmap: { addr: 'addr', length: 'len', prot: 'prot', flags: 'flags', fd: 'fd' },
  munmap: { addr: 'addr', length: 'len' },
  brk: { addr: 'brk' },
  mremap: { addr: 'addr', length: 'old_len', flags: 'flags', newLength: 'new_len', newAddr: 'new_addr' },
  mprotect: { addr: 'start', length: 'len', prot: 'prot' },
};

function enterDecoder(call: MemCall, format: EventFormat, le: boolean): Decode {
  const pid = need(format, 'common_pid');
  const names = ENTER_FIELDS[call];
  const field = (name: string | undefined): FieldFormat | undefined =>
    name === undefined ? undefined : need(format, name);
  const addr = need(format, names.addr);
  const length = field(names.length);
  const prot = field(names.prot);
  const flags = field(names.flags);
  const fd = field(names.fd);
  const newLength = field(names.newLength);
  const newAddr = field(names.newAddr);
  return (ktimeNs, v, at) => {
    const f = flags === undefined ? null : readLow32(v, at, flags, le);
    return {
      kind: 'enter',
      ktimeNs,
      tid: readNum(v, at, pid, le),
      call,
      addr: readBig(v, at, addr, le),
      // brk has no length.
      lengthBytes: length === undefined ? 0n : readBig(v, at, length, le),
      prot: prot === undefined ? null : readLow32(v, at, prot, le),
      flags: f,
      fd: fd === undefined ? null : readLow32(v, at, fd, le) | 0,
      newLengthBytes: newLength === undefined ? null : readBig(v, at, newLength, le),
      // new_addr only means something with MREMAP_FIXED.
      newAddr: newAddr !== undefined && f !== null && (f & MREMAP_FIXED) !== 0 ? readBig(v, at, newAddr, le) : null,
    };
  };
}

function exitDecoder(call: MemCall, format: EventFormat, le: boolean): Decode {
  const pid = need(format, 'common_pid');
  const ret = need(format, 'ret');
  // ret is a signed long: -errno comes back negative. Force signedness in case a format says otherwise.
  const signedRet: FieldFormat = { ...ret, signed: true };
  return (ktimeNs, v, at) => ({
    kind: 'exit',
    ktimeNs,
    tid: readNum(v, at, pid, le),
    call,
    ret: readBig(v, at, signedRet, le),
  });
}

/** The events memlens enables, by tracefs path (system/event). */
export const SYSCALL_EVENTS: { event: string; call: MemCall; side: 'enter' | 'exit' }[] = MEM_CALLS.flatMap((call) => [
  { event: `syscalls/sys_enter_${call}`, call, side: 'enter' as const },
  { event: `syscalls/sys_exit_${call}`, call, side: 'exit' as const },
]);
export const LIFECYCLE_EVENTS = [
  'task/task_newtask',
  'sched/sched_process_exec',
  'sched/sched_process_exit',
  'task/task_rename',
] as const;

function lifecycleDecoder(event: string, format: EventFormat, le: boolean): Decode {
  const pid = need(format, 'common_pid');
  switch (event) {
    case 'task/task_newtask': {
      const child = need(format, 'pid');
      const comm = need(format, 'comm');
      const flags = need(format, 'clone_flags');
      return (ktimeNs, v, at, length) => ({
        kind: 'newtask',
        ktimeNs,
        parentTid: readNum(v, at, pid, le),
        tid: readNum(v, at, child, le),
        comm: stringField(v, at, length, comm, le),
        cloneFlags: BigInt.asUintN(64, readBig(v, at, flags, le)),
      });
    }
    case 'sched/sched_process_exec': {
      const newPid = need(format, 'pid');
      const oldPid = need(format, 'old_pid');
      const filename = need(format, 'filename');
      return (ktimeNs, v, at, length) => ({
        kind: 'exec',
        ktimeNs,
        pid: readNum(v, at, newPid, le),
        oldPid: readNum(v, at, oldPid, le),
        filename: stringField(v, at, length, filename, le),
      });
    }
    case 'sched/sched_process_exit': {
      const who = findField(format, 'pid') ?? pid;
      const comm = need(format, 'comm');
      const groupDead = findField(format, 'group_dead');
      return (ktimeNs, v, at, length) => ({
        kind: 'task-exit',
        ktimeNs,
        tid: readNum(v, at, who, le),
        comm: stringField(v, at, length, comm, le),
        groupDead: groupDead ? readNum(v, at, groupDead, le) !== 0 : null,
      });
    }
    case 'task/task_rename': {
      // Newer kernels dropped the pid field: the renamed task is then the current one.
      const who = findField(format, 'pid') ?? pid;
      const oldComm = need(format, 'oldcomm');
      const newComm = need(format, 'newcomm');
      return (ktimeNs, v, at, length) => ({
        kind: 'rename',
        ktimeNs,
        tid: readNum(v, at, who, le),
        oldComm: stringField(v, at, length, oldComm, le),
        newComm: stringField(v, at, length, newComm, le),
      });
    }
    default:
      throw new ParseError(`memlens does not decode ${event}`, event);
  }
}

/** Decodes records by their common_type using the format files of the events that were enabled. */
export class RecordDecoder {
  private readonly byId = new Map<number, Decode>();
  private readonly typeField: FieldFormat;
  /** Records whose common_type is not one of ours (another user's events cannot reach a private instance, so normally 0). */
  foreign = 0;
  /** Records too short for their event's format. */
  malformed = 0;

  /** `formats` maps "system/event" to its parsed format file. */
  constructor(
    formats: Map<string, EventFormat>,
    private readonly littleEndian: boolean,
  ) {
    let typeField: FieldFormat | undefined;
    for (const [event, format] of formats) {
      typeField ??= findField(format, 'common_type');
      const sc = SYSCALL_EVENTS.find((s) => s.event === event);
      const decode = sc
        ? sc.side === 'enter'
          ? enterDecoder(sc.call, format, littleEndian)
          : exitDecoder(sc.call, format, littleEndian)
        : lifecycleDecoder(event, format, littleEndian);
      const lastByte = Math.max(...[...format.fields, ...format.commonFields].map((f) => f.offset + f.size));
      this.byId.set(format.id, (ts, v, at, length) =>
        length < lastByte ? this.tooShort() : decode(ts, v, at, length),
      );
    }
    if (!typeField) throw new ParseError('no event formats given', 'format');
    this.typeField = typeField;
  }

  private tooShort(): RawTraceRecord | undefined {
    this.malformed++;
    return undefined;
  }

  decode(ktimeNs: bigint, view: DataView, at: number, length: number): RawTraceRecord | undefined {
    if (length < this.typeField.offset + this.typeField.size) return this.tooShort();
    const id = readNum(view, at, this.typeField, this.littleEndian);
    const d = this.byId.get(id);
    if (!d) {
      this.foreign++;
      return undefined;
    }
    return d(ktimeNs, view, at, length);
  }
}
