// /proc/PID/auxv: the ELF auxiliary vector as (type, value) pairs of native machine words,
// ending with AT_NULL (include/uapi/linux/auxvec.h). Used for AT_PAGESZ, the base page size.
import { Cursor } from '../../base/cursor.js';

export const AT_NULL = 0n;
export const AT_PAGESZ = 6n;

/** Reads one entry of a 64-bit auxv; undefined when absent or the data is not a whole vector. */
export function auxvValue(bytes: Uint8Array, type: bigint, littleEndian: boolean): bigint | undefined {
  if (bytes.length % 16 !== 0) return undefined;
  const c = new Cursor(bytes, littleEndian);
  while (c.remaining >= 16) {
    const t = c.u64();
    const v = c.u64();
    if (t === AT_NULL) return undefined;
    if (t === type) return v;
  }
  return undefined;
}
