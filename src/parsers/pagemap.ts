// /proc/PID/pagemap: one little-endian u64 per virtual page, at file offset (address / pageSize) * 8.
// Bit layout from Documentation/admin-guide/mm/pagemap.rst (and fs/proc/task_mmu.c, PM_* macros):
//   63 present, 62 swapped, 61 file page or shared anonymous, 58 guard region (6.15+),
//   57 uffd write-protected (5.13+), 56 exclusively mapped (4.2+), 55 soft-dirty,
//   0-54 page frame number when present (zero without CAP_SYS_ADMIN since 4.2),
//   or swap type (0-4) and offset (5-54) when swapped.
// The scanner reads the high 32-bit half for the flags: bit 55 of the u64 is bit 23 of that half.
import { Cursor } from '../base/cursor.js';
import { address, type Address } from '../base/units.js';

export const PAGEMAP_ENTRY_BYTES = 8;

const HI_PRESENT = 1 << 31; // bit 63
const HI_SWAPPED = 1 << 30; // bit 62
const HI_FILE_OR_SHARED = 1 << 29; // bit 61
const HI_GUARD = 1 << 26; // bit 58
const HI_UFFD_WP = 1 << 25; // bit 57
const HI_EXCLUSIVE = 1 << 24; // bit 56
const HI_SOFT_DIRTY = 1 << 23; // bit 55
const PFN_MASK = (1n << 55n) - 1n;

export interface PagemapEntry {
  present: boolean;
  swapped: boolean;
  fileOrSharedAnon: boolean;
  exclusive: boolean;
  softDirty: boolean;
  uffdWriteProtected: boolean;
  guard: boolean;
  /** Page frame number when present (0 when hidden from unprivileged readers); undefined otherwise. */
  pfn: bigint | undefined;
}

/** Decodes one entry read from the cursor (little-endian, as the kernel writes on x86 and arm). */
export function readPagemapEntry(c: Cursor): PagemapEntry {
  const raw = c.u64();
  const hi = Number(raw >> 32n);
  const present = (hi & HI_PRESENT) !== 0;
  return {
    present,
    swapped: (hi & HI_SWAPPED) !== 0,
    fileOrSharedAnon: (hi & HI_FILE_OR_SHARED) !== 0,
    exclusive: (hi & HI_EXCLUSIVE) !== 0,
    softDirty: (hi & HI_SOFT_DIRTY) !== 0,
    uffdWriteProtected: (hi & HI_UFFD_WP) !== 0,
    guard: (hi & HI_GUARD) !== 0,
    pfn: present ? raw & PFN_MASK : undefined,
  };
}

/** Encodes an entry: for hand-made test data and fixtures. */
export function encodePagemapEntry(e: Partial<PagemapEntry>): bigint {
  let v = e.pfn ?? 0n;
  if (e.present) v |= 1n << 63n;
  if (e.swapped) v |= 1n << 62n;
  if (e.fileOrSharedAnon) v |= 1n << 61n;
  if (e.guard) v |= 1n << 58n;
  if (e.uffdWriteProtected) v |= 1n << 57n;
  if (e.exclusive) v |= 1n << 56n;
  if (e.softDirty) v |= 1n << 55n;
  return v;
}

/** A run of pages [start, end), end exclusive. */
export interface PageRange {
  start: Address;
  end: Address;
  pages: number;
}

export interface PagemapTally {
  /** Entries seen. */
  pages: number;
  present: number;
  swapped: number;
  /** Soft-dirty and present or swapped: pages written since the last clear (or since mapped). */
  softDirty: number;
  /**
   * Soft-dirty but neither present nor swapped: only possible when the whole area carries
   * VM_SOFTDIRTY (new, grown or merged since the last clear; fs/proc/task_mmu.c
   * pte_to_pagemap_entry and pagemap_pte_hole add PM_SOFT_DIRTY for the whole VMA).
   */
  softDirtyHoles: number;
}

/**
 * Streams pagemap bytes of one contiguous address interval and compacts the soft-dirty pages
 * that are present or swapped into ranges. Chunks may split entries anywhere: a partial entry
 * is carried over to the next chunk.
 */
