// The two ways of measuring one round on a live process: soft-dirty bits (pages written) and,
// where the kernel lacks them, referenced bits (pages touched). Each meter starts a round by
// clearing the target's bits and ends it by reading them. The reading and writing is the
// ProcessPages handed in (src/sources/pagemap.ts): this file decides what to read and when.
import { ProcessGoneError } from '../../base/errors.js';
import type { PagemapReader, ProcessPages } from '../../sources/pagemap.js';
import type { VmaHeader } from '../../parsers/proc/maps.js';
import type { SmapsVma } from '../../parsers/proc/smaps.js';
import { touchedPages, type TouchedSnapshot } from './accessed.js';
import { planIntervals, scannableAreas } from './areas.js';
import { classify, type DirtySnapshot } from './snapshot.js';

export interface RoundReading {
  /** Written (soft-dirty) or touched (accessed) pages of the round. */
  pages: number;
  /** Soft-dirty pages of new or grown areas; 0 for the accessed method. */
  newMappingPages: number;
  dirty?: DirtySnapshot;
  touched?: TouchedSnapshot;
}

export interface Meter {
  readonly method: 'soft-dirty' | 'accessed';
  /** Clears the target's bits: the round starts now. */
  begin(): Promise<void>;
  /** Reads what the round saw. Throws ProcessGoneError when the target has exited. */
  measure(): Promise<RoundReading>;
  close(): void;
}

/** Reads the soft-dirty state without clearing anything (plain `memlens dirty PID`). */
export async function readSoftDirty(target: ProcessPages, previous?: readonly VmaHeader[]): Promise<DirtySnapshot> {
  const areas = scannableAreas(await target.maps());
  if (areas.length === 0 && !(await target.isAlive())) throw new ProcessGoneError(target.pid);
  const plan = planIntervals(areas, previous);
  const reader = target.openPagemap();
  try {
    return classify(areas, plan, reader.scan(plan), { afterClear: previous !== undefined });
  } finally {
    reader.close();
  }
}

function sameBounds(a: readonly VmaHeader[], b: readonly VmaHeader[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return y !== undefined && x.start === y.start && x.end === y.end;
  });
}

function softDirtyAreas(smaps: readonly SmapsVma[]): Set<bigint> {
  return new Set(smaps.filter((e) => e.vmFlags.includes('sd')).map((e) => e.start));
}

export class SoftDirtyMeter implements Meter {
  readonly method = 'soft-dirty';
  private previous: VmaHeader[] = [];
  private readonly reader: PagemapReader;

  constructor(readonly target: ProcessPages) {
    this.reader = target.openPagemap();
  }

  async begin(): Promise<void> {
    // Maps first, then the clear: an area created between the two counts as new next round.
    this.previous = scannableAreas(await this.target.maps());
    this.target.clearRefs(4);
  }

  async measure(): Promise<RoundReading> {
    const areas = scannableAreas(await this.target.maps());
    if (!(await this.target.isAlive())) throw new ProcessGoneError(this.target.pid);
    const plan = planIntervals(areas, this.previous);
    const results = this.reader.scan(plan);
    // When the maps changed, areas may have been merged or grown: smaps VmFlags tells which
    // carry VM_SOFTDIRTY as a whole (fs/proc/task_mmu.c show_smap_vma_flags, "sd").
    const markedAreas = sameBounds(areas, this.previous) ? undefined : softDirtyAreas(await this.target.smaps());
    const dirty = classify(areas, plan, results, { afterClear: true, markedAreas });
    if (!(await this.target.isAlive())) throw new ProcessGoneError(this.target.pid);
    return { pages: dirty.writtenPages, newMappingPages: dirty.newMappingPages, dirty };
  }

  close(): void {
    this.reader.close();
  }
}

export class AccessedMeter implements Meter {
  readonly method = 'accessed';
  constructor(readonly target: ProcessPages) {}

  begin(): Promise<void> {
    this.target.clearRefs(1);
    return Promise.resolve();
  }

  async measure(): Promise<RoundReading> {
    const touched = touchedPages(await this.target.smaps(), this.target.pageSize);
    if (!(await this.target.isAlive())) throw new ProcessGoneError(this.target.pid);
    return { pages: touched.pages, newMappingPages: 0, touched };
  }

  close(): void {
    // nothing held open
  }
}
