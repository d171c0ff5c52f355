// One reading of the soft-dirty bits of a process, classified per area:
// - written: soft-dirty pages that are present or swapped, in areas that existed before;
// - new mapping: soft-dirty pages in parts of areas that are new or grown since the previous
//   round, or in areas the kernel marked soft-dirty as a whole (VM_SOFTDIRTY shows up as bit 55
//   on pages that are not even present: fs/proc/task_mmu.c pte_to_pagemap_entry and
//   pagemap_pte_hole), e.g. after a merge or an unmap and map at the same place.
// Pages neither present nor swapped never count: they hold no data.
import { address, type Address } from '../../base/units.js';
import type { PageRange } from '../../parsers/pagemap.js';
import type { VmaHeader } from '../../parsers/proc/maps.js';
import { mappingLabel, type PlannedInterval } from './areas.js';

export interface IntervalResult {
  ranges: PageRange[];
  tally: { softDirty: number; softDirtyHoles: number; present: number; swapped: number; pages: number };
}

export interface LabelledRange {
  start: Address;
  end: Address;
  pages: number;
  mapping: string;
}

export interface AreaDirt {
  area: VmaHeader;
  mapping: string;
  writtenPages: number;
  newMappingPages: number;
  presentPages: number;
  swappedPages: number;
  /** The kernel flags the whole area soft-dirty (VM_SOFTDIRTY): holes carry bit 55. */
  wholeAreaMarked: boolean;
}

export interface DirtySnapshot {
  /** Written pages as compacted ranges, by address. */
  ranges: LabelledRange[];
  /** Ranges of soft-dirty pages that count as new mapping instead. */
  newMappingRanges: LabelledRange[];
  areas: AreaDirt[];
  writtenPages: number;
  newMappingPages: number;
  /** Pages looked at (entries read). */
  scannedPages: number;
}

export interface ClassifyOptions {
  /**
   * Whether the bits were cleared before this reading (a watch round). Without a clear, every
   * area still carries VM_SOFTDIRTY from its creation, so whole-area marking means nothing and
   * soft-dirty pages mean "written since mapped or since someone's last clear".
   */
  afterClear: boolean;
  /**
   * Start addresses of the areas whose smaps VmFlags carry "sd" (VM_SOFTDIRTY) at this reading,
   * when memlens read them (it does when the maps changed since the previous round): a merge
   * gives the whole merged area that flag, so every page of it reads soft-dirty.
   */
  markedAreas?: ReadonlySet<bigint>;
}

export function classify(
  areas: readonly VmaHeader[],
  plan: readonly PlannedInterval[],
  results: readonly IntervalResult[],
  opts: ClassifyOptions,
): DirtySnapshot {
  const perArea: AreaDirt[] = areas.map((area) => ({
    area,
    mapping: mappingLabel(area),
    writtenPages: 0,
    newMappingPages: 0,
    presentPages: 0,
    swappedPages: 0,
    wholeAreaMarked: false,
  }));
  // First pass: which areas carry VM_SOFTDIRTY as a whole (holes with bit 55 in their old part).
  plan.forEach((iv, k) => {
    const r = results[k];
    const a = perArea[iv.area];
    if (r && a && opts.afterClear && !iv.isNew && r.tally.softDirtyHoles > 0) a.wholeAreaMarked = true;
  });
  if (opts.afterClear && opts.markedAreas)
    for (const a of perArea) if (opts.markedAreas.has(a.area.start)) a.wholeAreaMarked = true;
  const ranges: LabelledRange[] = [];
  const newMappingRanges: LabelledRange[] = [];
  let scannedPages = 0;
  const lastAreaOf = new Map<LabelledRange[], number>();
  plan.forEach((iv, k) => {
    const r = results[k];
    const a = perArea[iv.area];
    if (!r || !a) return;
    scannedPages += r.tally.pages;
    a.presentPages += r.tally.present;
    a.swappedPages += r.tally.swapped;
    const isNew = opts.afterClear && (iv.isNew || a.wholeAreaMarked);
    const target = isNew ? newMappingRanges : ranges;
    // Ranges never span two areas; within one area, the old and new parts of a range join.
    const joinable = target.length > 0 && lastAreaOf.get(target) === iv.area;
    r.ranges.forEach((range, n) =>
      appendRange(
        target,
        { start: range.start, end: range.end, pages: range.pages, mapping: a.mapping },
        n > 0 || joinable,
      ),
    );
    if (r.ranges.length > 0) lastAreaOf.set(target, iv.area);
    if (isNew) a.newMappingPages += r.tally.softDirty;
    else a.writtenPages += r.tally.softDirty;
  });
  return {
    ranges,
    newMappingRanges,
    areas: perArea,
    writtenPages: perArea.reduce((s, a) => s + a.writtenPages, 0),
    newMappingPages: perArea.reduce((s, a) => s + a.newMappingPages, 0),
    scannedPages,
  };
}

/** Appends, merging with the previous range when contiguous and in the same area. */
function appendRange(list: LabelledRange[], r: LabelledRange, sameArea: boolean): void {
  const last = list[list.length - 1];
  if (sameArea && last?.end === r.start) {
    list[list.length - 1] = {
      start: last.start,
      end: address(r.end),
      pages: last.pages + r.pages,
      mapping: last.mapping,
    };
  } else {
    list.push(r);
  }
}
