// A small memtrace writer for tests and benchmarks only, written from the format description
// (src/trace.ml, src/backtrace_codec.ml, src/location_codec.ml of janestreet/memtrace): it
// produces traces the reader must decode exactly, including cache hits with predictions,
// short allocation events, location packets before the events that use them, and the
// per-packet verifier. Options inject the known writer faults.
import type { SourceLocation } from '../../src/parsers/memtrace/types.js';

const CACHE_SIZE = 1 << 14;
const MAX_PACKET = 1 << 15;

export interface EncoderOptions {
  version?: 1 | 2 | 3;
  sampleRate?: number;
  wordSizeBits?: 32 | 64;
  pid?: bigint;
  startUs?: number;
  executable?: string;
  host?: string;
  context?: string;
  /** Write locations as memtrace <= 0.2.3 did: columns clamped to 12 bits, not 8 and 10. */
  clampBug?: boolean;
  /** Location code -> locations; codes without an entry get one made up from the code. */
  locations?: Map<number, SourceLocation[]>;
  /** Format v3: the domain written in every packet header (default 0). */
  domain?: number;
  /** The first allocation id (domains of one trace use disjoint ranges). */
  firstAllocId?: number;
  /** Write the trace_info packet (false for a second domain's packets). Default true. */
  writeInfo?: boolean;
  /** Receives each packet as it is finished (large traces); finish() then returns nothing. */
  sink?: (packet: Uint8Array) => void;
}

export interface AllocSpec {
  lengthWords: number;
  samples?: number;
  source?: 0 | 1 | 2;
  /** Location codes, caller first. */
  stack: number[];
}

