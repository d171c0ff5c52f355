// The `memlens memtrace --json` output (and the data embedded in the --html report).
// Wire version: bump MEMTRACE_WIRE_VERSION and note the change here when a field changes.
// All sizes are estimated bytes: sampled words / sample rate × word size (memtrace's own
// estimate, memtrace_viewer's bytes_of_nsamples). Times are seconds since the trace start
// unless named ...Us (µs since the Unix epoch).

// v2: leakVerdicts (why a site is or is not a leak suspect), lwtPromises (Lwt's promises by
//     creation site) and taskCounts (exact task counts written by the recording library).
// v3: lwtPromises.sites[].promisesBelow95 (a bound for a site whose promises were never sampled).
export const MEMTRACE_WIRE_VERSION = 3;

export type Owner = 'app' | 'lwt';

export interface MemtraceWireFrame {
  defname: string;
  filename: string;
  line: number;
  startChar: number;
  endChar: number;
}

export interface MemtraceWireTrace {
  path: string;
  formatVersion: number;
  executable: string;
  host: string;
  pid: string;
  sampleRate: number;
  wordSizeBits: number;
  ocamlRuntimeParams: string;
  context: string | null;
  startTimeUs: number;
  endTimeUs: number;
  durationS: number;
  /** Estimated bytes one sample stands for: word size / sample rate. */
  bytesPerSample: number;
}

export interface MemtraceWireEvents {
  allocations: number;
  promotions: number;
  collections: number;
  locations: number;
}

export interface MemtraceWireIntegrity {
  ok: boolean;
  packets: number;
  cacheVerifierChecks: number;
  cacheVerifierFailures: number;
  allocIdChecks: number;
  allocIdMismatches: number;
  wrongPidPackets: number;
  corruptPackets: number;
  locationErrors: number;
  unknownLocationCodes: number;
  inconsistentLocations: number;
  nonMonotoneTimes: number;
  truncatedBacktraces: number;
  orphanPromotions: number;
  orphanCollections: number;
  truncated: boolean;
  warnings: string[];
}

/** Bytes split between Lwt's own machinery and the application. */
export interface MemtraceWireSplit {
  totalBytes: number;
  lwtBytes: number;
  appBytes: number;
}

export interface MemtraceWireTotals {
  allocated: MemtraceWireSplit;
  allocatedMinorBytes: number;
  allocatedMajorBytes: number;
  allocatedExternalBytes: number;
  promotedBytes: number;
  collectedBytes: number;
  collectedMinorBytes: number;
  collectedMajorBytes: number;
  liveEnd: MemtraceWireSplit;
  livePeak: MemtraceWireSplit;
  peakTimeS: number;
}

export interface MemtraceWireBin {
  tS: number;
  liveBytes: number;
  allocatedBytes: number;
  collectedBytes: number;
  promotedBytes: number;
}

export interface MemtraceWireLifetime {
  /** Collected while still in the minor heap. */
  collectedYoungBytes: number;
  /** Promoted to the major heap, then collected. */
  promotedCollectedBytes: number;
  /** Allocated directly in the major heap (or external), then collected. */
  majorCollectedBytes: number;
  /** Still live at the end of the trace. */
  neverCollectedBytes: number;
  /** Mean lifetime of the collected samples, seconds (null if none was collected). */
  meanLifetimeS: number | null;
}

export interface MemtraceWireSite {
  id: number;
  /** 'lwt': allocated inside Lwt's machinery on behalf of `frame`; 'app': allocated by `frame`. */
  owner: Owner;
  /**
   * The frame the site is named after: the first frame, from the allocation point outwards,
   * outside Lwt and the standard library (see README); null if unknown.
   */
  frame: MemtraceWireFrame | null;
  /** The innermost frame, when it is not `frame` (e.g. Stdlib__Bytes.make). */
  allocationPoint: MemtraceWireFrame | null;
  label: string;
  allocations: number;
  allocatedBytes: number;
  liveEndBytes: number;
  livePeakBytes: number;
  promotedBytes: number;
  lifetime: MemtraceWireLifetime;
}

/** Memory by Lwt task: the root frames written by the memlens OCaml recording library. */
export interface MemtraceWireTask {
  name: string;
  allocatedBytes: number;
  /** Of allocatedBytes, allocated inside Lwt's machinery. */
  lwtAllocatedBytes: number;
  liveEndBytes: number;
  livePeakBytes: number;
}

/** Lwt calls (promise constructors) by creation site (v2; src/analyses/memtrace/promises.ts). */
export interface MemtraceWirePromiseSite {
  /** The first application frame above the Lwt call; null if the stack has none. */
  frame: MemtraceWireFrame | null;
  label: string;
  /** The Lwt function the application called ("Lwt.bind", "Lwt.wait", "Lwt.pause", ...). */
  via: string;
  /** Pending promises created, estimated from the samples (null: W unknown, see lwtPromises). */
  promises: number | null;
  /** Binomial standard error of `promises`. */
  promisesStdErr: number | null;
  /** Samples of the promises' own blocks (the estimate's basis). */
  promiseSamples: number;
  /**
   * v3. For a site none of whose promise blocks was sampled (promises 0, standard error 0, which
   * says nothing of how many there were): the count below which that happens 95 % of the time
   * (src/analyses/memtrace/report.ts, promiseBound95). null when a block was sampled, when W is
   * unknown, or at rate 1 (every word sampled: none is then exactly none).
   */
  promisesBelow95: number | null;
  /** Everything Lwt allocated in these calls: promises, callbacks and what they capture. */
  allocatedBytes: number;
  livePeakBytes: number;
  liveEndBytes: number;
  /** Mean time from a promise's allocation to its collection by the GC, seconds. */
  meanPromiseLifetimeS: number | null;
  /** Promise samples still live at the end of the trace. */
  promiseSamplesLiveEnd: number;
}

