// The header every memtrace packet starts with (src/trace.ml put_ctf_header/get_ctf_header).
// Little-endian; there is no separate CTF metadata stream: memtrace's layout is fixed.
//
//   off  field              type
//   0    magic              u32  0xC1FC1FC1
//   4    packet_size        u32  in bits, header included
//   8    timestamp_begin    u64  µs since the epoch
//   16   timestamp_end      u64
//   24   flush_duration     u32  always written as 0
//   28   version            u16  1, 2 or 3
//   30   pid                u64
//   38   domain             u16  only from version 3
//   +0   cache_verify_ix    u16  0xffff = no check
//   +2   cache_verify_pred  u16
//   +4   cache_verify_val   u64
//   +12  alloc_id_begin     u64
//   +20  alloc_id_end       u64
import { CorruptDataError } from './corrupt.js';
import type { Cursor } from '../../base/cursor.js';

export const CTF_MAGIC = 0xc1fc1fc1;
export const MAX_FORMAT_VERSION = 3;
export const HEADER_BYTES_V1 = 66;
export const HEADER_BYTES_V3 = 68;
/** Enough to read packet_size and version before the whole header. */
export const HEADER_PREFIX_BYTES = 30;
/**
 * memtrace writes packets of at most 32 KiB (max_packet_size). Larger ones are accepted up to
 * this bound (a hand-made or foreign writer); beyond it the size field is treated as corrupt,
 * which keeps the reader's memory bounded whatever the input says.
 */
export const MAX_PACKET_BYTES = 16 * 1024 * 1024;

export interface PacketHeader {
  packetBytes: number;
  contentBytes: number;
  headerBytes: number;
  timeBeginUs: number;
  timeEndUs: number;
  flushDuration: number;
  version: number;
  pid: bigint;
  domain: number;
  verifyIx: number;
  verifyPred: number;
  verifyLow: number;
  verifyHigh: number;
  allocIdBegin: number;
  allocIdEnd: number;
}

export function headerBytesFor(version: number): number {
  return version >= 3 ? HEADER_BYTES_V3 : HEADER_BYTES_V1;
}

/** Reads packet_size (bytes) and version from the first 30 bytes at the cursor, without moving it. */
export function peekSizeAndVersion(c: Cursor): { magic: number; packetBytes: number; version: number } {
  const at = c.offset;
  const magic = c.u32();
  const bits = c.u32();
  c.seek(at + 28);
  const version = c.u16();
  c.seek(at);
  return { magic, packetBytes: Math.floor(bits / 8), version };
}

function u64Number(c: Cursor, what: string): number {
  const v = c.u64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptDataError(`${what} ${v} out of range`);
  return Number(v);
}

/** Parses a whole packet header; throws CorruptDataError on values no memtrace writer produces. */
export function readPacketHeader(c: Cursor): PacketHeader {
  const magic = c.u32();
  if (magic !== CTF_MAGIC) throw new CorruptDataError(`bad packet magic 0x${magic.toString(16)}`);
  const bits = c.u32();
  const timeBeginUs = u64Number(c, 'timestamp_begin');
  const timeEndUs = u64Number(c, 'timestamp_end');
  const flushDuration = c.u32();
  const version = c.u16();
  if (version < 1 || version > MAX_FORMAT_VERSION)
    throw new CorruptDataError(`packet format version ${version} (expected 1 to ${MAX_FORMAT_VERSION})`);
  const pid = c.u64();
  const domain = version >= 3 ? c.u16() : 0;
  const verifyIx = c.u16();
  const verifyPred = c.u16();
  const verifyLow = c.u32();
  const verifyHigh = c.u32();
  const allocIdBegin = u64Number(c, 'alloc_id_begin');
  const allocIdEnd = u64Number(c, 'alloc_id_end');
  const headerBytes = headerBytesFor(version);
  const packetBytes = Math.floor(bits / 8);
  if (packetBytes < headerBytes || packetBytes > MAX_PACKET_BYTES)
    throw new CorruptDataError(`packet size ${packetBytes} bytes out of bounds`);
  if (timeBeginUs > timeEndUs) throw new CorruptDataError('packet timestamps not monotone (begin > end)');
  if (allocIdBegin > allocIdEnd) throw new CorruptDataError('packet allocation ids not monotone (begin > end)');
  return {
    packetBytes,
    contentBytes: packetBytes - headerBytes,
    headerBytes,
    timeBeginUs,
    timeEndUs,
    flushDuration,
    version,
    pid,
    domain,
    verifyIx,
    verifyPred,
    verifyLow,
    verifyHigh,
    allocIdBegin,
    allocIdEnd,
  };
}
