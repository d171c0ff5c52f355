// Flag values of the Linux user-space ABI that the trace path decides on. They are the same on
// every architecture memlens runs on (x86-64, arm64): the generic uapi headers define them.

/** mremap(2) flags, include/uapi/linux/mman.h. */
export const MREMAP_MAYMOVE = 1;
/** Only with this flag is mremap's fifth argument, new_address, an argument at all. */
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

/** clone(2) flag, include/uapi/linux/sched.h: the new task joins its creator's thread group. */
export const CLONE_THREAD = 0x10000n;

/** Whether a clone with these flags made a thread of the creator's process rather than a new process. */
export function isThreadClone(cloneFlags: bigint): boolean {
  return (cloneFlags & CLONE_THREAD) !== 0n;
}
