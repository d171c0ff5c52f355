// memtrace's variable-length integer (src/buf.ml get_vint): a byte below 253 is the value;
// 253 = u16 follows, 254 = 32 bits follow, 255 = 64 bits follow. The TSDL says unsigned,
// but memtrace writes and reads 254/255 as *signed* (that is how a negative collect delta
// is encoded), so they are read signed here too.
import { CorruptDataError } from './corrupt.js';
import type { Cursor } from '../../base/cursor.js';

export function readVint(c: Cursor): number {
  const tag = c.u8();
  if (tag < 253) return tag;
  if (tag === 253) return c.u16();
  if (tag === 254) return c.i32();
  const v = c.i64();
  // Beyond 2^53 the value cannot be an id delta or a length of anything real.
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
    throw new CorruptDataError(`vint ${v} out of range`);
  return Number(v);
}