class Bytes {
  buf = new Uint8Array(MAX_PACKET * 2);
  view = new DataView(this.buf.buffer);
  pos = 0;
  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }
  i32(v: number): void {
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  u64(v: bigint | number): void {
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  f64(v: number): void {
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    this.u8(0);
  }
  vint(v: number): void {
    if (v >= 0 && v <= 252) this.u8(v);
    else if (v >= 0 && v <= 0xffff) {
      this.u8(253);
      this.u16(v);
    } else if (v >= -0x80000000 && v <= 0x7fffffff) {
      this.u8(254);
      this.i32(v);
    } else {
      this.u8(255);
      this.view.setBigInt64(this.pos, BigInt(v), true);
      this.pos += 8;
    }
  }
}

class Mtf<T> {
  entries: { name: string; value: T }[] = [];
  /** Returns the index (31 = new) and the entry's value. */
  encode(name: string, make: () => T): [number, T] {
    const i = this.entries.findIndex((e) => e.name === name);
    if (i >= 0) {
      const [e] = this.entries.splice(i, 1);
      if (e === undefined) throw new Error('unreachable');
      this.entries.unshift(e);
      return [i, e.value];
    }
    const v = make();
    this.entries.unshift({ name, value: v });
    if (this.entries.length > 31) this.entries.pop();
    return [31, v];
  }
}

export class TraceEncoder {
  private readonly out: Uint8Array[] = [];
  private readonly version: number;
  private readonly pid: bigint;
  private readonly startUs: number;
  private readonly opts: EncoderOptions;
  // Mirror of the reader's cache state (what the reader will hold after decoding).
  private readonly loc = new Float64Array(CACHE_SIZE);
  private readonly pred = new Uint16Array(CACHE_SIZE);
  private readonly where = new Map<number, number>();
  private nextBucket = 1;
  private verifyIx = 4242;
  private readonly files = new Mtf<Mtf<null>>();
  private readonly seen = new Set<number>();
  private newLocs: number[] = [];
  private lastStack: number[] = [];
  private packet = new Bytes();
  private packetStartUs: number;
  private packetEndUs: number;
  private packetFirstId = 0;
  private nextId = 0;
  /** Counts of what was written, for assertions. */
  readonly written = { allocations: 0, promotions: 0, collections: 0, locations: 0 };

  constructor(opts: EncoderOptions = {}) {
    this.opts = opts;
    this.version = opts.version ?? 2;
    this.pid = opts.pid ?? 4242n;
    this.startUs = opts.startUs ?? 1_700_000_000_000_000;
    this.packetStartUs = this.startUs;
    this.packetEndUs = this.startUs;
    this.nextId = opts.firstAllocId ?? 0;
    if (opts.writeInfo === false) {
      this.beginEventsPacket(this.startUs);
      return;
    }
    const b = new Bytes();
    this.header(b, this.startUs, this.startUs, 0, 0, false);
    b.u32((0 << 25) | (this.startUs % (1 << 25)));
    b.f64(opts.sampleRate ?? 1e-4);
    b.u8(opts.wordSizeBits ?? 64);
    b.str(opts.executable ?? '/usr/bin/test-program');
    b.str(opts.host ?? 'testhost');
    b.str('s=262144,v=0');
    b.u64(this.pid);
    if (this.version >= 2) b.str(opts.context ?? '');
    this.finishPacket(b);
    this.beginEventsPacket(this.startUs);
  }

  private header(
    b: Bytes,
    begin: number,
    end: number,
    idBegin: number,
    idEnd: number,
    verify: boolean,
    pid = this.pid,
  ): void {
    b.u32(0xc1fc1fc1);
    b.u32(0); // size, patched
    b.u64(begin);
    b.u64(end);
    b.u32(0);
    b.u16(this.version);
    b.u64(pid);
    if (this.version >= 3) b.u16(this.opts.domain ?? 0);
    if (verify) {
      const ix = this.verifyIx;
      this.verifyIx = (this.verifyIx + 5413) & (CACHE_SIZE - 1);
      b.u16(ix);
      b.u16(this.pred[ix] ?? 0);
      b.u64(this.loc[ix] ?? 0);
    } else {
      b.u16(0xffff);
      b.u16(0);
      b.u64(0);
    }
    b.u64(idBegin);
    b.u64(idEnd);
  }

  private finishPacket(b: Bytes): void {
    b.view.setUint32(4, b.pos * 8, true);
    const packet = b.buf.slice(0, b.pos);
    if (this.opts.sink === undefined) this.out.push(packet);
    else this.opts.sink(packet);
  }

  private beginEventsPacket(now: number): void {
    this.packet = new Bytes();
    this.packetStartUs = now;
    this.packetEndUs = now;
    this.packetFirstId = this.nextId;
    // Verifier values are those of the cache *before* this packet's events: the header is
    // written first and patched only for times and ids.
    this.header(this.packet, now, now, 0, 0, true);
  }

  private maybeFlush(now: number): void {
    if (now < this.packetEndUs) throw new Error('time goes backwards');
    if (this.packet.pos > MAX_PACKET - 8192 || now - this.packetStartUs > 30_000_000 || this.newLocs.length > 128)
      this.flushAt(now);
  }

  private event(id: number, now: number, flushed = false): void {
    if (!flushed) this.maybeFlush(now);
    this.packetEndUs = now;
    this.packet.u32(((id << 25) | (now % (1 << 25))) >>> 0);
  }

  /** Writes pending locations, then the events packet; starts a new packet at `now`. */
  flushAt(now: number): void {
    let i = 0;
    while (i < this.newLocs.length) {
      const b = new Bytes();
      this.header(b, this.packetStartUs, this.packetStartUs, this.packetFirstId, this.packetFirstId, false);
      while (i < this.newLocs.length && b.pos < MAX_PACKET - 4096) {
        b.u32(((1 << 25) | (this.packetStartUs % (1 << 25))) >>> 0);
        this.putLocation(b, this.newLocs[i] ?? 0);
        this.written.locations++;
        i++;
      }
      this.finishPacket(b);
    }
    this.newLocs = [];
    const p = this.packet;
    const hdrSize = this.version >= 3 ? 68 : 66;
    p.view.setBigUint64(8, BigInt(this.packetStartUs), true);
    p.view.setBigUint64(16, BigInt(this.packetEndUs), true);
    p.view.setBigUint64(hdrSize - 16, BigInt(this.packetFirstId), true);
    p.view.setBigUint64(hdrSize - 8, BigInt(this.nextId), true);
    this.finishPacket(p);
    this.beginEventsPacket(now);
  }

  private putLocation(b: Bytes, code: number): void {
    const locs = this.opts.locations?.get(code) ?? [
      {
        filename: `file${code % 7}.ml`,
        line: code % 1000,
        startChar: 1,
        endChar: 9,
        defname: `Mod${code % 7}.fn${code}`,
      },
    ];
    b.u64(code);
    b.u8(locs.length);
    for (const l of locs) {
      const [fileCode, defs] = this.files.encode(l.filename, () => new Mtf<null>());
      const [defCode] = defs.encode(l.defname, () => null);
      const startChar = this.opts.clampBug ? Math.min(l.startChar, 0xfff) : Math.min(l.startChar, 0xff);
      const endChar = this.opts.clampBug ? Math.min(l.endChar, 0xfff) : Math.min(l.endChar, 0x3ff);
      const v = BigInt(Math.min(l.line, 0xfffff)) | (BigInt(startChar) << 20n) | (BigInt(endChar) << 28n);
      // The buggy writer OR-ed the overflowing columns into the filename code's bits.
      const encoded = v | (BigInt(fileCode) << 38n) | (BigInt(defCode) << 43n);
      b.u32(Number(encoded & 0xffffffffn));
      b.u16(Number((encoded >> 32n) & 0xffffn));
      if (fileCode === 31) b.str(l.filename);
      if (defCode === 31) b.str(l.defname);
    }
  }

  /** Describes a code that no backtrace uses (as the recording library writes its task counts). */
  describeUnused(code: number): void {
    if (this.seen.has(code)) return;
    this.seen.add(code);
    this.newLocs.push(code);
  }

  alloc(now: number, spec: AllocSpec): number {
    const stack = spec.stack;
    let common = 0;
    while (common < stack.length && common < this.lastStack.length && stack[common] === this.lastStack[common])
      common++;
    this.lastStack = stack;
    const samples = spec.samples ?? 1;
    const source = spec.source ?? 0;
    // Flush first: the next packet's verifier must describe the cache before this backtrace.
    this.maybeFlush(now);
    const words = this.encodeBacktrace(stack, common);
    const short = spec.lengthWords >= 1 && spec.lengthWords <= 16 && source === 0 && samples === 1 && words.count < 256;
    this.event(short ? 100 + spec.lengthWords : 2, now, true);
    const p = this.packet;
    if (short) {
      p.vint(common);
      p.u8(words.count);
    } else {
      p.vint(spec.lengthWords);
      p.vint(samples);
      p.u8(source);
      p.vint(common);
      p.u16(words.count);
    }
    p.buf.set(words.bytes, p.pos);
    p.pos += words.bytes.length;
    this.written.allocations++;
    return this.nextId++;
  }

  /** Encodes the suffix after `common` frames, updating the mirrored reader cache. */
  private readonly scratch = new Bytes();

  private encodeBacktrace(stack: number[], common: number): { count: number; bytes: Uint8Array } {
    const b = this.scratch;
    b.pos = 0;
    let count = 0;
    let pred = 0;
    let i = common;
    while (i < stack.length) {
      const code = stack[i] ?? 0;
      let bucket = this.where.get(code);
      if (bucket !== undefined && this.loc[bucket] !== code) bucket = undefined;
      this.pred[pred] = bucket ?? 0;
      if (bucket === undefined) {
        bucket = this.nextBucket;
        this.nextBucket = (this.nextBucket * 7 + 3) % CACHE_SIZE || 1;
        this.pred[pred] = bucket;
        this.loc[bucket] = code;
        this.where.set(code, bucket);
        if (!this.seen.has(code)) {
          this.seen.add(code);
          this.newLocs.push(code);
        }
        b.u16((bucket << 2) | 3);
        b.u64(code);
        count++;
        pred = bucket;
        i++;
        continue;
      }
      // A hit: count how many following frames the reader's prediction chain gets right.
      let n = 0;
      let p = bucket;
      while (n < 255 && i + 1 + n < stack.length) {
        const next = this.pred[p] ?? 0;
        if (this.loc[next] !== stack[i + 1 + n]) break;
        p = next;
        n++;
      }
      if (n === 0) b.u16(bucket << 2);
      else if (n === 1) b.u16((bucket << 2) | 1);
      else {
        b.u16((bucket << 2) | 2);
        b.u8(n);
      }
      count++;
      pred = p;
      i += 1 + n;
    }
    return { count, bytes: b.buf.subarray(0, b.pos) };
  }

  /** The id the next allocation will get. */
  get nextAllocId(): number {
    return this.nextId;
  }

  promote(now: number, id: number): void {
    this.event(3, now);
    this.packet.vint(this.nextId - 1 - id);
    this.written.promotions++;
  }

  collect(now: number, id: number): void {
    this.event(4, now);
    this.packet.vint(this.nextId - 1 - id);
    this.written.collections++;
  }

  /** A packet from another process (after a fork): the reader must skip it. */
  foreignPidPacket(now: number): void {
    this.flushAt(now);
    const b = new Bytes();
    this.header(b, now, now, this.nextId, this.nextId, false, this.pid + 1n);
    this.finishPacket(b);
  }

  /** Runs `write` on this encoder, then finishes. */
  finishWith(write: (e: TraceEncoder) => void): Uint8Array {
    write(this);
    return this.finish();
  }

  finish(): Uint8Array {
    this.flushAt(this.packetEndUs);
    const total = this.out.reduce((n, b) => n + b.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const b of this.out) {
      all.set(b, at);
      at += b.length;
    }
    return all;
  }
}
