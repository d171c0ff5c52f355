// The streaming memtrace reader. Feed it the file's bytes in chunks of any size (push), then
// call end(). It keeps at most one packet of undecoded bytes (memtrace packets are <= 32 KiB),
// so memory is bounded by the decoded state (location table, backtrace trie), not the file.
//
// Event header (src/trace.ml get_event_header): one u32 = event id << 25 | low 25 bits of the
// µs timestamp, rebuilt from the packet's timestamp_begin. Event ids: 0 trace_info, 1 location,
// 2 alloc, 3 promote, 4 collect, 101..116 short alloc (a 1-sample minor allocation of id-100
// words). Allocation ids are implicit: a counter from the packet's alloc_id_begin, which must
// end at alloc_id_end (the per-packet id check).
//
// Recoveries, all counted in `integrity` and reported, never a crash:
// - a packet whose content is bad stops at that point, the next packet decodes normally
//   (packets are length-delimited);
// - a header that is not a header: resynchronise on the next magic;
// - a location event that does not decode (memtrace <= 0.2.3 clamped columns to 12 bits,
//   spilling into the filename code: fixed upstream in f7f7674): the move-to-front state can
//   no longer be trusted, so every later location code stays unknown;
// - the file ends inside a packet (a killed program): decode up to where it ends.
import { CorruptDataError } from './corrupt.js';
import { Cursor, EndOfDataError } from '../../base/cursor.js';
import { ParseError } from '../../base/errors.js';
import { BacktraceCache } from './backtrace-cache.js';
import { CodeKeys } from './code-key.js';
import { detectMemtrace } from './detect.js';
import { LocationDecoder, readCString } from './location-codec.js';
import {
  CTF_MAGIC,
  HEADER_PREFIX_BYTES,
  MAX_PACKET_BYTES,
  headerBytesFor,
  peekSizeAndVersion,
  readPacketHeader,
  type PacketHeader,
} from './packet-header.js';
import { StackTrie } from './stack-trie.js';
import {
  AllocSource,
  emptyIntegrity,
  type MemtraceEventCounts,
  type MemtraceIntegrity,
  type MemtraceVisitor,
  type SourceLocation,
  type TraceInfo,
} from './types.js';
import { readVint } from './vint.js';

const TIME_BITS = 25;
const TIME_SPAN = 1 << TIME_BITS;
const TIME_MASK = TIME_SPAN - 1;
const EV_TRACE_INFO = 0;
const EV_LOCATION = 1;
const EV_ALLOC = 2;
const EV_PROMOTE = 3;
const EV_COLLECT = 4;
const EV_SHORT_ALLOC_FIRST = 101;
const EV_SHORT_ALLOC_LAST = 116;
const MAX_WARNINGS = 50;

interface DomainState {
  cache: BacktraceCache;
  locations: LocationDecoder;
  lastTimeUs: number;
}

export class MemtraceDecoder {
  readonly integrity: MemtraceIntegrity = emptyIntegrity();
  readonly counts: MemtraceEventCounts = { allocations: 0, promotions: 0, collections: 0, locations: 0 };
  /** Location code key -> its locations (caller first when inlined). */
  readonly locations = new Map<number, SourceLocation[]>();
  readonly trie = new StackTrie();
  readonly keys = new CodeKeys();
  info: TraceInfo | undefined;
  /** Time of the last event or packet end seen (µs since the epoch). */
  lastTimeUs = 0;

  private buf = new Uint8Array(64 * 1024);
  private start = 0;
  private stop = 0;
  /** File offset of buf[start]. */
  private fileOffset = 0;
  private readonly domains = new Map<number, DomainState>();
  private locationsPoisoned = false;
  private readonly warned = new Set<string>();
  private ended = false;

  constructor(
    private readonly visitor: MemtraceVisitor,
    private readonly source = 'input',
  ) {}

