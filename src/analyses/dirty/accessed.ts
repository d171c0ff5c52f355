// The fallback for kernels without soft-dirty tracking: the referenced bits.
// After `1` is written to /proc/PID/clear_refs (Documentation/filesystems/proc.rst: reset the
// PG_Referenced and ACCESSED/YOUNG bits of all pages), the `Referenced:` lines of
// /proc/PID/smaps count the pages the process *touched*, reading or writing, since then.
// This is never a count of writes, and memlens labels it so.
import { bytes, type Bytes } from '../../base/units.js';
import type { SmapsVma } from '../../parsers/proc/smaps.js';
import { mappingLabel } from './areas.js';

export interface TouchedArea {
  start: bigint;
  end: bigint;
  mapping: string;
  /** Pages touched (read or written) since the last clear of the referenced bits. */
  pages: number;
  /** Part of the touched bytes that lie in transparent huge pages. */
  anonHugeBytes: Bytes;
}

export interface TouchedSnapshot {
  areas: TouchedArea[];
  pages: number;
}

export function touchedPages(smaps: readonly SmapsVma[], pageSize: number): TouchedSnapshot {
  const areas: TouchedArea[] = [];
  let total = 0;
  for (const e of smaps) {
    const referenced = e.counters.referencedBytes ?? 0;
    if (referenced === 0) continue;
    const pages = Math.round(referenced / pageSize);
    total += pages;
    areas.push({
      start: e.start,
      end: e.end,
      mapping: mappingLabel(e),
      pages,
      anonHugeBytes: bytes(e.counters.anonHugePagesBytes ?? 0),
    });
  }
  return { areas, pages: total };
}

/** Areas holding transparent huge pages, where one write (or touch) marks a whole 2 MiB page. */
export function hugePageAreas(
  smaps: readonly SmapsVma[],
): { mapping: string; start: bigint; end: bigint; anonHugeBytes: Bytes }[] {
  return smaps
    .filter((e) => (e.counters.anonHugePagesBytes ?? 0) > 0)
    .map((e) => ({
      mapping: mappingLabel(e),
      start: e.start,
      end: e.end,
      anonHugeBytes: bytes(e.counters.anonHugePagesBytes ?? 0),
    }));
}
