// The traced memory-mapping event: one type shared by every tracing backend (tracefs,
// bpftrace, SystemTap), the store, `memlens trace --json` and the dashboard.
// Wire version: bump EVENTS_WIRE_VERSION and note the change here when a field changes.
//
// In memory, 64-bit values are bigint (addresses, kernel timestamps). On the wire (NDJSON,
// WebSocket, HTTP) addresses are "0x…" hex strings and the kernel timestamp a decimal string,
// so that no consumer loses precision past 2^53.

//
// Changes within version 1 (additions only):
// - the call "mprotect" (addr, length, prot; result 0 or -errno). Appended last: the store's batch
//   codec keeps the index into MEM_CALLS, so the order of the others never changes.

export const EVENTS_WIRE_VERSION = 1;

export const MEM_CALLS = ['mmap', 'munmap', 'brk', 'mremap', 'mprotect'] as const;
export type MemCall = (typeof MEM_CALLS)[number];

export const isMemCall = (v: unknown): v is MemCall => (MEM_CALLS as readonly unknown[]).includes(v);

/** One completed system call (its enter paired with its exit), attributed to its process. */
export interface MemEvent {
  /** Wall-clock time of the call's entry, milliseconds since the epoch. */
  timeMs: number;
  /** Kernel timestamp of the entry (the trace clock), nanoseconds. */
  ktimeNs: bigint;
  host: string;
  /** Process id (thread group id). */
  pid: number;
  /** Thread id of the calling thread. */
  tid: number;
  /** The process's name (comm of the thread-group leader) at the moment of the call. */
  name: string;
  /** The calling thread's own name. */
  thread: string;
  call: MemCall;
  /** mmap/munmap/mremap/mprotect: the address argument; brk: the requested break (0 = query). */
  addr: bigint;
  /** Length argument in bytes (mremap: the old length); brk: 0. */
  lengthBytes: bigint;
  /** mmap, mprotect: PROT_* bits; null for the others. */
  prot: number | null;
  /** mmap: MAP_* flags; mremap: MREMAP_* flags; null for the others. */
  flags: number | null;
  /** mmap: the file descriptor (-1 for anonymous); null for the others. */
  fd: number | null;
  /** The raw return value: an address for mmap/mremap/brk, 0 for munmap/mprotect, or -errno. */
  result: bigint;
  /** null on success, else the errno name ("EBADF"). brk never fails this way: see note. */
  error: string | null;
  /** mremap only: the new length in bytes. */
  newLengthBytes: bigint | null;
  /** mremap only: the new address requested (MREMAP_FIXED) or null. */
  newAddr: bigint | null;
}

/** The NDJSON / JSON form of MemEvent, with exactly the field names of the issue's list. */
export interface MemEventJson {
  time: string; // ISO-8601
  ktime: string; // kernel timestamp, ns, decimal string
  host: string;
  pid: number;
  tid: number;
  name: string;
  thread: string;
  call: MemCall;
  addr: string; // "0x…"
  length: number; // bytes (lengths fit in 2^53)
  prot: number | null;
  flags: number | null;
  fd: number | null;
  result: string; // "0x…" address, or the negative errno as a decimal string
  error: string | null;
  new_length: number | null;
  new_addr: string | null;
}

/**
 * An event read back from the store (`memlens events --json`): the fields of MemEventJson plus
 * `id`, the store's row id, which `--before ID` takes to page further back. An added field, so
 * readers of MemEventJson read it unchanged; `memlens trace --json` has no id (nothing stored yet).
 */
