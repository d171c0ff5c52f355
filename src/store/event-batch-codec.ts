// MemEvents as one binary buffer, for the hand-over from the tracer's thread to the store's worker
// thread: encoding costs a fraction of a structured clone of the objects (which V8 walks field by
// field), and the buffer is transferred, not copied. The worker keeps the calls in this layout
// until they are stored (EventRecords below): its queue, its spill file (spill-codec.ts, version 2)
// and the packs' bodies (event-pack-codec.ts) hold these bytes, so the layout is stored: a change
// needs a new VERSION here and readers of the old one in the spill codec and the pack codec (or a
// migration that rewrites the packs).
//
// Layout, little-endian:
//   header   u32 magic, u32 version, u32 event count, u32 string count
//   records  count × RECORD_BYTES (the F_ offsets below)
//   strings  string count × (u32 byte length, UTF-8 bytes), the table the records index into
import { assert } from '../base/assert.js';
import { MEM_CALLS, type MemEvent } from '../wire/events.js';

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
const ALL_NULLS = 63;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The records are written into one buffer kept between calls and then copied, with the string
 * table, into a buffer of the exact size: one new buffer per batch, not two (each is fresh memory
 * the kernel faults in; the copy costs a fraction of that).
 */
let scratch = new DataView(new ArrayBuffer(0));

/**
 * A batch's string table while it is built: each distinct string once, in the order first used,
 * and the bytes the table will take (a u32 length and the UTF-8 bytes per string).
 */
class StringTable {
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  bytes = 0;

  /** The string's index in the table, added at the end when new. */
  intern(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
      this.bytes += 4 + Buffer.byteLength(s, 'utf8');
    }
    return i;
  }
}

export function encodeEventBatch(events: readonly MemEvent[]): ArrayBuffer {
  const table = new StringTable();
  const strings = table.strings;
  const id = (s: string): number => table.intern(s);
  // Calls come in runs of one process and thread: the last strings' indexes are kept.
  let lastHost = '';
  let hostId = -1;
  let lastName = '';
  let nameId = -1;
  let lastThread = '';
  let threadId = -1;
  const recordsEnd = HEADER_BYTES + events.length * RECORD_BYTES;
  if (scratch.byteLength < recordsEnd)
    scratch = new DataView(new ArrayBuffer(Math.max(recordsEnd, 2 * scratch.byteLength)));
  const records = scratch;
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
    if (hostId < 0 || e.host !== lastHost) hostId = id((lastHost = e.host));
    if (nameId < 0 || e.name !== lastName) nameId = id((lastName = e.name));
    if (threadId < 0 || e.thread !== lastThread) threadId = id((lastThread = e.thread));
    records.setUint32(at + F_HOST, hostId, true);
    records.setUint32(at + F_NAME, nameId, true);
    records.setUint32(at + F_THREAD, threadId, true);
    if (e.error === null) nulls |= NULL_ERROR;
    else records.setUint32(at + F_ERROR, id(e.error), true);
    const call = CALL_INDEX.get(e.call);
    assert(call !== undefined, `unknown call ${e.call}`);
    records.setUint8(at + F_CALL, call);
    records.setUint8(at + F_NULLS, nulls);
    at += RECORD_BYTES;
  }
  records.setUint32(12, strings.length, true);
  const encoded = strings.map((s) => utf8.encode(s));
  const total = recordsEnd + encoded.reduce((n, b) => n + 4 + b.length, 0);
  const out = new Uint8Array(total);
  out.set(new Uint8Array(records.buffer, 0, recordsEnd), 0);
  const view = new DataView(out.buffer);
  let s = recordsEnd;
  for (const b of encoded) {
    view.setUint32(s, b.length, true);
    out.set(b, s + 4);
    s += 4 + b.length;
  }
  return out.buffer;
}

const CALL_INDEX = new Map<string, number>(MEM_CALLS.map((c, i) => [c, i]));

