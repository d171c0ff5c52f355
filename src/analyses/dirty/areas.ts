// Which areas of a process to scan, and which parts of them are new since the previous round.
//
// Documentation/admin-guide/mm/soft-dirty.rst: "the kernel always marks new memory regions (and
// expanded regions) as soft dirty". Those pages were not necessarily written, so the parts of an
// area that did not exist in the previous round's maps are reported as "new mapping", not writes.
import type { VmaHeader } from '../../parsers/proc/maps.js';

/** One interval to scan, tied to its area and whether it is new since the previous round. */
export interface PlannedInterval {
  area: number;
  start: bigint;
  end: bigint;
  isNew: boolean;
}

/** Areas worth scanning: not PROT_NONE (never written: guard and reserved ranges) and not [vsyscall]. */
export function scannableAreas(areas: readonly VmaHeader[]): VmaHeader[] {
  return areas.filter((a) => !a.perms.startsWith('---') && a.name !== '[vsyscall]' && a.end > a.start);
}

/** A short human label for an area: its path, its [pseudo-name], or the kind of anonymous memory. */
export function mappingLabel(a: VmaHeader): string {
  if (a.name !== '') return a.name;
  return a.perms.endsWith('s') ? '[anon shared]' : '[anon]';
}

/**
 * Splits each area into intervals covered by the previous round's areas (old) and not covered
 * (new). Without a previous round, everything is old. Both lists must be sorted by address,
 * as /proc/PID/maps lists them.
 */
export function planIntervals(
  areas: readonly VmaHeader[],
  previous: readonly VmaHeader[] | undefined,
): PlannedInterval[] {
  const out: PlannedInterval[] = [];
  let p = 0;
  areas.forEach((area, index) => {
    if (!previous) {
      out.push({ area: index, start: area.start, end: area.end, isNew: false });
      return;
    }
    let at: bigint = area.start;
    // Skip previous areas that end before this one starts.
    while (p < previous.length && (previous[p]?.end ?? 0n) <= at) p++;
    let q = p;
    while (at < area.end) {
      const prev = previous[q];
      if (!prev || prev.start >= area.end) {
        out.push({ area: index, start: at, end: area.end, isNew: true });
        break;
      }
      if (prev.start > at) {
        out.push({ area: index, start: at, end: prev.start, isNew: true });
        at = prev.start;
      }
      const coveredEnd = prev.end < area.end ? prev.end : area.end;
      if (coveredEnd > at) out.push({ area: index, start: at, end: coveredEnd, isNew: false });
      at = coveredEnd;
      if (prev.end <= area.end) q++;
    }
  });
  return out;
}