/** What "< N" in a promise count means, in every view that shows one (promisesBelow95). */
export const PROMISES_BELOW_NOTE =
  "< N: none of the site's promise blocks was sampled; with N promises or more, that happens less than 5 % of the time";

export interface MemtraceWireLwtPromises {
  /** W: words (headers included) of one pending promise's blocks; 0 when no promise was sampled. */
  wordsPerPromise: number;
  /** The distinct promise blocks seen (Lwt's new_pending allocation points and sizes with header). */
  promiseBlocks: { point: string; words: number }[];
  promises: number | null;
  promisesStdErr: number | null;
  /** Lwt's own machinery: share of all allocated bytes, of the live peak and of the end. */
  overhead: { allocatedShare: number; livePeakShare: number; liveEndShare: number };
  /** Largest promise count first, then bytes allocated (at most --top × 2 sites). */
  sites: MemtraceWirePromiseSite[];
}

/** Exact counts per Lwt task, written by Memlens_trace_lwt.count_tasks (v2). */
export interface MemtraceWireTaskCount {
  name: string;
  started: number;
  finished: number;
}

export interface MemtraceWireLeak {
  siteId: number;
  label: string;
  owner: Owner;
  liveEndBytes: number;
  /** Share of the end's live memory held by this site. */
  shareOfEndLive: number;
  /** live at end / allocated: how much of what the site allocated is never freed. */
  retainedFraction: number;
  /** Least-squares growth of the site's live bytes, bytes per second. */
  growthBytesPerS: number;
  /** Fraction of time steps in which the site's live bytes did not fall. */
  risingFraction: number;
  /** The site's live bytes at each timeline bin (same bins as `timeline`). */
  curve: number[];
}

/** Why a site that holds memory at the end is, or is not, a leak suspect (v2). */
export interface MemtraceWireLeakVerdict {
  siteId: number;
  label: string;
  owner: Owner;
  liveEndBytes: number;
  shareOfEndLive: number;
  suspect: boolean;
  /** The rule that decided (docs/memtrace.md, "Leak suspects"); 'suspect' when every rule passed. */
  rule:
    | 'suspect'
    | 'too-short'
    | 'not-rising'
    | 'one-jump'
    | 'warm-up'
    | 'young-garbage'
    | 'given-back'
    | 'kept-until-exit';
  reason: string;
}

export interface MemtraceWireRaceSite {
  siteId: number;
  label: string;
  owner: Owner;
  /** Growth of this site's live bytes across the window. */
  growthBytes: number;
  shareOfGrowth: number;
  /** Fraction of that growth gone again by the end of the trace. */
  reclaimedFraction: number;
}

export interface MemtraceWireWindow {
  /** 'gc-swing' added in v1 after the first traces of real programs (no field changed). */
  kind: 'race' | 'gc-cycle' | 'gc-swing' | 'leak' | 'retained';
  startS: number;
  endS: number;
  growthBytes: number;
  allocatedBytesPerS: number;
  collectedBytesPerS: number;
  /** Of the window's allocations still live at its end, the share freed later in the trace. */
  freedLaterFraction: number;
  /** When live memory fell back near its level before the window (null: it did not). */
  settledAtS: number | null;
  sites: MemtraceWireRaceSite[];
  explanation: string;
}

export interface MemtraceWireReport {
  schema: 'memlens.memtrace';
  version: typeof MEMTRACE_WIRE_VERSION;
  trace: MemtraceWireTrace;
  events: MemtraceWireEvents;
  integrity: MemtraceWireIntegrity;
  totals: MemtraceWireTotals;
  timeline: { binWidthS: number; bins: MemtraceWireBin[] };
  lwt: { prefixes: string[] };
  /** Every site, in id order. Rankings are lists of site ids, largest first. */
  sites: MemtraceWireSite[];
  rankings: { byAllocated: number[]; byLiveEnd: number[]; byLivePeak: number[] };
  /** Memory by Lwt task, largest allocation first (empty without task frames). */
  tasks: MemtraceWireTask[];
  /** v2: Lwt's promises by creation site, and Lwt's overhead. */
  lwtPromises: MemtraceWireLwtPromises;
  /** v2: exact task counts from the recording library; empty when the trace has none. */
  taskCounts: MemtraceWireTaskCount[];
  leaks: MemtraceWireLeak[];
  /** v2: every leak suspect and the other sites holding the most at the end, with the reason. */
  leakVerdicts: MemtraceWireLeakVerdict[];
  /** Allocation races: growth windows whose memory was freed again later. */
  races: MemtraceWireWindow[];
  /** Every sustained growth window, races included, with its classification. */
  growthWindows: MemtraceWireWindow[];
  steadyState: { steady: boolean; reason: string };
}

/** The flame graph's data: frames ([label, 1 if Lwt]) and stacks ([frame indexes caller first, bytes]). */
export interface MemtraceWireFlame {
  frames: [string, number][];
  stacks: [number[], number][];
}

/** GET /api/v1/memtrace/files of `memlens serve --memtrace-dir DIR` (dashboard API version). */
export interface MemtraceFilesBody {
  type: 'memtrace-files';
  v: number;
  /** null: the server was started without --memtrace-dir. */
  dir: string | null;
  files: { name: string; sizeBytes: number; mtimeMs: number }[];
}

/** GET /api/v1/memtrace/report?file=NAME. */
export interface MemtraceReportBody {
  type: 'memtrace-report';
  v: number;
  report: MemtraceWireReport;
  flame: MemtraceWireFlame;
}
