// The --json output of `memlens pages` and the dashboard's "Physical memory" view, schema 1.
// A contract like src/wire/snapshot.ts: fields are only added, never renamed or removed, without a
// new schema number. Counts of frames are pages of pageSizeBytes; sizes are bytes; null is "could
// not be read", never 0.

export const PAGES_SCHEMA = 1;

/** The frame kinds, in the order the dashboard and the table show them; the classifier (src/parsers/frames/kpageflags.ts) numbers them by this order. */
export const PAGE_KIND_KEYS = [
  'hole',
  'offline',
  'free',
  'hugetlb',
  'slab',
  'page_tables',
  'zero_page',
  'thp',
  'shmem',
  'anon',
  'file_writeback',
  'file_dirty',
  'file_mapped',
  'file_unmapped',
  'reserved',
  'kernel_other',
] as const;
export type PageKindKey = (typeof PAGE_KIND_KEYS)[number];

export interface PageKindJson {
  key: PageKindKey;
  label: string;
  pages: number;
  bytes: number;
  /** Of which in large folios (KPF_THP): for file and shmem kinds, large page-cache folios. */
  largeFolioPages: number;
}

export interface ZoneFramesJson {
  node: number;
  zone: string;
  /** [startPfn, endPfn): the zone's span from /proc/zoneinfo; null when not printed (empty zone). */
  startPfn: number | null;
  endPfn: number | null;
  spannedPages: number | null;
  presentPages: number | null;
  managedPages: number | null;
  /** "pages free" of zoneinfo (the buddy allocator's count, read after the frame walk). */
  freePages: number;
  cmaPages: number | null;
  freeCmaPages: number | null;
  /** Frames of the zone by kind, in PAGE_KIND_KEYS order; null without the frame walk. */
  kindPages: number[] | null;
}

export interface NodeFramesJson {
  node: number;
  kindPages: number[];
}

export interface ReconcileRowJson {
  key: string;
  label: string;
  /** The frame kinds summed on the frame side. */
  kinds: PageKindKey[];
  framesBytes: number;
  /** The /proc/meminfo counters summed on the other side, and the ledger item they are. */
  counters: string[];
  ledgerKey: string;
  ledgerBytes: number | null;
  /** framesBytes − ledgerBytes. */
  differenceBytes: number | null;
  /** Why the two can differ. */
  why: string;
}

export interface BuddyZoneJson {
  node: number;
  zone: string;
  /** Free blocks by order (each 2^order pages). */
  freeBlocks: number[];
  freePages: number;
  /**
   * The kernel's fragmentation index by order (mm/vmstat.c __fragmentation_index, as in
   * debugfs extfrag/extfrag_index): null when the order could be allocated now (the kernel's
   * -1.000), 0 when there are no free blocks; towards 0 a failure would be for lack of memory,
   * towards 1 for fragmentation.
   */
  fragmentationIndex: (number | null)[];
  /** Unusable free space index by order (debugfs extfrag/unusable_index): the share of free pages in smaller blocks. */
  unusableIndex: number[];
  /** From /proc/pagetypeinfo (root): free blocks by order and page blocks, per migrate type. */
  migrateTypes:
    | {
        type: string;
        freeBlocks: number[];
        pageblocks: number | null;
        /** The kernel printed ">100000" for an order: counts from there on are lower bounds or not counted. */
        capped: boolean;
      }[]
    | null;
}

export interface CmaJson {
  /** CmaTotal and CmaFree of /proc/meminfo. */
  totalBytes: number;
  freeBytes: number;
  /** Page blocks of migrate type CMA (pagetypeinfo), when readable. */
  pageblocks: number | null;
  zones: { node: number; zone: string; cmaPages: number | null; freeCmaPages: number | null }[];
}

export interface FrameMapJson {
  startPfn: number;
  endPfn: number;
  framesPerCell: number;
  /** One array per cell: frames by kind, in PAGE_KIND_KEYS order. */
  cells: number[][];
  /** Index of the dominant kind of each cell (most frames; holes lose to any other kind). */
  dominant: number[];
  /** The zones' spans over the map, for drawing their borders. */
  zones: { node: number; zone: string; startPfn: number; endPfn: number }[];
}

export interface FrameDetailJson {
  pfn: number;
  kind: PageKindKey;
  flags: string[];
  /** kpageflags as a hex string (64 bits do not fit a JSON number exactly). */
  rawFlags: string;
  mapCount: number;
}

export interface PagesJson {
  schema: typeof PAGES_SCHEMA;
  time: string;
  host: string;
  source: string;
  kernel: string | null;
  pageSizeBytes: number;
  frames: {
    /** False when kpageflags/kpagecount could not be read; the zone, buddy and CMA parts remain. */
    read: boolean;
    unavailable: string | null;
    startPfn: number;
    endPfn: number;
    framesRead: number;
    /** How /proc/iomem was used: "System RAM" ranges mark holes; null when it could not be read or was hidden. */
    ramRanges: { startPfn: number; endPfn: number }[] | null;
  };
  kinds: PageKindJson[];
  zones: ZoneFramesJson[];
  nodes: NodeFramesJson[];
  /** Frames inside System RAM but in no zone's span, by kind. */
  outsideZonesKindPages: number[] | null;
  reconciliation: ReconcileRowJson[];
  buddy: { pageblockOrder: number | null; zones: BuddyZoneJson[] } | null;
  cma: CmaJson | null;
  map?: FrameMapJson;
  notes: string[];
}

/** GET /api/v1/pages: the report over a frame range, with a block map (the dashboard's "Physical memory" view). */
export interface PagesBody {
  type: 'pages';
  /** MESSAGES_WIRE_VERSION (src/wire/messages.ts). */
  v: number;
  report: PagesJson;
}

/** GET /api/v1/pages/frames: single frames with their flags, the deepest zoom. */
export interface FramesBody {
  type: 'frames';
  v: number;
  frames: FrameDetailJson[];
}

/** Frames shown one by one (the server refuses more in one request). */
export const MAX_DETAIL_FRAMES = 4096;
/** Cells of the dashboard's map at most. */
export const MAX_MAP_CELLS = 16384;
