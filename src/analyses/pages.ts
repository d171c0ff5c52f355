// `memlens pages`: what the RAM itself holds. The frame walk (frame-walk.ts) over kpageflags and
// kpagecount, the zones of /proc/zoneinfo, the RAM ranges of /proc/iomem, the free blocks of
// /proc/buddyinfo and /proc/pagetypeinfo, CMA from meminfo and zoneinfo, and a comparison of the
// frame counts with the ledger of `memlens snapshot` (src/analyses/ledger.ts).
import { ParseError, UserError } from '../base/errors.js';
import {
  FRAME_KINDS,
  KIND_COUNT,
  KIND_LABELS,
  classifyFrame,
  flagNames,
  type FrameKind,
} from '../parsers/frames/kpageflags.js';
import { buddyFreePages, parseBuddyinfo, type BuddyZone } from '../parsers/proc/buddyinfo.js';
import { parseIomem, systemRamPfns, type PfnRange } from '../parsers/proc/iomem.js';
import { meminfoBytes, parseMeminfo, type Meminfo } from '../parsers/proc/meminfo.js';
import { parsePagetypeinfo, type Pagetypeinfo } from '../parsers/proc/pagetypeinfo.js';
import { parseZoneinfo, type Zone } from '../parsers/proc/zoneinfo.js';
import type { FrameFiles, FrameFilesResult } from '../sources/frames.js';
import type { ProcSource } from '../sources/proc-source.js';
import {
  PAGES_SCHEMA,
  type BuddyZoneJson,
  type CmaJson,
  type FrameDetailJson,
  type FrameMapJson,
  type PagesJson,
  type ReconcileRowJson,
  type ZoneFramesJson,
} from '../wire/pages.js';
import { buildLedger, type Ledger, type LedgerItem } from './ledger.js';
import { dominantKinds, walkFramesAsync, type FrameWalk, type WalkLayout } from './frame-walk.js';

/** Opens kpageflags and kpagecount of a source (src/sources/frames.ts openFrameFiles): the caller's to hand in. */
export type OpenFrames = (source: ProcSource) => Promise<FrameFilesResult>;

export interface PagesOptions {
  /** Cells of the block map (0: no map). */
  cells?: number;
  /** Restrict the walk (and the map) to [startPfn, endPfn); default the whole frame range. */
  startPfn?: number;
  endPfn?: number;
}

interface SystemTables {
  pageSize: number;
  meminfo: Meminfo;
  zones: Zone[];
  buddy: BuddyZone[] | undefined;
  pagetype: Pagetypeinfo | undefined;
  ram: PfnRange[] | undefined;
  kernel: string | null;
  notes: string[];
}

async function text(source: ProcSource, path: string): Promise<string | undefined> {
  const r = await source.readText(path);
  return r.ok ? r.value : undefined;
}

async function readTables(source: ProcSource): Promise<SystemTables> {
  const notes: string[] = [];
  const pageSize = await source.pageSize();
  const mi = await text(source, 'meminfo');
  const meminfo = mi === undefined ? undefined : parseMeminfo(mi, 'meminfo');
  if (!meminfo) throw new UserError(`cannot read meminfo from ${source.description}`);
  const zi = await text(source, 'zoneinfo');
  const zones = (zi === undefined ? undefined : parseZoneinfo(zi, 'zoneinfo')) ?? [];
  if (zones.length === 0) notes.push('/proc/zoneinfo could not be read: no zones, the whole frame range is one');
  // The free-block tables are optional parts of the report: one this parser cannot read (a later
  // kernel's change of format) is said in a note, not a failure of the whole report.
  const optional = <T>(what: string, parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      notes.push(`${what} could not be parsed (${e.message}): left out`);
      return undefined;
    }
  };
  const bi = await text(source, 'buddyinfo');
  const buddy = bi === undefined ? undefined : optional('/proc/buddyinfo', () => parseBuddyinfo(bi, 'buddyinfo'));
  const pti = await text(source, 'pagetypeinfo');
  const pagetype =
    pti === undefined ? undefined : optional('/proc/pagetypeinfo', () => parsePagetypeinfo(pti, 'pagetypeinfo'));
  if (pti === undefined)
    notes.push('/proc/pagetypeinfo could not be read (root only since Linux 5.9): no migrate types');
  const io = await text(source, 'iomem');
  let ram: PfnRange[] | undefined;
  if (io !== undefined) {
    const parsed = parseIomem(io);
    if (parsed.hidden) notes.push('/proc/iomem shows every address as 0 (not root): holes are told by flags alone');
    else ram = systemRamPfns(parsed, pageSize);
  } else notes.push('/proc/iomem could not be read: holes are told by flags alone');
  const rel = await text(source, 'sys/kernel/osrelease');
  return { pageSize, meminfo, zones, buddy, pagetype, ram, kernel: rel?.trim() ?? null, notes };
}