/** The events of a buffer from encodeEventBatch; throws on anything else. */
export function decodeEventBatch(buffer: ArrayBuffer): MemEvent[] {
  return EventRecords.read(buffer).toEvents();
}

/** Bytes that are not an event batch of this layout (a damaged spill file or pack). */
export class CorruptEventBatch extends Error {
  override name = 'CorruptEventBatch';
}

const corrupt = (what: string): never => {
  throw new CorruptEventBatch(`not an event batch of this build: ${what}`);
};

/**
 * An encoded batch read in place: the store's worker cuts packs and folds totals straight from
 * these bytes, through the accessors below, without an object per call (bench/README.md, issue 13
 * §2: decoding every call into a MemEvent, four BigInts each, and collecting them was as much of
 * the worker's time as SQLite's). Reading checks the whole layout once, so that the accessors can
 * trust it: the header, that the records and the string table fit, that every string is UTF-8,
 * and that every record's string indexes, call and null bits are in range. So bytes from disk (the
 * spill file, a pack) that are damaged fail here, as a CorruptEventBatch, never later.
 */
export class EventRecords {
  /** Over the batch's bytes, from its header. */
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly length: number;
  /** The string table the records index into. */
  readonly strings: readonly string[];

  private constructor(bytes: Uint8Array, count: number, strings: string[]) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = count;
    this.strings = strings;
  }

  /** Reads and checks a batch (the whole of `data`); throws CorruptEventBatch. */
  static read(data: ArrayBuffer | Uint8Array): EventRecords {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < HEADER_BYTES) corrupt('shorter than its header');
    if (v.getUint32(0, true) !== MAGIC || v.getUint32(4, true) !== VERSION) corrupt('magic or version');
    const count = v.getUint32(8, true);
    const stringCount = v.getUint32(12, true);
    // Checked before any allocation: a damaged count cannot make this reserve gigabytes.
    if (count > (bytes.byteLength - HEADER_BYTES) / RECORD_BYTES) corrupt(`${count} records do not fit`);
    let at = HEADER_BYTES + count * RECORD_BYTES;
    if (stringCount > (bytes.byteLength - at) / 4) corrupt(`${stringCount} strings do not fit`);
    const strings: string[] = [];
    for (let i = 0; i < stringCount; i++) {
      if (at + 4 > bytes.byteLength) corrupt('a truncated string table');
      const n = v.getUint32(at, true);
      if (n > bytes.byteLength - at - 4) corrupt('a string past the end');
      try {
        strings.push(fromUtf8.decode(bytes.subarray(at + 4, at + 4 + n)));
      } catch {
        corrupt('a string that is not UTF-8');
      }
      at += 4 + n;
    }
    if (at !== bytes.byteLength) corrupt(`${bytes.byteLength - at} bytes after the string table`);
    for (let r = HEADER_BYTES, i = 0; i < count; i++, r += RECORD_BYTES) {
      const nulls = v.getUint8(r + F_NULLS);
      if (
        v.getUint8(r + F_CALL) >= MEM_CALLS.length ||
        nulls > ALL_NULLS ||
        v.getUint32(r + F_HOST, true) >= stringCount ||
        v.getUint32(r + F_NAME, true) >= stringCount ||
        v.getUint32(r + F_THREAD, true) >= stringCount ||
        ((nulls & NULL_ERROR) === 0 && v.getUint32(r + F_ERROR, true) >= stringCount)
      )
        corrupt(`record ${i} out of range`);
    }
    return new EventRecords(bytes, count, strings);
  }

  static of(events: readonly MemEvent[]): EventRecords {
    return EventRecords.read(encodeEventBatch(events));
  }

  /**
   * The records [from, to) of each part, in order, as one batch with one string table: copied
   * whole, then their string indexes renumbered. A single whole part is returned as it is.
   */
  static concat(
    parts: readonly { records: EventRecords; from: number; to: number }[],
    pool?: BufferPool,
  ): EventRecords {
    const only = parts[0];
    if (parts.length === 1 && only !== undefined && only.from === 0 && only.to === only.records.length)
      return only.records;
    const table = new StringTable();
    const strings = table.strings;
    let count = 0;
    for (const p of parts) count += p.to - p.from;
    const recordsEnd = HEADER_BYTES + count * RECORD_BYTES;
    const maps: Int32Array[] = [];
    for (const p of parts) {
      const map = new Int32Array(p.records.strings.length);
      p.records.strings.forEach((s, i) => {
        map[i] = table.intern(s);
      });
      maps.push(map);
    }
    const stringBytes = table.bytes;
    const out = pool === undefined ? new Uint8Array(recordsEnd + stringBytes) : pool.take(recordsEnd + stringBytes);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    v.setUint32(0, MAGIC, true);
    v.setUint32(4, VERSION, true);
    v.setUint32(8, count, true);
    v.setUint32(12, strings.length, true);
    let at = HEADER_BYTES;
    parts.forEach((p, k) => {
      const map = maps[k] ?? new Int32Array(0);
      const src = HEADER_BYTES + p.from * RECORD_BYTES;
      out.set(p.records.bytes.subarray(src, src + (p.to - p.from) * RECORD_BYTES), at);
      for (let i = p.from; i < p.to; i++, at += RECORD_BYTES) renumber(v, at, map);
    });
    for (const s of strings) {
      const n = utf8.encodeInto(s, out.subarray(at + 4)).written;
      v.setUint32(at, n, true);
      at += 4 + n;
    }
    return new EventRecords(out, count, strings);
  }

  timeMs(i: number): number {
    return this.view.getFloat64(HEADER_BYTES + i * RECORD_BYTES + F_TIME, true);
  }
  ktimeNs(i: number): bigint {
    return this.view.getBigUint64(HEADER_BYTES + i * RECORD_BYTES + F_KTIME, true);
  }
  pid(i: number): number {
    return this.view.getInt32(HEADER_BYTES + i * RECORD_BYTES + F_PID, true);
  }
  /** Index into strings. */
  host(i: number): number {
    return this.view.getUint32(HEADER_BYTES + i * RECORD_BYTES + F_HOST, true);
  }
  name(i: number): number {
    return this.view.getUint32(HEADER_BYTES + i * RECORD_BYTES + F_NAME, true);
  }
  /** Index into MEM_CALLS. */
  call(i: number): number {
    return this.view.getUint8(HEADER_BYTES + i * RECORD_BYTES + F_CALL);
  }
  failed(i: number): boolean {
    return (this.view.getUint8(HEADER_BYTES + i * RECORD_BYTES + F_NULLS) & NULL_ERROR) === 0;
  }
  /**
   * The length argument as a number when it is below 2^48 (every real mapping's: x86-64's user
   * address space is 2^47 bytes, 2^56 with 5-level paging), else -1: the caller then reads
   * lengthBytes. Spares a BigInt per call where lengths are summed.
   */
  smallLength(i: number): number {
    const at = HEADER_BYTES + i * RECORD_BYTES + F_LENGTH;
    const hi = this.view.getUint32(at + 4, true);
    return hi < 0x10000 ? hi * 0x1_0000_0000 + this.view.getUint32(at, true) : -1;
  }
  lengthBytes(i: number): bigint {
    return this.view.getBigUint64(HEADER_BYTES + i * RECORD_BYTES + F_LENGTH, true);
  }

  /** Record i as an object (the readers of packs; not the write path). */
  event(i: number): MemEvent {
    const v = this.view;
    const at = HEADER_BYTES + i * RECORD_BYTES;
    const s = this.strings;
    const nulls = v.getUint8(at + F_NULLS);
    return {
      timeMs: v.getFloat64(at + F_TIME, true),
      ktimeNs: v.getBigUint64(at + F_KTIME, true),
      host: s[v.getUint32(at + F_HOST, true)] ?? '',
      pid: v.getInt32(at + F_PID, true),
      tid: v.getInt32(at + F_TID, true),
      name: s[v.getUint32(at + F_NAME, true)] ?? '',
      thread: s[v.getUint32(at + F_THREAD, true)] ?? '',
      call: MEM_CALLS[v.getUint8(at + F_CALL)] ?? 'mmap',
      addr: v.getBigUint64(at + F_ADDR, true),
      lengthBytes: v.getBigUint64(at + F_LENGTH, true),
      prot: (nulls & NULL_PROT) !== 0 ? null : v.getFloat64(at + F_PROT, true),
      flags: (nulls & NULL_FLAGS) !== 0 ? null : v.getFloat64(at + F_FLAGS, true),
      fd: (nulls & NULL_FD) !== 0 ? null : v.getFloat64(at + F_FD, true),
      result: v.getBigInt64(at + F_RESULT, true),
      error: (nulls & NULL_ERROR) !== 0 ? null : (s[v.getUint32(at + F_ERROR, true)] ?? ''),
      newLengthBytes: (nulls & NULL_NEW_LENGTH) !== 0 ? null : v.getBigUint64(at + F_NEW_LENGTH, true),
      newAddr: (nulls & NULL_NEW_ADDR) !== 0 ? null : v.getBigUint64(at + F_NEW_ADDR, true),
    };
  }

  toEvents(): MemEvent[] {
    const out: MemEvent[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.event(i));
    return out;
  }
}