export class SoftDirtyScanner {
  readonly tally: PagemapTally = { pages: 0, present: 0, swapped: 0, softDirty: 0, softDirtyHoles: 0 };
  private readonly ranges: PageRange[] = [];
  private readonly pageSize: bigint;
  private readonly firstPage: bigint;
  /** The same as numbers, when every address of the interval is below 2^53 (always on 4-level paging). */
  private readonly pageSizeNumber: number;
  private readonly firstPageNumber: number | undefined;
  /** Index (from firstPage) of the next entry; numbers stay exact far beyond any real interval. */
  private index = 0;
  /** Index where the open range began, or -1. */
  private runStart = -1;
  private readonly carry = new Uint8Array(PAGEMAP_ENTRY_BYTES);
  private carried = 0;

  constructor(pageSizeBytes: number, firstAddress: bigint) {
    this.pageSize = BigInt(pageSizeBytes);
    this.firstPage = firstAddress / this.pageSize;
    this.pageSizeNumber = pageSizeBytes;
    this.firstPageNumber = firstAddress < 1n << 52n ? Number(this.firstPage) : undefined;
  }

  feed(chunk: Uint8Array): void {
    let from = 0;
    if (this.carried > 0) {
      const take = Math.min(PAGEMAP_ENTRY_BYTES - this.carried, chunk.length);
      this.carry.set(chunk.subarray(0, take), this.carried);
      this.carried += take;
      from = take;
      if (this.carried < PAGEMAP_ENTRY_BYTES) return;
      this.carried = 0;
      this.entries(this.carry);
    }
    const whole = from + Math.floor((chunk.length - from) / PAGEMAP_ENTRY_BYTES) * PAGEMAP_ENTRY_BYTES;
    if (whole > from) this.entries(chunk.subarray(from, whole));
    if (whole < chunk.length) {
      this.carry.set(chunk.subarray(whole));
      this.carried = chunk.length - whole;
    }
  }

  /** Treats the rest of the interval as absent pages (a short read past the end of the address space). */
  skipPages(n: number): void {
    this.closeRun();
    this.index += n;
    this.tally.pages += n;
  }

  finish(): { ranges: PageRange[]; tally: PagemapTally } {
    this.closeRun();
    return { ranges: this.ranges, tally: this.tally };
  }

  private entries(bytes: Uint8Array): void {
    // The cursor's view, read at explicit offsets: one bounds check for the whole chunk instead
    // of one per entry (the loop runs once per page of the process).
    const c = new Cursor(bytes, true);
    const n = bytes.length / PAGEMAP_ENTRY_BYTES;
    c.skip(n * PAGEMAP_ENTRY_BYTES);
    const view = c.view;
    const t = this.tally;
    let index = this.index;
    let runStart = this.runStart;
    for (let i = 0, at = 4; i < n; i++, index++, at += PAGEMAP_ENTRY_BYTES) {
      // The low half holds only PFN or swap bits; the flags are in the high half.
      const hi = view.getUint32(at, true);
      const present = (hi & HI_PRESENT) !== 0;
      const swapped = (hi & HI_SWAPPED) !== 0;
      if (present) t.present++;
      if (swapped) t.swapped++;
      const dirty = (hi & HI_SOFT_DIRTY) !== 0;
      if (dirty && (present || swapped)) {
        t.softDirty++;
        if (runStart < 0) runStart = index;
      } else {
        if (dirty) t.softDirtyHoles++;
        if (runStart >= 0) {
          this.pushRange(runStart, index);
          runStart = -1;
        }
      }
    }
    t.pages += n;
    this.index = index;
    this.runStart = runStart;
  }

  private closeRun(): void {
    if (this.runStart >= 0) this.pushRange(this.runStart, this.index);
    this.runStart = -1;
  }

  private pushRange(from: number, to: number): void {
    if (this.firstPageNumber !== undefined) {
      this.ranges.push({
        start: address(BigInt((this.firstPageNumber + from) * this.pageSizeNumber)),
        end: address(BigInt((this.firstPageNumber + to) * this.pageSizeNumber)),
        pages: to - from,
      });
      return;
    }
    this.ranges.push({
      start: address((this.firstPage + BigInt(from)) * this.pageSize),
      end: address((this.firstPage + BigInt(to)) * this.pageSize),
      pages: to - from,
    });
  }
}