/** The zones with a span, in the order zoneinfo prints them. */
function zoneSpans(zones: readonly Zone[]): { zone: Zone; startPfn: number; endPfn: number }[] {
  return zones
    .filter((z) => z.startPfn !== undefined && (z.spannedPages ?? 0) > 0)
    .map((z) => ({ zone: z, startPfn: z.startPfn ?? 0, endPfn: (z.startPfn ?? 0) + (z.spannedPages ?? 0) }));
}

/**
 * The start of the frame range: the first zone's or RAM range's start. Frames below it are not
 * RAM (arm64's virt board puts RAM at 1 GiB, frame 262,144 of 4 KiB pages), so the walk leaves
 * them out rather than counting them as holes; 0 when neither zones nor RAM ranges are known.
 */
function frameRangeStart(t: SystemTables): number {
  let start = Infinity;
  for (const z of zoneSpans(t.zones)) start = Math.min(start, z.startPfn);
  for (const r of t.ram ?? []) start = Math.min(start, r.startPfn);
  return Number.isFinite(start) ? start : 0;
}

/** The end of the frame range: the last zone's or RAM range's end. */
function frameRangeEnd(t: SystemTables): number {
  let end = 0;
  for (const z of zoneSpans(t.zones)) end = Math.max(end, z.endPfn);
  for (const r of t.ram ?? []) end = Math.max(end, r.endPfn);
  return end;
}

/**
 * The kernel's fragmentation index of one order (mm/vmstat.c fill_contig_page_info and
 * __fragmentation_index), in thousandths as the kernel computes it with integer division, then
 * divided by 1000. null stands for the kernel's -1000: a free block of this order exists.
 */
export function fragmentationIndex(freeBlocks: readonly number[], order: number): number | null {
  let total = 0;
  let freePages = 0;
  let suitable = 0;
  freeBlocks.forEach((blocks, o) => {
    total += blocks;
    freePages += blocks * 2 ** o;
    if (o >= order) suitable += blocks * 2 ** (o - order);
  });
  if (total === 0) return 0;
  if (suitable > 0) return null;
  const requested = 2 ** order;
  return (1000 - Math.floor((1000 + Math.floor((freePages * 1000) / requested)) / total)) / 1000;
}

/** Unusable free space index (mm/vmstat.c unusable_free_index): free pages not in blocks of the order or above. */
export function unusableIndex(freeBlocks: readonly number[], order: number): number {
  let freePages = 0;
  let suitablePages = 0;
  freeBlocks.forEach((blocks, o) => {
    freePages += blocks * 2 ** o;
    if (o >= order) suitablePages += blocks * 2 ** o;
  });
  if (freePages === 0) return 0;
  return Math.floor(((freePages - suitablePages) * 1000) / freePages) / 1000;
}

function buddyJson(t: SystemTables): PagesJson['buddy'] {
  if (!t.buddy) return null;
  const zones: BuddyZoneJson[] = t.buddy.map((z) => {
    const pz = t.pagetype?.zones.find((p) => p.node === z.node && p.zone === z.zone);
    return {
      node: z.node,
      zone: z.zone,
      freeBlocks: z.freeBlocks,
      freePages: buddyFreePages(z),
      fragmentationIndex: z.freeBlocks.map((_, o) => fragmentationIndex(z.freeBlocks, o)),
      unusableIndex: z.freeBlocks.map((_, o) => unusableIndex(z.freeBlocks, o)),
      migrateTypes: pz
        ? [...new Set([...pz.freeBlocks.keys(), ...pz.pageblocks.keys()])].map((type) => ({
            type,
            freeBlocks: pz.freeBlocks.get(type) ?? [],
            pageblocks: pz.pageblocks.get(type) ?? null,
            capped: pz.capped.has(type),
          }))
        : null,
    };
  });
  return { pageblockOrder: t.pagetype?.pageblockOrder ?? null, zones };
}