/** Renumbers the string indexes of the record at `at` through `map` (old index → new). */
function renumber(v: DataView, at: number, map: Int32Array): void {
  v.setUint32(at + F_HOST, map[v.getUint32(at + F_HOST, true)] ?? 0, true);
  v.setUint32(at + F_NAME, map[v.getUint32(at + F_NAME, true)] ?? 0, true);
  v.setUint32(at + F_THREAD, map[v.getUint32(at + F_THREAD, true)] ?? 0, true);
  if ((v.getUint8(at + F_NULLS) & NULL_ERROR) === 0)
    v.setUint32(at + F_ERROR, map[v.getUint32(at + F_ERROR, true)] ?? 0, true);
}

/**
 * What a sub-batch stores of the source's strings: `names[k]` for host, name and thread, `errors[k]`
 * for an error (packs.ts cuts them to their columns' widths).
 */
export interface StoredStrings {
  names: readonly string[];
  errors: readonly string[];
}

const FIELD_AT = [F_HOST, F_NAME, F_THREAD, F_ERROR] as const;

/**
 * Records `list` of `src` (increasing indexes) as one batch with a string table of its own, each
 * string field as `stored` gives it, after `prefix` bytes left for the caller's header, in bytes
 * from `arena` when given: the pack writer's step, without an object per call. Plain arguments,
 * no callbacks: a closure made anew for every batch is a new call target for the optimised code
 * each time (V8 deoptimises on "wrong call target").
 * Records are copied in runs of consecutive indexes (one process's calls mostly come in runs), then
 * their string indexes renumbered.
 */
