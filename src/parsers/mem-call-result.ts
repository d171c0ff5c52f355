// What the raw return value of a traced memory call means: success, or which error.
import { errnoName } from '../base/errno-names.js';
import type { MemCall } from '../wire/events.js';

const MAX_ERRNO = 4095n;

/** A 64-bit value read as unsigned (0xffff…fff7) or signed (-9), as the signed long the kernel returned. */
export function toSigned64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

/**
 * The errno name of a failed call, or null when it succeeded.
 * mmap, mremap and munmap return -errno in [-4095, -1] on failure (IS_ERR_VALUE,
 * include/linux/err.h). brk never returns -errno: it returns the new break on success and the
 * unchanged old break on failure (mm/mmap.c, SYSCALL_DEFINE1(brk)); brk(0) is a query. A failed
 * brk is reported as ENOMEM, the errno glibc's brk() sets for it.
 */
export function memCallError(call: MemCall, requestedBrk: bigint, result: bigint): string | null {
  const r = toSigned64(result);
  if (call === 'brk') return requestedBrk !== 0n && r !== requestedBrk ? 'ENOMEM' : null;
  return r < 0n && r >= -MAX_ERRNO ? errnoName(Number(-r)) : null;
}