export interface StoredEventJson extends MemEventJson {
  id: number;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function eventToJson(e: MemEvent): MemEventJson {
  return {
    time: new Date(e.timeMs).toISOString(),
    ktime: e.ktimeNs.toString(),
    host: e.host,
    pid: e.pid,
    tid: e.tid,
    name: e.name,
    thread: e.thread,
    call: e.call,
    addr: hex(e.addr),
    length: Number(e.lengthBytes),
    prot: e.prot,
    flags: e.flags,
    fd: e.fd,
    result: e.result < 0n ? e.result.toString() : hex(e.result),
    error: e.error,
    new_length: e.newLengthBytes === null ? null : Number(e.newLengthBytes),
    new_addr: e.newAddr === null ? null : hex(e.newAddr),
  };
}

export function storedEventToJson(e: MemEvent & { id: number }): StoredEventJson {
  return { ...eventToJson(e), id: e.id };
}

/**
 * The NDJSON line of one event: exactly `JSON.stringify(eventToJson(e))`, built without the
 * intermediate object. `memlens trace --json` writes one per call, hundreds of thousands a second,
 * where the generic path cost about 2.7 µs per event (bench/trace/pipeline.ts). Strings that can
 * need escaping (host, names, error) still go through JSON.stringify, memoised because the same few
 * names repeat; the ISO time is memoised per millisecond.
 */
export class EventLineWriter {
  private readonly quoted = new Map<string, string>();
  private lastMs = NaN;
  private lastTime = '';

  private q(s: string): string {
    let out = this.quoted.get(s);
    if (out === undefined) {
      out = JSON.stringify(s);
      // Names are chosen by processes: bound the memo so that a process renaming itself in a loop cannot grow it.
      if (this.quoted.size >= 4096) this.quoted.clear();
      this.quoted.set(s, out);
    }
    return out;
  }

  line(e: MemEvent): string {
    // Date keeps whole milliseconds (the time value is truncated), and so does the memo's key.
    const ms = Math.trunc(e.timeMs);
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTime = JSON.stringify(new Date(ms).toISOString());
    }
    const result = e.result < 0n ? `"${e.result.toString()}"` : `"0x${e.result.toString(16)}"`;
    return (
      `{"time":${this.lastTime},"ktime":"${e.ktimeNs.toString()}","host":${this.q(e.host)},"pid":${e.pid},"tid":${e.tid},` +
      `"name":${this.q(e.name)},"thread":${this.q(e.thread)},"call":"${e.call}","addr":"0x${e.addr.toString(16)}",` +
      `"length":${num(Number(e.lengthBytes))},"prot":${e.prot === null ? 'null' : num(e.prot)},"flags":${e.flags === null ? 'null' : num(e.flags)},` +
      `"fd":${e.fd === null ? 'null' : num(e.fd)},"result":${result},"error":${e.error === null ? 'null' : this.q(e.error)},` +
      `"new_length":${e.newLengthBytes === null ? 'null' : num(Number(e.newLengthBytes))},"new_addr":${e.newAddr === null ? 'null' : `"0x${e.newAddr.toString(16)}"`}}`
    );
  }
}

/** A number as JSON.stringify writes it (non-finite values become null). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** Process lifecycle, needed to keep names and address-space models right. */
export type LifecycleEvent =
  | {
      kind: 'fork';
      ktimeNs: bigint;
      parentPid: number;
      childPid: number;
      childTid: number;
      isThread: boolean;
      name: string;
    }
  | { kind: 'exec'; ktimeNs: bigint; pid: number; tid: number; name: string; filename: string }
  | { kind: 'exit'; ktimeNs: bigint; pid: number; tid: number; name: string }
  | { kind: 'rename'; ktimeNs: bigint; pid: number; tid: number; oldName: string; newName: string };

/**
 * What a tracing backend delivers, in kernel-timestamp order within one batch: the paired calls
 * and the lifecycle events that keep names and address spaces right. Every backend, the
 * accounts, the store and the dashboard speak it.
 */
export interface TraceBatch {
  events: MemEvent[];
  lifecycle: LifecycleEvent[];
}

/** Events lost by the tracer, never silent. */
export interface LostCounts {
  /** Events the kernel dropped (ring-buffer overrun, "dropped_events", bpftrace "lost"). */
  lostEvents: number;
  /** Enter events with no matching exit (or the reverse) when pairing. */
  unpaired: number;
  /** Records that could not be decoded and were skipped. */
  malformed: number;
}