export function subBatch(
  src: EventRecords,
  list: readonly number[],
  stored: StoredStrings,
  prefix: number,
  arena?: ByteArena,
): Buffer {
  const count = list.length;
  const sv = src.view;
  // First pass: the table, each (field, source string) looked up once per change of value.
  const strings = new StringTable();
  const table = strings.strings;
  const remap = new Map<number, number>(); // source index × 4 + field → table index
  const last = [-1, -1, -1, -1];
  for (let i = 0; i < count; i++) {
    const r = HEADER_BYTES + (list[i] ?? 0) * RECORD_BYTES;
    const fields = (sv.getUint8(r + F_NULLS) & NULL_ERROR) === 0 ? 4 : 3;
    for (let f = 0; f < fields; f++) {
      const k = sv.getUint32(r + (FIELD_AT[f] ?? 0), true);
      if (last[f] === k) continue;
      last[f] = k;
      const key = k * 4 + f;
      if (remap.has(key)) continue;
      remap.set(key, strings.intern((f === 3 ? stored.errors[k] : stored.names[k]) ?? ''));
    }
  }
  const size = prefix + HEADER_BYTES + count * RECORD_BYTES + strings.bytes;
  const out = arena === undefined ? Buffer.allocUnsafe(size) : arena.alloc(size);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint32(prefix, MAGIC, true);
  v.setUint32(prefix + 4, VERSION, true);
  v.setUint32(prefix + 8, count, true);
  v.setUint32(prefix + 12, table.length, true);
  let at = prefix + HEADER_BYTES;
  for (let i = 0; i < count;) {
    const first = list[i] ?? 0;
    let j = i + 1;
    while (j < count && list[j] === first + (j - i)) j++;
    const from = HEADER_BYTES + first * RECORD_BYTES;
    const n = (j - i) * RECORD_BYTES;
    out.set(src.bytes.subarray(from, from + n), at);
    at += n;
    i = j;
  }
  const lastFrom = [-1, -1, -1, -1];
  const lastTo = [0, 0, 0, 0];
  at = prefix + HEADER_BYTES;
  for (let i = 0; i < count; i++, at += RECORD_BYTES) {
    const fields = (v.getUint8(at + F_NULLS) & NULL_ERROR) === 0 ? 4 : 3;
    for (let f = 0; f < fields; f++) {
      const fa = at + (FIELD_AT[f] ?? 0);
      const k = v.getUint32(fa, true);
      let t: number;
      if (lastFrom[f] === k) t = lastTo[f] ?? 0;
      else {
        t = remap.get(k * 4 + f) ?? 0;
        lastFrom[f] = k;
        lastTo[f] = t;
      }
      v.setUint32(fa, t, true);
    }
  }
  for (const s of table) {
    const n = out.write(s, at + 4, 'utf8');
    v.setUint32(at, n, true);
    at += 4 + n;
  }
  return out;
}

