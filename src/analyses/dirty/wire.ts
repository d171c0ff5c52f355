// The dirty analyses' results in the wire types of src/wire/dirty.ts. One conversion for
// `memlens dirty --json` and for the dashboard's watch (`memlens serve --dirty-watch`), so that
// the two always say the same thing about the same round.
import type { SmapsVma } from '../../parsers/proc/smaps.js';
import {
  hexAddress,
  type DirtyRangeJson,
  type DirtyRoundJson,
  type DirtyWatchJson,
  type HugePageAreaJson,
  type TouchedAreaJson,
} from '../../wire/dirty.js';
import type { DirtyMappingPages } from '../../wire/messages.js';
import { hugePageAreas, type TouchedArea } from './accessed.js';
import type { ConvergenceRule, Verdict } from './convergence.js';
import type { RoundReading } from './meters.js';
import type { LabelledRange } from './snapshot.js';
import type { Round } from './watch.js';

export function rangeJson(r: LabelledRange): DirtyRangeJson {
  return { start: hexAddress(r.start), end: hexAddress(r.end), pages: r.pages, mapping: r.mapping };
}

export function touchedAreaJson(a: TouchedArea): TouchedAreaJson {
  return { start: hexAddress(a.start), end: hexAddress(a.end), mapping: a.mapping, pages: a.pages };
}

export function hugeAreasJson(smaps: readonly SmapsVma[]): HugePageAreaJson[] {
  return hugePageAreas(smaps).map((h) => ({
    start: hexAddress(h.start),
    end: hexAddress(h.end),
    mapping: h.mapping,
    anonHugeBytes: h.anonHugeBytes,
  }));
}

export function roundJson(r: Round, pageSize: number): DirtyRoundJson {
  return {
    round: r.round,
    pages: r.pages,
    bytes: r.pages * pageSize,
    newMappingPages: r.newMappingPages,
    intervalMs: r.intervalMs,
    change: r.change,
  };
}

/** The rule as `--json` states it; a watch without a round limit has `maxRounds: null`. */
export function ruleJson(rule: ConvergenceRule): DirtyWatchJson['rule'] {
  return {
    tolerance: rule.tolerance,
    stableRounds: rule.stableRounds,
    minRounds: rule.minRounds,
    maxRounds: Number.isFinite(rule.maxRounds) ? rule.maxRounds : null,
    noisePages: rule.noisePages,
  };
}

/** Converged: the mean count of the steady rounds; otherwise the newest round's count (null before any). */
export function workingSetPages(verdict: Verdict, newestRoundPages: number | undefined): number | null {
  return verdict.state === 'converged' ? verdict.workingSetPages : (newestRoundPages ?? null);
}

/**
 * At most `limit` of the items, the ones holding the most pages (ties: the lower address), in
 * address order: a bounded view of a round that may have hundreds of thousands of ranges.
 */
export function largestInAddressOrder<T extends { start: bigint; pages: number }>(
  items: readonly T[],
  limit: number,
): T[] {
  const byAddress = (a: T, b: T): number => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
  if (items.length <= limit) return [...items].sort(byAddress);
  return [...items]
    .sort((a, b) => b.pages - a.pages || byAddress(a, b))
    .slice(0, limit)
    .sort(byAddress);
}

/** A round's pages summed per mapping name, most pages first (new mapping apart, never added). */
export function pagesByMapping(reading: RoundReading): DirtyMappingPages[] {
  const by = new Map<string, DirtyMappingPages>();
  const add = (mapping: string, pages: number, newMappingPages: number): void => {
    if (pages === 0 && newMappingPages === 0) return;
    const e = by.get(mapping) ?? { mapping, pages: 0, newMappingPages: 0 };
    e.pages += pages;
    e.newMappingPages += newMappingPages;
    by.set(mapping, e);
  };
  for (const a of reading.dirty?.areas ?? []) add(a.mapping, a.writtenPages, a.newMappingPages);
  for (const a of reading.touched?.areas ?? []) add(a.mapping, a.pages, 0);
  return [...by.values()].sort(
    (a, b) => b.pages - a.pages || b.newMappingPages - a.newMappingPages || (a.mapping < b.mapping ? -1 : 1),
  );
}
