// MemEvents as one binary buffer, for the hand-over from the tracer's thread to the store's worker
// thread: encoding costs a fraction of a structured clone of the objects (which V8 walks field by
// field), and the buffer is transferred, not copied. Internal to one memlens process: the layout
// never leaves it, so it has a version only to fail loudly on a mismatch of builds.
//
// Layout, little-endian:
//   header   u32 magic, u32 version, u32 event count, u32 string count
//   records  count × RECORD_BYTES (the F_ offsets below)
//   strings  string count × (u32 byte length, UTF-8 bytes), the table the records index into
import { assert } from '../base/assert.js';
import { Cursor } from '../base/cursor.js';
import { MEM_CALLS, type MemCall, type MemEvent } from '../wire/events.js';

const MAGIC = 0x6d6c6562; // "mleb"
const VERSION = 1;
const HEADER_BYTES = 16;
// Field offsets within a record. prot, flags and fd are kept as f64: any JavaScript number they
// hold comes back exactly, whatever sign convention a backend used for them.
const F_TIME = 0; // f64
const F_KTIME = 8; // u64
const F_ADDR = 16; // u64
const F_LENGTH = 24; // u64
const F_RESULT = 32; // i64
const F_NEW_LENGTH = 40; // u64
const F_NEW_ADDR = 48; // u64
const F_PROT = 56; // f64
const F_FLAGS = 64; // f64
const F_FD = 72; // f64
const F_PID = 80; // i32
const F_TID = 84; // i32
const F_HOST = 88; // u32 string index
const F_NAME = 92; // u32
const F_THREAD = 96; // u32
const F_ERROR = 100; // u32
const F_CALL = 104; // u8 index into MEM_CALLS
const F_NULLS = 105; // u8
const RECORD_BYTES = 106;

/** Bits of the nulls byte: which nullable fields are null. */
const NULL_PROT = 1;
const NULL_FLAGS = 2;
const NULL_FD = 4;
const NULL_NEW_LENGTH = 8;
const NULL_NEW_ADDR = 16;
const NULL_ERROR = 32;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeEventBatch(events: readonly MemEvent[]): ArrayBuffer {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const id = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const recordsEnd = HEADER_BYTES + events.length * RECORD_BYTES;
  const records = new DataView(new ArrayBuffer(recordsEnd));
  records.setUint32(0, MAGIC, true);
  records.setUint32(4, VERSION, true);
  records.setUint32(8, events.length, true);
  let at = HEADER_BYTES;
  for (const e of events) {
    let nulls = 0;
    records.setFloat64(at + F_TIME, e.timeMs, true);
    records.setBigUint64(at + F_KTIME, e.ktimeNs, true);
    records.setBigUint64(at + F_ADDR, e.addr, true);
    records.setBigUint64(at + F_LENGTH, e.lengthBytes, true);
    records.setBigInt64(at + F_RESULT, e.result, true);
    if (e.newLengthBytes === null) nulls |= NULL_NEW_LENGTH;
    else records.setBigUint64(at + F_NEW_LENGTH, e.newLengthBytes, true);
    if (e.newAddr === null) nulls |= NULL_NEW_ADDR;
    else records.setBigUint64(at + F_NEW_ADDR, e.newAddr, true);
    if (e.prot === null) nulls |= NULL_PROT;
    else records.setFloat64(at + F_PROT, e.prot, true);
    if (e.flags === null) nulls |= NULL_FLAGS;
    else records.setFloat64(at + F_FLAGS, e.flags, true);
    if (e.fd === null) nulls |= NULL_FD;
    else records.setFloat64(at + F_FD, e.fd, true);
    records.setInt32(at + F_PID, e.pid, true);
    records.setInt32(at + F_TID, e.tid, true);
    records.setUint32(at + F_HOST, id(e.host), true);
    records.setUint32(at + F_NAME, id(e.name), true);
    records.setUint32(at + F_THREAD, id(e.thread), true);
    if (e.error === null) nulls |= NULL_ERROR;
    else records.setUint32(at + F_ERROR, id(e.error), true);
    const call = MEM_CALLS.indexOf(e.call);
    assert(call >= 0, `unknown call ${e.call}`);
    records.setUint8(at + F_CALL, call);
    records.setUint8(at + F_NULLS, nulls);
    at += RECORD_BYTES;
  }
  records.setUint32(12, strings.length, true);
  const encoded = strings.map((s) => utf8.encode(s));
  const total = recordsEnd + encoded.reduce((n, b) => n + 4 + b.length, 0);
  const out = new Uint8Array(total);
  out.set(new Uint8Array(records.buffer), 0);
  const view = new DataView(out.buffer);
  let s = recordsEnd;
  for (const b of encoded) {
    view.setUint32(s, b.length, true);
    out.set(b, s + 4);
    s += 4 + b.length;
  }
  return out.buffer;
}

/** The events of a buffer from encodeEventBatch; throws on anything else (a bug, never data). */
export function decodeEventBatch(buffer: ArrayBuffer): MemEvent[] {
  const c = new Cursor(buffer, true);
  assert(c.u32() === MAGIC && c.u32() === VERSION, 'not an event batch of this build');
  const count = c.u32();
  const stringCount = c.u32();
  c.seek(HEADER_BYTES + count * RECORD_BYTES);
  const strings: string[] = [];
  for (let i = 0; i < stringCount; i++) strings.push(fromUtf8.decode(c.bytes(c.u32())));
  const str = (i: number): string => {
    const s = strings[i];
    assert(s !== undefined, `string ${i} missing from the batch`);
    return s;
  };
  const events: MemEvent[] = [];
  const v = c.view;
  for (let i = 0, at = HEADER_BYTES; i < count; i++, at += RECORD_BYTES) {
    const nulls = v.getUint8(at + F_NULLS);
    const call: MemCall | undefined = MEM_CALLS[v.getUint8(at + F_CALL)];
    assert(call !== undefined, 'unknown call in an event batch');
    events.push({
      timeMs: v.getFloat64(at + F_TIME, true),
      ktimeNs: v.getBigUint64(at + F_KTIME, true),
      host: str(v.getUint32(at + F_HOST, true)),
      pid: v.getInt32(at + F_PID, true),
      tid: v.getInt32(at + F_TID, true),
      name: str(v.getUint32(at + F_NAME, true)),
      thread: str(v.getUint32(at + F_THREAD, true)),
      call,
      addr: v.getBigUint64(at + F_ADDR, true),
      lengthBytes: v.getBigUint64(at + F_LENGTH, true),
      prot: (nulls & NULL_PROT) !== 0 ? null : v.getFloat64(at + F_PROT, true),
      flags: (nulls & NULL_FLAGS) !== 0 ? null : v.getFloat64(at + F_FLAGS, true),
      fd: (nulls & NULL_FD) !== 0 ? null : v.getFloat64(at + F_FD, true),
      result: v.getBigInt64(at + F_RESULT, true),
      error: (nulls & NULL_ERROR) !== 0 ? null : str(v.getUint32(at + F_ERROR, true)),
      newLengthBytes: (nulls & NULL_NEW_LENGTH) !== 0 ? null : v.getBigUint64(at + F_NEW_LENGTH, true),
      newAddr: (nulls & NULL_NEW_ADDR) !== 0 ? null : v.getBigUint64(at + F_NEW_ADDR, true),
    });
  }
  return events;
}
