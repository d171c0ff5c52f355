// The frame walk: classifies every page frame of a range once (classifyFrame) and counts the kinds
// per zone and per map cell, window by window. Memory stays bounded by the window (two buffers of
// WINDOW_FRAMES * 8 bytes) and the cell counts (cells * kinds u32), whatever the machine's size:
// no per-frame object is ever made.
import { KIND_COUNT, KIND_INDEX, KPF, classifyFrame } from '../parsers/frames/kpageflags.js';
import type { FrameFiles } from '../sources/frames.js';

/** 65 536 frames (256 MiB of 4 KiB pages) per read: 512 KiB of each file. */
export const WINDOW_FRAMES = 65536;

export interface ZoneSpan {
  startPfn: number;
  endPfn: number;
}

export interface WalkLayout {
  /** Zones with a known span; a frame belongs to the first zone whose span holds it. */
  zones: readonly ZoneSpan[];
  /** System RAM ranges, sorted; frames outside are holes. Undefined: no RAM map, flags decide. */
  ram: readonly ZoneSpan[] | undefined;
}

export interface WalkOptions {
  startPfn: number;
  endPfn: number;
  /** Cells of the block map over [startPfn, endPfn); 0 for none. */
  cells: number;
  windowFrames?: number;
}

export interface FrameWalk {
  startPfn: number;
  endPfn: number;
  /** Frames read before the files ended (the kernel stops at max_pfn). */
  framesRead: number;
  /** Frames by kind for each zone of the layout, as flat KIND_COUNT-strided counts. */
  zoneCounts: Float64Array;
  /** Frames by kind outside every zone span. */
  outsideCounts: Float64Array;
  /** Frames with KPF_THP (in a large folio), by the kind they were counted as. */
  largeFolioCounts: Float64Array;
  framesPerCell: number;
  cellCount: number;
  /** cellCount * KIND_COUNT counts. */
  cellCounts: Uint32Array;
}

const HOLE = KIND_INDEX.hole;

/** Frames in a cell: the range split into at most `cells` cells of equal whole frames. */
export function framesPerCell(startPfn: number, endPfn: number, cells: number): number {
  return cells <= 0 ? 0 : Math.max(1, Math.ceil((endPfn - startPfn) / cells));
}

/**
 * Walks [startPfn, endPfn). The hot loop reads each entry as two u32 halves of a Uint32Array over
 * the window (little-endian: kpageflags is written in the CPU's order, fs/proc/page.c put_user, and
 * memlens reads it on the machine that wrote it, or on an x86/arm host from a little-endian board).
 */
export function walkFrames(files: FrameFiles, layout: WalkLayout, options: WalkOptions): FrameWalk {
  const steps = walkSteps(files, layout, options);
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/**
 * The same walk, giving the event loop a turn after each window: a server (the dashboard's
 * Physical memory view) keeps answering and sampling during a walk of seconds.
 */
export async function walkFramesAsync(files: FrameFiles, layout: WalkLayout, options: WalkOptions): Promise<FrameWalk> {
  const steps = walkSteps(files, layout, options);
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The walk as steps: one window read and counted per step. */
function* walkSteps(files: FrameFiles, layout: WalkLayout, options: WalkOptions): Generator<void, FrameWalk> {
  const { startPfn, endPfn } = options;
  const windowFrames = options.windowFrames ?? WINDOW_FRAMES;
  const zones = layout.zones;
  const zoneCounts = new Float64Array(zones.length * KIND_COUNT);
  const outsideCounts = new Float64Array(KIND_COUNT);
  const largeFolioCounts = new Float64Array(KIND_COUNT);
  const perCell = framesPerCell(startPfn, endPfn, options.cells);
  const cellCount = perCell === 0 ? 0 : Math.ceil((endPfn - startPfn) / perCell);
  const cellCounts = new Uint32Array(cellCount * KIND_COUNT);

  // Fresh ArrayBuffers: 8-byte aligned, so Uint32Array views need no copy.
  const flagsBuf = new Uint8Array(new ArrayBuffer(windowFrames * 8));
  const countsBuf = new Uint8Array(new ArrayBuffer(windowFrames * 8));
  const flags32 = new Uint32Array(flagsBuf.buffer);
  const counts32 = new Uint32Array(countsBuf.buffer);

  // The boundaries where the zone or the RAM state can change, sorted.
  const cuts = new Set<number>([startPfn, endPfn]);
  for (const z of zones) cuts.add(z.startPfn).add(z.endPfn);
  for (const r of layout.ram ?? []) cuts.add(r.startPfn).add(r.endPfn);
  const boundaries = [...cuts].filter((p) => p >= startPfn && p <= endPfn).sort((a, b) => a - b);
  const zoneAt = (pfn: number): number => zones.findIndex((z) => pfn >= z.startPfn && pfn < z.endPfn);
  const ramAt = (pfn: number): boolean =>
    layout.ram === undefined || layout.ram.some((r) => pfn >= r.startPfn && pfn < r.endPfn);

  let framesRead = 0;
  let b = 0; // index of the next boundary above pfn
  let counts: Float64Array = outsideCounts;
  let countsBase = 0;
  let isRam = true;
  let nextBoundary = startPfn;
  let cell = -1;
  let nextCell = startPfn;

  for (let base = startPfn; base < endPfn; base += windowFrames) {
    const want = Math.min(windowFrames, endPfn - base);
    const got = files.read(base, want, flagsBuf, countsBuf);
    for (let i = 0; i < got; i++) {
      const pfn = base + i;
      if (pfn === nextBoundary) {
        while (b < boundaries.length && (boundaries[b] ?? Infinity) <= pfn) b++;
        nextBoundary = boundaries[b] ?? Infinity;
        const z = zoneAt(pfn);
        counts = z < 0 ? outsideCounts : zoneCounts;
        countsBase = z < 0 ? 0 : z * KIND_COUNT;
        isRam = ramAt(pfn);
      }
      if (pfn === nextCell) {
        cell++;
        nextCell += perCell === 0 ? Infinity : perCell;
      }
      const lo = flags32[2 * i] ?? 0;
      const kind = isRam ? classifyFrame(lo, flags32[2 * i + 1] ?? 0, counts32[2 * i] ?? 0) : HOLE;
      counts[countsBase + kind] = (counts[countsBase + kind] ?? 0) + 1;
      if (lo & KPF.THP) largeFolioCounts[kind] = (largeFolioCounts[kind] ?? 0) + 1;
      if (cellCount > 0) {
        const at = cell * KIND_COUNT + kind;
        cellCounts[at] = (cellCounts[at] ?? 0) + 1;
      }
    }
    framesRead += got;
    if (got < want) break;
    yield;
  }
  return {
    startPfn,
    endPfn,
    framesRead,
    zoneCounts,
    outsideCounts,
    largeFolioCounts,
    framesPerCell: perCell,
    cellCount,
    cellCounts,
  };
}

/** The dominant kind of each cell: the kind with most frames; a hole wins only an all-hole cell. */
export function dominantKinds(walk: FrameWalk): number[] {
  const out: number[] = [];
  for (let c = 0; c < walk.cellCount; c++) {
    let best = -1;
    let bestN = 0;
    for (let k = 0; k < KIND_COUNT; k++) {
      if (k === HOLE) continue;
      const n = walk.cellCounts[c * KIND_COUNT + k] ?? 0;
      if (n > bestN) {
        best = k;
        bestN = n;
      }
    }
    out.push(best < 0 ? HOLE : best);
  }
  return out;
}
