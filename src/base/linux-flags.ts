// Flag values of the Linux user-space ABI that memlens decides on or names: the one place each is
// written down. They are the same on every architecture memlens runs on (x86-64, arm64), which
// use the generic uapi headers; a few others (alpha, mips, parisc, powerpc, sparc, xtensa) have
// their own asm/mman.h with other values and are not read here.

// mmap(2) and mprotect(2) protections, include/uapi/asm-generic/mman-common.h.
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
/** PROT_READ | PROT_WRITE | PROT_EXEC: none of them is PROT_NONE (0). PROT_SEM, PROT_GROWSDOWN/UP are not access. */
export const PROT_ACCESS = PROT_READ | PROT_WRITE | PROT_EXEC;

// mmap(2) flags. The type of mapping, include/uapi/linux/mman.h:
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
// include/uapi/asm-generic/mman-common.h:
/** The mask of the type of mapping (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE). */
export const MAP_TYPE = 0x0f;
/** The address is not a hint: the mapping goes there, replacing whatever was mapped (do_mmap, mm/mmap.c). */
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
// include/uapi/asm-generic/mman.h:
export const MAP_GROWSDOWN = 0x100;
export const MAP_DENYWRITE = 0x800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
// include/uapi/asm-generic/mman-common.h again:
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
/** A mapping of huge pages: its length rounds up to the huge page size, not the base page. */
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
export const MAP_FIXED_NOREPLACE = 0x100000;
/**
 * With MAP_HUGETLB, bits 26–31 hold log2 of the huge page size, 0 for the default size:
 * include/uapi/linux/mman.h MAP_HUGE_SHIFT and MAP_HUGE_MASK, which are
 * include/uapi/asm-generic/hugetlb_encode.h HUGETLB_FLAG_ENCODE_SHIFT and _MASK.
 */
export const MAP_HUGE_SHIFT = 26;
export const MAP_HUGE_MASK = 0x3f;

/** log2 of the huge page size that mmap flags with MAP_HUGETLB ask for; 0 asks for the default size. */
export function mapHugeLog2(flags: number): number {
  return (flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
}

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