function cmaJson(t: SystemTables): CmaJson | null {
  if (!t.meminfo.sizes.has('CmaTotal')) return null;
  let pageblocks: number | null = null;
  if (t.pagetype) {
    pageblocks = 0;
    for (const z of t.pagetype.zones) pageblocks += z.pageblocks.get('CMA') ?? 0;
  }
  return {
    totalBytes: meminfoBytes(t.meminfo, 'CmaTotal'),
    freeBytes: meminfoBytes(t.meminfo, 'CmaFree'),
    pageblocks,
    zones: t.zones
      .filter((z) => (z.presentPages ?? 0) > 0)
      .map((z) => ({ node: z.node, zone: z.name, cmaPages: z.cmaPages ?? null, freeCmaPages: z.freeCmaPages ?? null })),
  };
}

const kindIndex = (k: FrameKind): number => FRAME_KINDS.indexOf(k);

function ledgerBytes(ledger: Ledger, keys: readonly string[]): number | null {
  let total = 0;
  let found = 0;
  const visit = (items: readonly LedgerItem[]): void => {
    for (const i of items) {
      if (keys.includes(i.key)) {
        total += i.bytes;
        found++;
      } else if (i.items) visit(i.items);
    }
  };
  visit(ledger.items);
  return found === 0 ? null : total;
}

/** Rows comparing frame kinds with ledger parts. Each row's why says what the two sides count differently. */
function reconcile(totals: readonly number[], t: SystemTables, ledger: Ledger, pcpPages: number): ReconcileRowJson[] {
  const ps = t.pageSize;
  const row = (
    key: string,
    label: string,
    kinds: FrameKind[],
    ledgerKeys: string[],
    counters: string[],
    why: string,
    otherBytes?: number,
  ): ReconcileRowJson => {
    const framesBytes = kinds.reduce((s, k) => s + (totals[kindIndex(k)] ?? 0), 0) * ps;
    // A row with no ledger part compares with the meminfo counters directly.
    const lb =
      otherBytes !== undefined
        ? otherBytes
        : ledgerKeys.length > 0
          ? ledgerBytes(ledger, ledgerKeys)
          : counters.reduce((s, c) => s + meminfoBytes(t.meminfo, c), 0);
    return {
      key,
      label,
      kinds,
      framesBytes,
      counters,
      ledgerKey: ledgerKeys.join('+'),
      ledgerBytes: lb,
      differenceBytes: lb === null ? null : framesBytes - lb,
      why,
    };
  };
  const pcp = `${((pcpPages * ps) / 2 ** 20).toFixed(1)} MiB`;
  return [
    row(
      'free',
      'free',
      ['free'],
      ['free'],
      ['MemFree'],
      `MemFree is the zones' free-page counter (NR_FREE_PAGES); the frames are read over a few seconds while it is read once. Pages on the per-CPU free lists (${pcp} now, zoneinfo "count:") are in neither: they read with no flag and are counted under "kernel, other". Where a kernel initialises its page structures late, MemFree counts pages that do not yet read BUDDY.`,
    ),
    row(
      'anon',
      'anonymous',
      ['anon', 'thp'],
      ['anon'],
      ['AnonPages'],
      'AnonPages counts mapped anonymous pages; anonymous pages in the swap cache (SwapCached) and pages being unmapped still read ANON.',
    ),
    row(
      'shmem',
      'shared memory',
      ['shmem'],
      ['shmem'],
      ['Shmem'],
      'Shmem counts shmem/tmpfs pages; frames read SWAPBACKED without ANON also for anonymous pages not yet given their reverse map.',
    ),
    row(
      'file',
      'file cache',
      ['file_writeback', 'file_dirty', 'file_mapped', 'file_unmapped'],
      ['page_cache', 'buffers'],
      ['Cached', 'Shmem', 'Buffers'],
      'Cached − Shmem + Buffers; frames of file cache are told by LRU/UPTODATE/MMAP, so page-cache pages off the LRU for a moment (being read in, isolated for migration) count under "kernel, other".',
    ),
    row(
      'file_dirty_writeback',
      'of which dirty or under writeback',
      ['file_writeback', 'file_dirty'],
      [],
      ['Dirty', 'Writeback'],
      'Dirty and Writeback as meminfo prints them (not a ledger part).',
    ),
    row(
      'slab',
      'slab',
      ['slab'],
      ['slab'],
      ['SReclaimable', 'SUnreclaim'],
      'the slab counters also count large kmalloc allocations, which are whole pages without PG_slab.',
    ),
    row(
      'page_tables',
      'page tables',
      ['page_tables'],
      ['page_tables', 'sec_page_tables'],
      ['PageTables', 'SecPageTables'],
      'PGTABLE marks user page tables and the kernel page tables built with pagetable constructors; secondary (KVM, IOMMU) tables may not carry it.',
    ),
    row(
      'hugetlb',
      'hugetlb pool',
      ['hugetlb'],
      ['hugetlb'],
      ['Hugetlb'],
      'both count the preallocated pool, used or free.',
    ),
    row(
      'kernel',
      'kernel, other',
      ['kernel_other', 'zero_page'],
      ['kernel_stack', 'vmalloc', 'percpu', 'unaccounted', 'swap_cache', 'unaccepted'],
      ['KernelStack', 'VmallocUsed', 'Percpu', 'MemTotal'],
      `frames with no telling flag: kernel stacks, vmalloc, per-CPU data, driver and DMA buffers, per-CPU free lists (${pcp}), and on some kernels frames whose page structures are not yet initialised; the ledger side is what meminfo cannot otherwise place.`,
    ),
    row(
      'unmanaged',
      'never given to the buddy allocator',
      ['reserved'],
      [],
      ['zoneinfo present', 'zoneinfo managed'],
      'Σ (present − managed) of the zones: memblock reservations (kernel image, page structures, crash kernel) read RESERVED; frames a kernel initialises late (deferred struct page init) read no flag at all and are counted under "kernel, other" until they reach the buddy allocator. Not part of MemTotal on most kernels.',
      t.zones.reduce((s, z) => s + Math.max(0, (z.presentPages ?? 0) - (z.managedPages ?? 0)), 0) * ps,
    ),
  ];
}

