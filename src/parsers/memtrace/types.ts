// The typed values the memtrace reader produces. The format is memtrace's own CTF dialect
// (janestreet/memtrace, src/trace.ml and src/memtrace.tsdl; the TSDL there predates the
// current field layout, src/trace.ml is authoritative).

/** Where an allocation was sampled from (the u8 `source` field of the alloc event). */
export const AllocSource = { minor: 0, major: 1, external: 2 } as const;
export type AllocSource = (typeof AllocSource)[keyof typeof AllocSource];

/** The single trace_info event of the first packet. */
export interface TraceInfo {
  /** Format version of the first packet: 1, 2 or 3. */
  formatVersion: number;
  /** Samples per word allocated (header word included). */
  sampleRate: number;
  /** 32 or 64. */
  wordSizeBits: number;
  executableName: string;
  hostName: string;
  ocamlRuntimeParams: string;
  pid: bigint;
  /** Only in format v2 and later; undefined when absent or empty. */
  context: string | undefined;
  /** Microseconds since the Unix epoch. */
  startTimeUs: number;
}

/** One source location; a location code maps to several when functions were inlined. */
export interface SourceLocation {
  filename: string;
  line: number;
  startChar: number;
  endChar: number;
  defname: string;
}

/**
 * Receives the decoded events in file order. Numbers instead of objects so the hot path does
 * not allocate. `stack` is a node of the reader's StackTrie (0 = empty backtrace).
 */
export interface MemtraceVisitor {
  info?(info: TraceInfo): void;
  alloc(
    id: number,
    timeUs: number,
    lengthWords: number,
    nsamples: number,
    source: AllocSource,
    stack: number,
    domain: number,
  ): void;
  promote(id: number, timeUs: number, domain: number): void;
  collect(id: number, timeUs: number, domain: number): void;
}

/** The format's own integrity checks and the reader's recoveries, counted. */
export interface MemtraceIntegrity {
  packets: number;
  /** Packets skipped because their pid is not the traced one (fork safety, as memtrace does). */
  wrongPidPackets: number;
  cacheVerifierChecks: number;
  cacheVerifierFailures: number;
  allocIdChecks: number;
  allocIdMismatches: number;
  /** Packets whose decoding stopped early on bad data (the rest of the packet was skipped). */
  corruptPackets: number;
  /** Location events that could not be decoded (e.g. memtrace <= 0.2.3's column clamping). */
  locationErrors: number;
  /** A location code defined twice with different locations. */
  inconsistentLocations: number;
  /** Events whose timestamp went backwards within a domain. */
  nonMonotoneTimes: number;
  /** Alloc events whose common prefix exceeded the previous backtrace (memtrace #15 rule). */
  truncatedBacktraces: number;
  /** The file ended inside a packet (a killed program): analysed up to there. */
  truncated: boolean;
  /** Bytes after the last decodable packet that were not read. */
  trailingBytes: number;
  /** Human-readable warnings, one line each, deduplicated; capped. */
  warnings: string[];
}

export function emptyIntegrity(): MemtraceIntegrity {
  return {
    packets: 0,
    wrongPidPackets: 0,
    cacheVerifierChecks: 0,
    cacheVerifierFailures: 0,
    allocIdChecks: 0,
    allocIdMismatches: 0,
    corruptPackets: 0,
    locationErrors: 0,
    inconsistentLocations: 0,
    nonMonotoneTimes: 0,
    truncatedBacktraces: 0,
    truncated: false,
    trailingBytes: 0,
    warnings: [],
  };
}

/** Event counts: the number of events of each kind in the trace. */
export interface MemtraceEventCounts {
  allocations: number;
  promotions: number;
  collections: number;
  locations: number;
}
