// MemAvailable for kernels that do not print it (before 3.14, commit 34e431b0ae39 "/proc/meminfo:
// provide estimated available memory"), computed the way the kernel's si_mem_available() does
// today (mm/show_mem.c; mm/page_alloc.c before 5.18), in pages, with its integer divisions:
//
//   wmark_low   = Σ low_wmark_pages(zone) over every zone
//   available   = NR_FREE_PAGES − totalreserve_pages
//   pagecache   = Active(file) + Inactive(file);   available += pagecache − min(pagecache / 2, wmark_low)
//   reclaimable = SReclaimable + NR_KERNEL_MISC_RECLAIMABLE;   available += reclaimable − min(reclaimable / 2, wmark_low)
//   available   = max(available, 0)
//
// NR_KERNEL_MISC_RECLAIMABLE is printed only inside KReclaimable (= SReclaimable + misc, 4.20+);
// before 4.20 there is no such counter, so SReclaimable alone is the kernel's own figure.
// totalreserve_pages is not printed; calculate_totalreserve_pages() (mm/page_alloc.c) makes it
// Σ over zones of min(max(lowmem_reserve[]) + high_wmark_pages(zone), managed pages), and
// /proc/zoneinfo prints each of those ("protection: (…)", "high", "managed").
// The first MemAvailable (3.14) subtracted Σ low watermarks instead of totalreserve_pages; the
// kernel switched to totalreserve_pages in commit 84ad5802a33a. memlens estimates with the
// current definition, so that the figure means the same on every kernel.
import type { Bytes } from '../base/units.js';
import { meminfoBytes, type Meminfo } from '../parsers/proc/meminfo.js';
import type { Zone } from '../parsers/proc/zoneinfo.js';

export type AvailableEstimate =
  | {
      ok: true;
      bytes: Bytes;
      /** The counter standing for reclaimable kernel memory: KReclaimable, or SReclaimable before 4.20. */
      reclaimableCounter: 'KReclaimable' | 'SReclaimable';
      /** The intermediate figures, in pages, so that a reader can redo the sum. */
      pages: {
        free: number;
        totalReserve: number;
        wmarkLow: number;
        pageCache: number;
        reclaimable: number;
        available: number;
      };
    }
  | { ok: false; reason: string };

/** totalreserve_pages as calculate_totalreserve_pages() computes it, from /proc/zoneinfo. */
export function totalReservePages(zones: readonly Zone[]): number {
  let total = 0;
  for (const z of zones) {
    const managed = z.managedPages ?? z.presentPages ?? 0;
    let reserve = z.highPages + Math.max(0, ...z.protectionPages);
    if (reserve > managed) reserve = managed;
    total += reserve;
  }
  return total;
}

export function estimateMemAvailable(
  mi: Meminfo,
  zones: readonly Zone[] | undefined,
  pageSize: number,
): AvailableEstimate {
  if (zones === undefined || zones.length === 0)
    return { ok: false, reason: '/proc/zoneinfo could not be read, and the estimate needs its watermarks' };
  for (const k of ['MemFree', 'Active(file)', 'Inactive(file)', 'SReclaimable']) {
    if (!mi.sizes.has(k)) return { ok: false, reason: `/proc/meminfo has no ${k} line, and the estimate needs it` };
  }
  const toPages = (k: string): number => Math.floor(meminfoBytes(mi, k) / pageSize);
  const free = toPages('MemFree');
  const totalReserve = totalReservePages(zones);
  const wmarkLow = zones.reduce((s, z) => s + z.lowPages, 0);
  let available = free - totalReserve;
  const fileLru = toPages('Active(file)') + toPages('Inactive(file)');
  const pageCache = fileLru - Math.min(Math.floor(fileLru / 2), wmarkLow);
  available += pageCache;
  const reclaimableCounter = mi.sizes.has('KReclaimable') ? 'KReclaimable' : 'SReclaimable';
  const reclaimableAll = toPages(reclaimableCounter);
  const reclaimable = reclaimableAll - Math.min(Math.floor(reclaimableAll / 2), wmarkLow);
  available += reclaimable;
  available = Math.max(0, available);
  return {
    ok: true,
    bytes: (available * pageSize) as Bytes,
    reclaimableCounter,
    pages: { free, totalReserve, wmarkLow, pageCache, reclaimable, available },
  };
}
