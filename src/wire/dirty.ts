// The `--json` output of `memlens dirty` (one document on stdout).
// Wire version: bump DIRTY_WIRE_VERSION and note the change here when a field changes.
//
// The fields the issue fixes: pid, pageSize, softDirty.supported, ranges [{start, end, pages,
// mapping}], pages; with --watch also rounds [{pages, …}] and converged. Addresses are "0x…"
// hex strings (64-bit), counts are plain numbers of pages of `pageSize` bytes.
import type { Address } from '../base/units.js';

export const DIRTY_WIRE_VERSION = 1;

/** How pages were counted: soft-dirty bits (written) or referenced bits (touched, read or written). */
export type DirtyMethod = 'soft-dirty' | 'accessed';

/** What a count of pages means under each method, in the words every output uses (`meaning`). */
export const DIRTY_MEANING = {
  'soft-dirty': 'pages written',
  accessed: 'pages touched (read or written)',
} as const satisfies Record<DirtyMethod, string>;

export interface DirtyRangeJson {
  start: string;
  /** Exclusive. */
  end: string;
  pages: number;
  mapping: string;
}

export interface TouchedAreaJson {
  start: string;
  end: string;
  mapping: string;
  /** Pages touched (read or written), from smaps Referenced. */
  pages: number;
}

export interface HugePageAreaJson {
  start: string;
  end: string;
  mapping: string;
  anonHugeBytes: number;
}

export interface DirtyJsonBase {
  version: typeof DIRTY_WIRE_VERSION;
  pid: number;
  pageSize: number;
  softDirty: { supported: boolean; probe: string };
  method: DirtyMethod;
  /** What `pages` means, in words: "pages written" or "pages touched (read or written)". */
  meaning: string;
  /** Areas holding transparent huge pages: one write there marks a whole 2 MiB page. */
  hugePageAreas: HugePageAreaJson[];
}

/** Plain `memlens dirty PID --json`. */
export interface DirtyJson extends DirtyJsonBase {
  /** Written pages, compacted (soft-dirty method; empty for the accessed method). */
  ranges: DirtyRangeJson[];
  /** Total of `ranges` (soft-dirty) or of `areas` (accessed). */
  pages: number;
  bytes: number;
  /** Accessed method: touched pages per area. */
  areas: TouchedAreaJson[];
}

export interface DirtyRoundJson {
  round: number;
  /** Pages written (or touched) during the round. */
  pages: number;
  bytes: number;
  /** Soft-dirty pages of areas that are new or grown since the previous round: not counted as written. */
  newMappingPages: number;
  intervalMs: number;
  /** Relative change from the previous round, 0..1. */
  change: number;
}

/** `memlens dirty PID --watch --json`. */
export interface DirtyWatchJson extends DirtyJsonBase {
  rounds: DirtyRoundJson[];
  converged: boolean;
  stopReason: 'converged' | 'max-rounds' | 'exited' | 'interrupted';
  /** The rule that judged convergence. */
  rule: { tolerance: number; stableRounds: number; minRounds: number; maxRounds: number | null; noisePages: number };
  /** Converged: mean pages of the steady rounds; otherwise the last round's count (null without rounds). */
  workingSetPages: number | null;
  workingSetBytes: number | null;
  /** The last round's written ranges (soft-dirty) … */
  ranges: DirtyRangeJson[];
  /** … or its touched pages per area (accessed). */
  areas: TouchedAreaJson[];
}

export function hexAddress(a: Address | bigint): string {
  return `0x${a.toString(16)}`;
}
