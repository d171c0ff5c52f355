// /proc/kpageflags and /proc/kpagecount: one little-endian u64 per page frame, at file offset
// pfn * 8 (Documentation/admin-guide/mm/pagemap.rst; fs/proc/page.c). Reads must be 8-byte aligned.
//
// kpageflags bits (include/uapi/linux/kernel-page-flags.h, the stable ABI, bits 0-26) and the
// kernel-internal ones it also exports (include/linux/kernel-page-flags.h, bits 32-41, "may change
// between kernels"). Every public bit is in the low 32-bit half and every internal bit used here in
// the high half, so a frame is decoded from two u32 reads: JavaScript's bitwise operators work on
// 32 bits, and a BigInt per frame (6.3 million of them for 24 GiB) would allocate and cost several
// times more than the whole classification (see bench/pages/).
//
// kpagecount is the number of times the frame is mapped into page tables (page_mapcount /
// folio mapcount), not its reference count: a page the kernel allocated for itself reads 0.
import { PAGE_KIND_KEYS, type PageKindKey } from '../../wire/pages.js';

/** Bits of the low half (bit N of the u64 is bit N here). */
export const KPF = {
  LOCKED: 1 << 0,
  ERROR: 1 << 1,
  REFERENCED: 1 << 2,
  UPTODATE: 1 << 3,
  DIRTY: 1 << 4,
  LRU: 1 << 5,
  ACTIVE: 1 << 6,
  SLAB: 1 << 7,
  WRITEBACK: 1 << 8,
  RECLAIM: 1 << 9,
  BUDDY: 1 << 10,
  MMAP: 1 << 11,
  ANON: 1 << 12,
  SWAPCACHE: 1 << 13,
  SWAPBACKED: 1 << 14,
  COMPOUND_HEAD: 1 << 15,
  COMPOUND_TAIL: 1 << 16,
  HUGE: 1 << 17,
  UNEVICTABLE: 1 << 18,
  HWPOISON: 1 << 19,
  NOPAGE: 1 << 20,
  KSM: 1 << 21,
  THP: 1 << 22,
  OFFLINE: 1 << 23,
  ZERO_PAGE: 1 << 24,
  IDLE: 1 << 25,
  PGTABLE: 1 << 26,
} as const;

/** Bits of the high half (bit 32 + N of the u64 is bit N here); kernel-internal, exported since 2.6.32. */
export const KPF_HI = {
  RESERVED: 1 << 0, // 32
  MLOCKED: 1 << 1, // 33
  MAPPEDTODISK: 1 << 2, // 34
  PRIVATE: 1 << 3, // 35
  PRIVATE_2: 1 << 4, // 36
  OWNER_PRIVATE: 1 << 5, // 37
  ARCH: 1 << 6, // 38
  UNCACHED: 1 << 7, // 39
  SOFTDIRTY: 1 << 8, // 40
  ARCH_2: 1 << 9, // 41
} as const;

/** Names of the flag bits, by bit number of the u64 (for the single-frame view). */
export const FLAG_NAMES: ReadonlyMap<number, string> = new Map([
  ...Object.entries(KPF).map(([name, mask]) => [Math.log2(mask), name] as [number, string]),
  ...Object.entries(KPF_HI).map(([name, mask]) => [32 + Math.log2(mask), name] as [number, string]),
]);

/** The names of the bits set in a frame's flags (two halves). */
export function flagNames(lo: number, hi: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    const set = bit < 32 ? (lo >>> bit) & 1 : (hi >>> (bit - 32)) & 1;
    if (set) out.push(FLAG_NAMES.get(bit) ?? `BIT${bit}`);
  }
  return out;
}

