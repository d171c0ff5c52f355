// What each successful memory-mapping call does to a process's address space, applied to an
// AddressSpace. Failed calls change nothing. Lengths are rounded up to pages as the kernel does.
//   mmap   (mm/mmap.c do_mmap): [ret, ret+len) mapped; with MAP_FIXED it replaces what was there.
//   munmap (mm/vma.c do_vmi_munmap): [addr, addr+len) unmapped, partial ranges included.
//   mremap (mm/mremap.c): in place it grows or shrinks the tail; when it moves (MREMAP_MAYMOVE or
//          MREMAP_FIXED, which also unmaps the target first) the old range goes away unless
//          MREMAP_DONTUNMAP, or old_len is 0 (a duplicate of a shared mapping).
//   brk    (mm/mmap.c brk): the heap ends at PAGE_ALIGN(brk); it returns the new break on success
//          and the unchanged one on failure, never -errno.
import type { MemEvent } from '../../wire/events.js';
import { AddressSpace } from './address-space.js';

export const MAP_FIXED = 0x10;
export const MAP_HUGETLB = 0x40000;
const MAP_HUGE_SHIFT = 26;
export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

export class ProcessMemoryModel {
  space: AddressSpace;
  /** The page-aligned end of the heap, when known (seeded, or learnt from a brk result). */
  brkEnd: bigint | undefined;
  /** False once the model started from nothing (after exec, or a process seen without a seed). */
  complete: boolean;

  constructor(
    pageSize: bigint,
    readonly hugePageSize: bigint = 2n * 1024n * 1024n,
  ) {
    this.space = new AddressSpace(pageSize);
    this.brkEnd = undefined;
    this.complete = true;
  }

  clone(): ProcessMemoryModel {
    const c = new ProcessMemoryModel(this.space.pageSize, this.hugePageSize);
    c.space = this.space.clone();
    c.brkEnd = this.brkEnd;
    c.complete = this.complete;
    return c;
  }

  /** exec: the old address space is gone; the new one is built by the kernel without syscalls. */
  reset(): void {
    this.space.clear();
    this.brkEnd = undefined;
    this.complete = false;
  }

  seed(ranges: Iterable<[bigint, bigint]>, brk: bigint | undefined): void {
    this.space.clear();
    for (const [s, e] of ranges) this.space.add(s, e);
    this.brkEnd = brk === undefined ? undefined : this.space.pageUp(brk);
    this.complete = true;
  }

  private mmapLength(length: bigint, flags: number): bigint {
    if ((flags & MAP_HUGETLB) !== 0) {
      const shift = (flags >>> MAP_HUGE_SHIFT) & 0x3f;
      const huge = shift === 0 ? this.hugePageSize : 1n << BigInt(shift);
      const r = length % huge;
      return r === 0n ? length : length + huge - r;
    }
    return this.space.pageUp(length);
  }

  apply(e: MemEvent): void {
    const sp = this.space;
    switch (e.call) {
      case 'mmap':
        if (e.error !== null) return;
        sp.add(e.result, e.result + this.mmapLength(e.lengthBytes, e.flags ?? 0));
        return;
      case 'munmap':
        if (e.error !== null) return;
        sp.remove(e.addr, e.addr + sp.pageUp(e.lengthBytes));
        return;
      case 'mremap': {
        if (e.error !== null) return;
        const oldLen = sp.pageUp(e.lengthBytes);
        const newLen = sp.pageUp(e.newLengthBytes ?? 0n);
        const flags = e.flags ?? 0;
        if (e.result === e.addr && (flags & MREMAP_DONTUNMAP) === 0) {
          // In place: the old range was one mapping (else EFAULT), and [addr, addr+new_len) is now mapped.
          if (newLen < oldLen) sp.remove(e.addr + newLen, e.addr + oldLen);
          sp.add(e.addr, e.addr + newLen);
          return;
        }
        if (oldLen !== 0n && (flags & MREMAP_DONTUNMAP) === 0) sp.remove(e.addr, e.addr + oldLen);
        sp.add(e.result, e.result + newLen);
        return;
      }
      case 'brk': {
        const newEnd = sp.pageUp(e.result);
        if (this.brkEnd !== undefined && e.error === null) {
          if (newEnd > this.brkEnd) sp.add(this.brkEnd, newEnd);
          else if (newEnd < this.brkEnd) sp.remove(newEnd, this.brkEnd);
        }
        // A failed brk and a query both return the current break: either way it is now known.
        this.brkEnd = newEnd;
        return;
      }
    }
  }
}