  /** Feeds the next bytes of the file. Throws ParseError if the file is not a memtrace trace. */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('push after end');
    if (chunk.length === 0) return;
    this.append(chunk);
    this.drain(false);
  }

  /** No more bytes: decodes a final partial packet, checks that the trace had a trace_info. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.drain(true);
    const left = this.stop - this.start;
    if (this.info === undefined) {
      if (this.fileOffset === 0 && left === 0) throw new ParseError('empty file: not a memtrace trace', this.source);
      if (left > 0) detectMemtrace(this.buf.subarray(this.start, this.stop), this.source);
      throw new ParseError('the file ends before its first packet (the trace_info) is complete', this.source);
    }
    if (left > 0) {
      this.integrity.truncated = true;
      const offset = this.fileOffset;
      if (left >= HEADER_PREFIX_BYTES) this.decodePartial();
      else this.integrity.trailingBytes += left;
      this.warn(
        `the file ends inside a packet at offset ${offset} (${left} bytes of it present): analysed up to there (was the program killed?)`,
      );
      this.start = this.stop;
    }
  }

  /** Capacity of the buffer of undecoded bytes: about one packet plus one chunk, whatever the file size. */
  get bufferCapacity(): number {
    return this.buf.length;
  }

  /** Where the reader is in the file (bytes consumed). */
  get bytesConsumed(): number {
    return this.fileOffset;
  }

  private append(chunk: Uint8Array): void {
    const used = this.stop - this.start;
    if (this.stop + chunk.length > this.buf.length) {
      if (this.start > 0 && used + chunk.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.stop);
      } else {
        let len = this.buf.length;
        while (len < used + chunk.length) len *= 2;
        const grown = new Uint8Array(len);
        grown.set(this.buf.subarray(this.start, this.stop));
        this.buf = grown;
      }
      this.start = 0;
      this.stop = used;
    }
    this.buf.set(chunk, this.stop);
    this.stop += chunk.length;
  }

  private consume(n: number): void {
    this.start += n;
    this.fileOffset += n;
  }

  private drain(final: boolean): void {
    for (;;) {
      const avail = this.stop - this.start;
      if (this.info === undefined) {
        // Detection first: it names foreign CTF formats before anything else is tried.
        if (avail < Math.min(80, HEADER_PREFIX_BYTES) && !final) return;
        if (avail === 0) return;
        if (detectMemtrace(this.buf.subarray(this.start, this.stop), this.source) === undefined)
          throw new ParseError('not a memtrace trace (no CTF magic)', this.source);
      }
      if (avail < HEADER_PREFIX_BYTES) return;
      const { magic, packetBytes, version } = peekSizeAndVersion(
        new Cursor(new DataView(this.buf.buffer, this.buf.byteOffset + this.start, avail), true),
      );
      const headerOk =
        magic === CTF_MAGIC &&
        version >= 1 &&
        version <= 3 &&
        packetBytes >= headerBytesFor(version) &&
        packetBytes <= MAX_PACKET_BYTES;
      if (!headerOk) {
        if (this.info === undefined) throw new ParseError('the first packet header is corrupt', this.source);
        if (!this.resync()) return;
        continue;
      }
      if (avail < packetBytes) return;
      const packet = new Cursor(new DataView(this.buf.buffer, this.buf.byteOffset + this.start, packetBytes), true);
      const offset = this.fileOffset;
      this.consume(packetBytes);
      this.decodePacket(packet, offset, false);
    }
  }

  /** After a corrupt header: skip to the next occurrence of the magic. False = need more bytes. */
  private resync(): boolean {
    const b = this.buf;
    const from = this.start + 1;
    let i = from;
    for (; i + 4 <= this.stop; i++) {
      if (b[i] === 0xc1 && b[i + 1] === 0x1f && b[i + 2] === 0xfc && b[i + 3] === 0xc1) break;
    }
    const skipped = Math.min(i, this.stop - 3) - this.start;
    if (skipped <= 0) return false;
    this.integrity.corruptPackets++;
    this.integrity.trailingBytes += skipped;
    this.warn(`corrupt packet header at offset ${this.fileOffset}: skipped ${skipped} bytes to the next packet magic`);
    this.consume(skipped);
    return i + 4 <= this.stop;
  }

  private decodePartial(): void {
    const avail = this.stop - this.start;
    const packet = new Cursor(new DataView(this.buf.buffer, this.buf.byteOffset + this.start, avail), true);
    const offset = this.fileOffset;
    this.consume(avail);
    this.decodePacket(packet, offset, true);
  }

  warn(message: string): void {
    if (this.warned.has(message) || this.integrity.warnings.length >= MAX_WARNINGS) return;
    this.warned.add(message);
    this.integrity.warnings.push(message);
  }

  private domainState(domain: number): DomainState {
    let d = this.domains.get(domain);
    if (d === undefined) {
      d = { cache: new BacktraceCache(), locations: new LocationDecoder(), lastTimeUs: this.info?.startTimeUs ?? 0 };
      this.domains.set(domain, d);
    }
    return d;
  }

  private decodePacket(c: Cursor, offset: number, partial: boolean): void {
    let h: PacketHeader;
    try {
      h = readPacketHeader(c);
    } catch (e) {
      if (!isDataError(e)) throw e;
      if (this.info === undefined)
        throw new ParseError(`the first packet header is corrupt: ${message(e)}`, this.source);
      if (partial && e instanceof EndOfDataError) return;
      this.integrity.corruptPackets++;
      this.warn(`corrupt packet header at offset ${offset}: ${message(e)}; packet skipped`);
      return;
    }
    this.integrity.packets++;
    if (this.info === undefined) {
      this.readTraceInfo(c, h);
      return;
    }
    if (h.pid !== this.info.pid) {
      this.integrity.wrongPidPackets++;
      this.warn(`skipped packets of another process (pid ${h.pid}, tracing ${this.info.pid}): a fork`);
      return;
    }
    const d = this.domainState(h.domain);
    if (h.verifyIx !== 0xffff) {
      this.integrity.cacheVerifierChecks++;
      if (!d.cache.verify(h.verifyIx, h.verifyPred, this.keys.key(h.verifyLow, h.verifyHigh))) {
        this.integrity.cacheVerifierFailures++;
        this.warn(
          `backtrace cache verifier failed at the packet at offset ${offset}: backtraces after it may be wrong`,
        );
      }
    }
    if (h.timeEndUs > this.lastTimeUs) this.lastTimeUs = h.timeEndUs;
    let allocId = h.allocIdBegin;
    try {
      allocId = this.decodeEvents(c, h, d, allocId);
    } catch (e) {
      if (!isDataError(e)) throw e;
      if (partial && e instanceof EndOfDataError) return;
      this.integrity.corruptPackets++;
      this.warn(
        `bad data in the packet at offset ${offset} (byte ${offset + c.offset}): ${message(e)}; rest of the packet skipped`,
      );
      return;
    }
    if (partial) return;
    this.integrity.allocIdChecks++;
    if (allocId !== h.allocIdEnd) {
      this.integrity.allocIdMismatches++;
      this.warn(
        `allocation ids out of sync in the packet at offset ${offset}: ${allocId - h.allocIdBegin} allocations, header says ${h.allocIdEnd - h.allocIdBegin}`,
      );
    }
  }

  private readTraceInfo(c: Cursor, h: PacketHeader): void {
    try {
      const code = c.u32();
      if (code >>> TIME_BITS !== EV_TRACE_INFO)
        throw new CorruptDataError(`first event has id ${code >>> TIME_BITS}, expected trace_info (0)`);
      const sampleRate = c.f64();
      const wordSizeBits = c.u8();
      const executableName = readCString(c);
      const hostName = readCString(c);
      const ocamlRuntimeParams = readCString(c);
      const pid = c.u64();
      const context = h.version >= 2 ? readCString(c) : '';
      if (!(sampleRate > 0 && sampleRate <= 1))
        throw new CorruptDataError(`sample rate ${sampleRate} is not in (0, 1]`);
      if (wordSizeBits !== 32 && wordSizeBits !== 64) throw new CorruptDataError(`word size ${wordSizeBits} bits`);
      if (c.remaining !== 0) this.warn(`${c.remaining} unexpected bytes after the trace_info event`);
      this.info = {
        formatVersion: h.version,
        sampleRate,
        wordSizeBits,
        executableName,
        hostName,
        ocamlRuntimeParams,
        pid,
        context: context === '' ? undefined : context,
        startTimeUs: h.timeBeginUs,
      };
      this.lastTimeUs = h.timeEndUs;
    } catch (e) {
      if (!isDataError(e)) throw e;
      throw new ParseError(`a memtrace trace whose trace_info is unreadable: ${message(e)}`, this.source);
    }
    this.visitor.info?.(this.info);
  }

  private decodeEvents(c: Cursor, h: PacketHeader, d: DomainState, firstId: number): number {
    const visitor = this.visitor;
    const begin = h.timeBeginUs;
    const end = h.timeEndUs;
    const beginLow = begin % TIME_SPAN;
    const base = begin - beginLow;
    const domain = h.domain;
    const counts = this.counts;
    let allocId = firstId;
    while (c.remaining > 0) {
      const code = c.u32();
      const id = code >>> TIME_BITS;
      let low = code & TIME_MASK;
      if (low < beginLow) low += TIME_SPAN;
      const time = base + low;
      if (time > end) throw new CorruptDataError(`event time outside its packet's bounds`);
      if (time < d.lastTimeUs) this.integrity.nonMonotoneTimes++;
      else d.lastTimeUs = time;
      if (id >= EV_SHORT_ALLOC_FIRST && id <= EV_SHORT_ALLOC_LAST) {
        const prefix = readVint(c);
        const n = c.u8();
        const node = this.backtrace(c, d, n, prefix);
        counts.allocations++;
        visitor.alloc(allocId++, time, id - 100, 1, AllocSource.minor, node, domain);
        continue;
      }
      switch (id) {
        case EV_ALLOC: {
          const length = readVint(c);
          const samples = readVint(c);
          const src = c.u8();
          if (src > 2) throw new CorruptDataError(`allocation source ${src}`);
          const prefix = readVint(c);
          const n = c.u16();
          const node = this.backtrace(c, d, n, prefix);
          if (samples < 1 || length < 0)
            throw new CorruptDataError(`allocation with ${samples} samples of ${length} words`);
          counts.allocations++;
          visitor.alloc(allocId++, time, length, samples, src as AllocSource, node, domain);
          break;
        }
        case EV_PROMOTE: {
          const delta = readVint(c);
          if (delta < 0) throw new CorruptDataError('negative promote delta');
          counts.promotions++;
          visitor.promote(allocId - 1 - delta, time, domain);
          break;
        }
        case EV_COLLECT: {
          // A negative delta is legal (memtrace HEAD: a domain collecting another's object).
          const delta = readVint(c);
          counts.collections++;
          visitor.collect(allocId - 1 - delta, time, domain);
          break;
        }
        case EV_LOCATION:
          if (!this.location(c, d)) return allocId;
          break;
        case EV_TRACE_INFO:
          throw new CorruptDataError('a second trace_info event');
        default:
          throw new CorruptDataError(`unknown event id ${id}`);
      }
    }
    return allocId;
  }

  private backtrace(c: Cursor, d: DomainState, nencoded: number, prefix: number): number {
    if (prefix < 0) throw new CorruptDataError('negative backtrace prefix');
    const r = d.cache.read(c, nencoded, prefix, this.keys, this.trie);
    if (r.truncated) this.integrity.truncatedBacktraces++;
    return r.node;
  }

  /** Decodes a location event; false = the location state is broken, stop this packet. */
  private location(c: Cursor, d: DomainState): boolean {
    let decoded: { low: number; high: number; locations: SourceLocation[] };
    try {
      decoded = d.locations.read(c);
    } catch (e) {
      if (!isDataError(e)) throw e;
      this.integrity.locationErrors++;
      if (!this.locationsPoisoned) {
        this.locationsPoisoned = true;
        this.warn(
          `location table corrupt (${message(e)}; likely memtrace <= 0.2.3's column clamping on long source lines): later source locations are shown as unknown`,
        );
      }
      return false;
    }
    this.counts.locations++;
    if (this.locationsPoisoned) return true;
    const key = this.keys.key(decoded.low, decoded.high);
    const known = this.locations.get(key);
    if (known === undefined) this.locations.set(key, decoded.locations);
    else if (!sameLocations(known, decoded.locations)) this.integrity.inconsistentLocations++;
    return true;
  }
}

function sameLocations(a: SourceLocation[], b: SourceLocation[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return (
      y !== undefined &&
      x.filename === y.filename &&
      x.line === y.line &&
      x.startChar === y.startChar &&
      x.endChar === y.endChar &&
      x.defname === y.defname
    );
  });
}

function isDataError(e: unknown): boolean {
  return e instanceof CorruptDataError || e instanceof EndOfDataError;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Decodes a whole trace held in memory (tests, small files). */
export function decodeMemtrace(bytes: Uint8Array, visitor: MemtraceVisitor, source = 'input'): MemtraceDecoder {
  const d = new MemtraceDecoder(visitor, source);
  d.push(bytes);
  d.end();
  return d;
}