/**
 * The kinds a frame is classified into, in order of precedence: a frame is counted once, as the
 * first kind whose test it passes (classifyFrame). Why this order:
 * - hole/offline/poisoned first: nothing else about such a frame is meaningful.
 * - free (BUDDY): since Linux 4.6 (commit 832fc1de01ae) every page of a free buddy block reads
 *   BUDDY, not only the first, so free frames are counted exactly (measured here: the BUDDY count
 *   matches the zones' free pages).
 * - hugetlb (HUGE) before the rest: a hugetlb folio is neither LRU nor slab.
 * - slab, page tables and the zero page are kernel memory with a flag of their own.
 * - transparent huge pages: anonymous frames in a large folio (THP and ANON), PMD-sized or
 *   multi-size (mTHP). fs/proc/page.c sets KPF_THP on every page of any large folio on the LRU, so
 *   large folios of the page cache (ext4, xfs, tmpfs with huge=) read THP too: those stay in their
 *   file or shmem kind, and the frame walk counts them separately as "in large folios"
 *   (measured on 6.18: 1.8 GiB of file cache read THP while AnonHugePages was 0).
 * - anonymous (ANON, including KSM).
 * - shared memory: SWAPBACKED without ANON (tmpfs, SysV shm, memfd, shared anonymous mappings,
 *   which the kernel backs with shmem and does not mark ANON).
 * - file cache: under writeback, then dirty, then mapped (MMAP or a map count), then unmapped
 *   (LRU or UPTODATE without the above).
 * - reserved (the kernel image, memblock allocations never given to the buddy allocator).
 * - kernel, other: frames with no flag that tells their use (vmalloc, kernel stacks, driver and
 *   DMA buffers, per-CPU free lists, pages of a zone not yet initialised).
 *
 * The list itself is the wire format's (src/wire/pages.ts): a kind's index here is its position in
 * the JSON's kinds, so there is one list.
 */
export const FRAME_KINDS = PAGE_KIND_KEYS;
export type FrameKind = PageKindKey;

export const KIND_COUNT = FRAME_KINDS.length;
export const KIND_INDEX: Readonly<Record<FrameKind, number>> = Object.fromEntries(
  FRAME_KINDS.map((k, i) => [k, i]),
) as Record<FrameKind, number>;

export const KIND_LABELS: Readonly<Record<FrameKind, string>> = {
  hole: 'hole (no RAM, or no struct page)',
  offline: 'offline or hardware-poisoned',
  free: 'free (buddy allocator)',
  hugetlb: 'hugetlb pool',
  slab: 'slab',
  page_tables: 'page tables',
  zero_page: 'zero page',
  thp: 'anonymous, transparent huge pages',
  shmem: 'shared memory (tmpfs, shm, memfd)',
  anon: 'anonymous',
  file_writeback: 'file cache, under writeback',
  file_dirty: 'file cache, dirty',
  file_mapped: 'file cache, mapped',
  file_unmapped: 'file cache, not mapped',
  reserved: 'kernel reserved (never freed)',
  kernel_other: 'kernel, other (no telling flag)',
};

const I = KIND_INDEX;
const FILE_SEEN = KPF.LRU | KPF.UPTODATE | KPF.MMAP;

/**
 * The kind index of one frame from its flags (low and high u32 halves) and its map count.
 * See FRAME_KINDS for the order. Pure and allocation-free: it runs once per frame.
 */
export function classifyFrame(lo: number, hi: number, mapCount: number): number {
  if (lo & KPF.NOPAGE) return I.hole;
  if (lo & (KPF.OFFLINE | KPF.HWPOISON)) return I.offline;
  if (lo & KPF.BUDDY) return I.free;
  if (lo & KPF.HUGE) return I.hugetlb;
  if (lo & KPF.SLAB) return I.slab;
  if (lo & KPF.PGTABLE) return I.page_tables;
  if (lo & KPF.ZERO_PAGE) return I.zero_page;
  if (lo & KPF.ANON) return lo & KPF.THP ? I.thp : I.anon;
  if (lo & KPF.SWAPBACKED) return I.shmem;
  if (lo & KPF.WRITEBACK) return I.file_writeback;
  if (lo & KPF.DIRTY && lo & FILE_SEEN) return I.file_dirty;
  if (lo & KPF.MMAP || (mapCount > 0 && lo & FILE_SEEN)) return I.file_mapped;
  if (lo & FILE_SEEN) return I.file_unmapped;
  if (hi & KPF_HI.RESERVED) return I.reserved;
  return I.kernel_other;
}

/** Encodes a frame's flags from bit names: for hand-made test data. */
export function encodeFlags(names: readonly (keyof typeof KPF | keyof typeof KPF_HI)[]): bigint {
  let v = 0n;
  for (const n of names) {
    if (n in KPF) v |= BigInt(KPF[n as keyof typeof KPF] >>> 0);
    else v |= BigInt(KPF_HI[n as keyof typeof KPF_HI] >>> 0) << 32n;
  }
  return v;
}

/** Bytes per entry of kpageflags, kpagecount and kpagecgroup. */
export const FRAME_ENTRY_BYTES = 8;
