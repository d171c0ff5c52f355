// What each successful memory-mapping call does to a process's address space, applied to an
// AddressSpace. Failed calls change nothing. Lengths are rounded up to pages as the kernel does.
//   mmap   (mm/mmap.c do_mmap): [ret, ret+len) mapped; with MAP_FIXED it replaces what was there.
//   munmap (mm/vma.c do_vmi_munmap): [addr, addr+len) unmapped, partial ranges included.
//   mremap (mm/mremap.c): in place it grows or shrinks the tail; when it moves (MREMAP_MAYMOVE or
//          MREMAP_FIXED, which also unmaps the target first) the old range goes away unless
//          MREMAP_DONTUNMAP, or old_len is 0 (a duplicate of a shared mapping).
//   brk    (mm/mmap.c brk): the heap ends at PAGE_ALIGN(brk); it returns the new break on success
//          and the unchanged one on failure, never -errno.
//   mprotect (mm/mprotect.c do_mprotect_pkey): changes the protection of [start, start+len), which
//          must be mapped throughout; it maps and unmaps nothing.
//
// Besides the mapped set, the model keeps which mapped bytes are reserved: mapped with no access
// at all (PROT_NONE, "---p" in /proc/PID/maps). Such a range cannot be touched, so it can never be
// backed by memory or swap (a fault on it is SIGSEGV, mm/memory.c via vma access checks); it only
// holds addresses. V8 (Chromium, Node) and other allocators reserve tens of GiB this way and make
// parts accessible later with mprotect. Everything mapped that is not reserved is requested:
//   mmap with PROT_NONE → reserved, with any of PROT_READ/WRITE/EXEC → requested;
//   mprotect to PROT_NONE moves the mapped bytes of its range to reserved, to anything else back
//          to requested;
//   munmap, brk, mremap remove or move bytes of either kind; mremap works on one VMA (mm/mremap.c
//          vma_to_resize: the old range must lie within one), so the part it grows takes the
//          protection of the old range's first page.
import type { MemEvent } from '../../wire/events.js';
import { MAP_HUGETLB, mapHugeLog2, MREMAP_DONTUNMAP, PROT_ACCESS } from '../../base/linux-flags.js';
import { AddressSpace } from './address-space.js';

/** Whether a protection allows any access (anything but PROT_NONE; PROT_GROWSDOWN/UP and PROT_SEM are not access). */
export const accessible = (prot: number): boolean => (prot & PROT_ACCESS) !== 0;

export class ProcessMemoryModel {
  /** Everything mapped. */
  space: AddressSpace;
  /** The mapped bytes with PROT_NONE: a subset of `space`. */
  reserved: AddressSpace;
  /** The page-aligned end of the heap, when known (seeded, or learnt from a brk result). */
  brkEnd: bigint | undefined;
  /** False once the model started from nothing (after exec, or a process seen without a seed). */
  complete: boolean;

  constructor(
    pageSize: bigint,
    readonly hugePageSize: bigint = 2n * 1024n * 1024n,
  ) {
    this.space = new AddressSpace(pageSize);
    this.reserved = new AddressSpace(pageSize);
    this.brkEnd = undefined;
    this.complete = true;
  }

  clone(): ProcessMemoryModel {
    const c = new ProcessMemoryModel(this.space.pageSize, this.hugePageSize);
    c.space = this.space.clone();
    c.reserved = this.reserved.clone();
    c.brkEnd = this.brkEnd;
    c.complete = this.complete;
    return c;
  }

  /** exec: the old address space is gone; the new one is built by the kernel without syscalls. */
  reset(): void {
    this.space.clear();
    this.reserved.clear();
    this.brkEnd = undefined;
    this.complete = false;
  }

  /** Bytes mapped with PROT_NONE. */
  get reservedBytes(): bigint {
    return this.reserved.mappedBytes;
  }

  /** Bytes mapped with some access: mapped − reserved. */
  get requestedBytes(): bigint {
    return this.space.mappedBytes - this.reserved.mappedBytes;
  }

  /** `ranges`: every mapping; `reserved`: those of them with PROT_NONE. */
  seed(ranges: Iterable<[bigint, bigint]>, brk: bigint | undefined, reserved: Iterable<[bigint, bigint]> = []): void {
    this.space.clear();
    this.reserved.clear();
    for (const [s, e] of ranges) this.space.add(s, e);
    for (const [s, e] of reserved) for (const [ps, pe] of this.space.within(s, e)) this.reserved.add(ps, pe);
    this.brkEnd = brk === undefined ? undefined : this.space.pageUp(brk);
    this.complete = true;
  }