function zoneJson(z: Zone, walk: FrameWalk | undefined, index: number): ZoneFramesJson {
  const start = z.startPfn ?? null;
  return {
    node: z.node,
    zone: z.name,
    startPfn: start,
    endPfn: start === null || z.spannedPages === undefined ? null : start + z.spannedPages,
    spannedPages: z.spannedPages ?? null,
    presentPages: z.presentPages ?? null,
    managedPages: z.managedPages ?? null,
    freePages: z.freePages,
    cmaPages: z.cmaPages ?? null,
    freeCmaPages: z.freeCmaPages ?? null,
    kindPages:
      walk && index >= 0 ? Array.from(walk.zoneCounts.subarray(index * KIND_COUNT, (index + 1) * KIND_COUNT)) : null,
  };
}

function mapJson(walk: FrameWalk, spans: ReturnType<typeof zoneSpans>): FrameMapJson {
  const cells: number[][] = [];
  for (let c = 0; c < walk.cellCount; c++)
    cells.push(Array.from(walk.cellCounts.subarray(c * KIND_COUNT, (c + 1) * KIND_COUNT)));
  return {
    startPfn: walk.startPfn,
    endPfn: walk.endPfn,
    framesPerCell: walk.framesPerCell,
    cells,
    dominant: dominantKinds(walk),
    zones: spans.map((s) => ({ node: s.zone.node, zone: s.zone.name, startPfn: s.startPfn, endPfn: s.endPfn })),
  };
}

