// Is this a memtrace trace? Several OCaml tools write CTF with the same magic 0xC1FC1FC1, so
// the magic alone says nothing; the header that follows it does.
// - memtrace: u32 packet_size (bits, >= 66 bytes), u64 x2 timestamps, u32 flush_duration = 0,
//   u16 version 1..3 (src/trace.ml put_ctf_header), then a trace_info event.
// - OCaml 4.11-4.14 runtime eventlog (instrumented runtime, OCAML_EVENTLOG_ENABLED): a stream
//   header `u32 magic; u16 caml_trace_version (1, or 0x100 in multicore); u16 stream_id (0)`
//   (runtime/eventlog.c, struct ctf_stream_header), then events.
// - mirage-profile (Lwt thread tracing): `u32 magic; u8 uuid[16]` with its fixed trace uuid
//   05883b8d-521a-487b-b397-456ab150680c (mirage-profile lib/trace_enabled.ml, metadata).
import { ParseError } from '../../base/errors.js';
import { CTF_MAGIC, HEADER_BYTES_V1, MAX_FORMAT_VERSION } from './packet-header.js';

const MIRAGE_PROFILE_UUID = [
  0x05, 0x88, 0x3b, 0x8d, 0x52, 0x1a, 0x48, 0x7b, 0xb3, 0x97, 0x45, 0x6a, 0xb1, 0x50, 0x68, 0x0c,
];
/** The magic as a big-endian writer would store it. */
const CTF_MAGIC_SWAPPED = 0xc11ffcc1;

/** How many leading bytes detection wants (fewer is fine if the file is shorter). */
export const DETECT_BYTES = 80;

function startsWithUuid(head: Uint8Array): boolean {
  if (head.length < 4 + MIRAGE_PROFILE_UUID.length) return false;
  return MIRAGE_PROFILE_UUID.every((b, i) => head[4 + i] === b);
}

/**
 * undefined: not CTF at all (not mine). true: looks like a memtrace trace. Throws ParseError
 * naming the format for CTF files that are something else, or a memtrace version too new.
 */
export function detectMemtrace(head: Uint8Array, source = 'input'): true | undefined {
  if (head.length < 4) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = view.getUint32(0, true);
  if (magic === CTF_MAGIC_SWAPPED) {
    throw new ParseError(
      'a big-endian CTF trace (magic 0xC1FC1FC1), not a memtrace trace: memtrace writes little-endian only (perhaps an OCaml runtime eventlog from a big-endian machine)',
      source,
    );
  }
  if (magic !== CTF_MAGIC) return undefined;
  if (startsWithUuid(head)) {
    throw new ParseError(
      'a mirage-profile trace (Lwt thread tracing, CTF with magic 0xC1FC1FC1), not a memtrace trace; open it with mirage-trace-viewer',
      source,
    );
  }
  if (head.length >= 8) {
    const traceVersion = view.getUint16(4, true);
    const streamId = view.getUint16(6, true);
    const packetBits = view.getUint32(4, true);
    if ((traceVersion === 1 || traceVersion === 0x100) && streamId === 0 && packetBits < HEADER_BYTES_V1 * 8) {
      throw new ParseError(
        `an OCaml runtime eventlog (instrumented runtime, OCAML_EVENTLOG_ENABLED; caml_trace_version ${traceVersion}), not a memtrace trace: it has GC phases and counters but no sampled allocations`,
        source,
      );
    }
  }
  if (head.length < 30) throw new ParseError('CTF file (magic 0xC1FC1FC1) too short to be a memtrace trace', source);
  const packetBytes = view.getUint32(4, true) / 8;
  const flush = view.getUint32(24, true);
  const version = view.getUint16(28, true);
  if (version > MAX_FORMAT_VERSION && version < 100 && flush === 0 && packetBytes >= HEADER_BYTES_V1) {
    throw new ParseError(
      `memtrace format v${version} is newer than this reader (versions 1 to ${MAX_FORMAT_VERSION})`,
      source,
    );
  }
  if (version < 1 || version > MAX_FORMAT_VERSION || flush !== 0 || packetBytes < HEADER_BYTES_V1) {
    throw new ParseError(
      `a CTF file (magic 0xC1FC1FC1) that is not a memtrace trace (version field ${version}, flush field ${flush}, packet size ${packetBytes} bytes)`,
      source,
    );
  }
  return true;
}
