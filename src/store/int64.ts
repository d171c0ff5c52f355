// 64-bit values between JavaScript and BIGINT columns. Both databases have only a signed 64-bit
// integer, so unsigned values (addresses and lengths, u64 in the kernel's syscall ABI) are stored as
// the signed number with the same bits and turned back on reading. See schema.ts for why this keeps
// every real address's value and order.
import type { Int64Out } from './schema.js';

const I64_MAX = (1n << 63n) - 1n;

/** u64 → the signed BIGINT with the same bits (unchanged, and not copied, below 2^63: the common case). */
export const u64ToDb = (v: bigint): bigint => (v >= 0n && v <= I64_MAX ? v : BigInt.asIntN(64, v));
/** A signed 64-bit value (results, -errno) → BIGINT (wrapped to 64 bits, as the kernel's long is). */
export const i64ToDb = (v: bigint): bigint => (v >= -I64_MAX - 1n && v <= I64_MAX ? v : BigInt.asIntN(64, v));
/** The signed BIGINT read back → u64. */
export const dbToU64 = (v: Int64Out): bigint => BigInt.asUintN(64, BigInt(v));
/** A signed 64-bit value (results, -errno) read back. */
export const dbToI64 = (v: Int64Out): bigint => BigInt(v);

/** A BIGINT that is known to fit a double exactly (counts, milliseconds, byte sums). */
export function dbToNumber(v: Int64Out): number {
  if (typeof v === 'number') return v;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`database value ${String(v)} exceeds 2^53`);
  return n;
}

export const dbToNumberOrNull = (v: Int64Out | null): number | null => (v === null ? null : dbToNumber(v));