/** The page-frame report of a source. Without root the frame walk is skipped and said so. */
export async function collectPages(
  source: ProcSource,
  openFrameFiles: OpenFrames,
  options: PagesOptions = {},
): Promise<PagesJson> {
  const t = await readTables(source);
  const spans = zoneSpans(t.zones);
  const endOfRange = frameRangeEnd(t);
  const startOfRange = Math.min(frameRangeStart(t), endOfRange);
  const startPfn = Math.max(0, options.startPfn ?? startOfRange);
  const endPfn = Math.min(options.endPfn ?? endOfRange, endOfRange || (options.endPfn ?? 0));
  const opened = await openFrameFiles(source);
  let walk: FrameWalk | undefined;
  if (opened.ok) {
    const layout: WalkLayout = { zones: spans, ram: t.ram };
    try {
      walk = await walkFramesAsync(opened.files, layout, { startPfn, endPfn, cells: options.cells ?? 0 });
    } finally {
      opened.files.close();
    }
  }
  // Read after the walk: the counters closest in time to the walk's end.
  const after = await readTables(source);
  const tables = { ...after, notes: t.notes };
  const ledger = buildLedger(tables.meminfo, { pageSize: tables.pageSize });
  const totals = new Array<number>(KIND_COUNT).fill(0);
  if (walk) {
    for (let k = 0; k < KIND_COUNT; k++) {
      let n = walk.outsideCounts[k] ?? 0;
      for (let z = 0; z < spans.length; z++) n += walk.zoneCounts[z * KIND_COUNT + k] ?? 0;
      totals[k] = n;
    }
  }
  const nodes = [...new Set(spans.map((s) => s.zone.node))].sort((a, b) => a - b);
  const pcpPages = tables.zones.reduce((s, z) => s + (z.perCpuListPages ?? 0), 0);
  const wholeRange = startPfn <= startOfRange && endPfn === endOfRange;
  const notes = [...tables.notes];
  if (walk && walk.framesRead < endPfn - startPfn)
    notes.push(`kpageflags ended at frame ${startPfn + walk.framesRead}, before the end of the zones (${endPfn})`);
  if (!wholeRange) notes.push(`frames ${startPfn}–${endPfn} only: the comparison with the ledger is left out`);
  return {
    schema: PAGES_SCHEMA,
    time: source.time().toISOString(),
    host: await source.hostname(),
    source: source.description,
    kernel: tables.kernel,
    pageSizeBytes: tables.pageSize,
    frames: {
      read: walk !== undefined,
      unavailable: opened.ok ? null : opened.reason,
      startPfn,
      endPfn,
      framesRead: walk?.framesRead ?? 0,
      ramRanges: t.ram ?? null,
    },
    kinds: FRAME_KINDS.map((k, i) => ({
      key: k,
      label: KIND_LABELS[k],
      pages: totals[i] ?? 0,
      bytes: (totals[i] ?? 0) * tables.pageSize,
      largeFolioPages: walk?.largeFolioCounts[i] ?? 0,
    })),
    zones: tables.zones.map((z) => {
      const span = spans.findIndex((s) => s.zone.node === z.node && s.zone.name === z.name);
      return zoneJson(z, walk, span);
    }),
    nodes: walk
      ? nodes.map((node) => {
          const kindPages = new Array<number>(KIND_COUNT).fill(0);
          spans.forEach((s, zi) => {
            if (s.zone.node !== node) return;
            for (let k = 0; k < KIND_COUNT; k++)
              kindPages[k] = (kindPages[k] ?? 0) + (walk.zoneCounts[zi * KIND_COUNT + k] ?? 0);
          });
          return { node, kindPages };
        })
      : [],
    outsideZonesKindPages: walk ? Array.from(walk.outsideCounts) : null,
    reconciliation: walk && wholeRange ? reconcile(totals, tables, ledger, pcpPages) : [],
    buddy: buddyJson(tables),
    cma: cmaJson(tables),
    ...(walk && walk.cellCount > 0 ? { map: mapJson(walk, spans) } : {}),
    notes,
  };
}

/** Single frames with their flags: the dashboard's deepest zoom. At most `limit` frames. */
export async function frameDetails(
  source: ProcSource,
  openFrameFiles: OpenFrames,
  startPfn: number,
  count: number,
  limit = 4096,
): Promise<FrameDetailJson[]> {
  const n = Math.max(0, Math.min(count, limit));
  const opened = await openFrameFiles(source);
  if (!opened.ok) throw new UserError(opened.reason);
  const files: FrameFiles = opened.files;
  try {
    const flags = new Uint8Array(new ArrayBuffer(n * 8));
    const counts = new Uint8Array(new ArrayBuffer(n * 8));
    const got = files.read(startPfn, n, flags, counts);
    const f32 = new Uint32Array(flags.buffer);
    const c32 = new Uint32Array(counts.buffer);
    const view = new DataView(flags.buffer);
    const out: FrameDetailJson[] = [];
    for (let i = 0; i < got; i++) {
      const lo = f32[2 * i] ?? 0;
      const hi = f32[2 * i + 1] ?? 0;
      const kind = FRAME_KINDS[classifyFrame(lo, hi, c32[2 * i] ?? 0)] ?? 'kernel_other';
      out.push({
        pfn: startPfn + i,
        kind,
        flags: flagNames(lo, hi),
        rawFlags: view.getBigUint64(i * 8, true).toString(16),
        mapCount: c32[2 * i] ?? 0,
      });
    }
    return out;
  } finally {
    files.close();
  }
}