/**
 * Bytes handed out from one reused buffer, for what lives only until the next reset(): the bodies
 * of a batch's packs, which the database copies (SQLite binds them as transient blobs, mysql2 sends
 * them) before the batch's transaction ends. A large buffer allocated afresh for every batch cost
 * more than everything done with it: each is new memory the kernel must fault in and zero, freed
 * only at a later garbage collection (bench/README.md, issue 13 §2).
 */
export class ByteArena {
  private buf = Buffer.allocUnsafe(0);
  private at = 0;

  /** Everything handed out before is free again. */
  reset(): void {
    this.at = 0;
  }

  alloc(bytes: number): Buffer {
    if (this.at + bytes > this.buf.length) {
      // What was handed out stays valid: it keeps the old buffer.
      this.buf = Buffer.allocUnsafe(Math.max(bytes, 2 * this.buf.length, 1 << 16));
      this.at = 0;
    }
    const out = this.buf.subarray(this.at, this.at + bytes);
    this.at += bytes;
    return out;
  }
}

/**
 * ArrayBuffers given back once their batch is stored, taken again for the next batches (the
 * writer's batches, BufferedWriter): as ByteArena, so that each batch's bytes are not new memory.
 * Holds a few buffers at most; what does not fit is left to the garbage collector.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly most = 8) {}

  /** `bytes` bytes, from a buffer given back if one is large enough. */
  take(bytes: number): Uint8Array {
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b !== undefined && b.byteLength >= bytes) {
        this.free.splice(i, 1);
        return new Uint8Array(b, 0, bytes);
      }
    }
    // Some room above the size, so that the next batch, a little larger, fits too.
    return new Uint8Array(new ArrayBuffer(bytes + (bytes >> 3)), 0, bytes);
  }

  /** A buffer nothing uses any more. */
  give(b: ArrayBuffer): void {
    if (this.free.length >= this.most) this.free.shift();
    this.free.push(b);
  }
}