  private mmapLength(length: bigint, flags: number): bigint {
    if ((flags & MAP_HUGETLB) !== 0) {
      const shift = mapHugeLog2(flags);
      const huge = shift === 0 ? this.hugePageSize : 1n << BigInt(shift);
      const r = length % huge;
      return r === 0n ? length : length + huge - r;
    }
    return this.space.pageUp(length);
  }

  /** Maps [start, end) with the given access, replacing whatever was there. */
  private map(start: bigint, end: bigint, reserved: boolean): void {
    this.space.add(start, end);
    if (reserved) this.reserved.add(start, end);
    else this.reserved.remove(start, end);
  }

  private unmap(start: bigint, end: bigint): void {
    this.space.remove(start, end);
    this.reserved.remove(start, end);
  }

  apply(e: MemEvent): void {
    const sp = this.space;
    const rs = this.reserved;
    switch (e.call) {
      case 'mmap':
        if (e.error !== null) return;
        this.map(e.result, e.result + this.mmapLength(e.lengthBytes, e.flags ?? 0), !accessible(e.prot ?? PROT_ACCESS));
        return;
      case 'munmap':
        if (e.error !== null) return;
        this.unmap(e.addr, e.addr + sp.pageUp(e.lengthBytes));
        return;
      case 'mprotect': {
        // A failed mprotect is taken as changing nothing. (With ENOMEM for a hole in the range the
        // kernel has already changed the VMAs before the hole; the model cannot tell how far it got.)
        if (e.error !== null) return;
        const start = e.addr;
        const end = start + sp.pageUp(e.lengthBytes);
        // Success means all of [start, end) is mapped (else ENOMEM): a fact even a model that
        // started after exec (which maps the program without system calls) can learn.
        sp.add(start, end);
        if (accessible(e.prot ?? PROT_ACCESS)) rs.remove(start, end);
        else rs.add(start, end);
        return;
      }
      case 'mremap': {
        if (e.error !== null) return;
        const oldLen = sp.pageUp(e.lengthBytes);
        const newLen = sp.pageUp(e.newLengthBytes ?? 0n);
        const flags = e.flags ?? 0;
        // One VMA, one protection: the part that grows gets that of the old range's first page.
        const wasReserved = rs.contains(e.addr);
        if (e.result === e.addr && (flags & MREMAP_DONTUNMAP) === 0) {
          // In place: the old range was one mapping (else EFAULT), and [addr, addr+new_len) is now mapped.
          if (newLen < oldLen) this.unmap(e.addr + newLen, e.addr + oldLen);
          else if (newLen > oldLen) this.map(e.addr + oldLen, e.addr + newLen, wasReserved);
          sp.add(e.addr, e.addr + newLen);
          return;
        }
        // Moved: the reserved parts of what moves keep their place relative to the start.
        const kept = oldLen < newLen ? oldLen : newLen;
        const moved = oldLen === 0n ? [] : rs.within(e.addr, e.addr + kept);
        if (oldLen !== 0n && (flags & MREMAP_DONTUNMAP) === 0) this.unmap(e.addr, e.addr + oldLen);
        if (oldLen === 0n) {
          // A duplicate of a shared mapping: all of it with the original's protection.
          this.map(e.result, e.result + newLen, wasReserved);
          return;
        }
        this.map(e.result, e.result + newLen, false);
        for (const [s, t] of moved) rs.add(s - e.addr + e.result, t - e.addr + e.result);
        if (newLen > oldLen && wasReserved) rs.add(e.result + oldLen, e.result + newLen);
        return;
      }
      case 'brk': {
        const newEnd = sp.pageUp(e.result);
        if (this.brkEnd !== undefined && e.error === null) {
          // The heap is always readable and writable (mm/mmap.c do_brk_flags: VM_DATA_DEFAULT_FLAGS).
          if (newEnd > this.brkEnd) this.map(this.brkEnd, newEnd, false);
          else if (newEnd < this.brkEnd) this.unmap(newEnd, this.brkEnd);
        }
        // A failed brk and a query both return the current break: either way it is now known.
        this.brkEnd = newEnd;
        return;
      }
    }
  }
}
