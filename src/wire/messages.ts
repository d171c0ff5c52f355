// HTTP API responses and WebSocket messages of `memlens serve`. These types are the spec of the
// dashboard protocol: the server builds them, the browser (web/) reads them. Every message is a
// discriminated union member keyed on `type` and carries `v` = MESSAGES_WIRE_VERSION.
// Bump the version and note the change here when a field changes meaning or disappears.
//
// Conventions: sizes are bytes (numbers: memory sizes fit in 2^53), times are milliseconds since
// the epoch. A figure that could not be read (permission, tracing off, remote host) is `null` and
// the page shows "n/a": never 0. Every figure read from /proc carries the time it was read, so the
// page can show how old it is.
//
// What enters the server (WebSocket client messages, query strings) is validated with zod in
// messages-input.ts; this file has no runtime dependency, so the browser bundle stays small.
//
// Changes within version 1 (additions only: no field changed meaning or disappeared, so a page or
// client written for the first set keeps working):
// - the dirty-pages watch of `memlens serve --dirty-watch PID`: GET /api/v1/dirty (DirtyBody),
//   UpdateMessage.dirty, SubscribeMessage.dirty.
// - why a figure is n/a: ProcessRow.unavailable.
// - the PSS history of every process over the last hour with its growth: ProcessesBody.pssHistory.
// - the pie of PSS or of requested memory, over live processes unless exited ones are asked for:
//   PieBody.figure and PieBody.exitedIncluded, GET /api/v1/pie?figure=&exited=,
//   SubscribeMessage.pie. Without them the pie is requested memory of live processes (exited ones
//   used to be included).
// - the stored /proc history: GET /api/v1/history (HistoryBody).
// - ProcessRow.reservedBytes (PROT_NONE address space). With it, ProcessRow.requestedBytes and
//   requestedRatio count only accessible mappings (they counted mmap − munmap, PROT_NONE
//   reservations included, which put Chromium at thousands of percent of total virtual memory).
// - StatusBody.readOnly: the archive `memlens serve --from ARCHIVE` shows (absent or null: live).
// - the processes table as changes (PROCESSES_DELTA_VERSION 1): a client that subscribes with
//   `processesDelta: 1` gets the local host's table whole once (UpdateMessage.processes, whose
//   `table` numbers it), then only the rows that changed (UpdateMessage.processesDelta, applied by
//   applyProcessesDelta of processes-delta.ts). A client that does not ask gets the whole table
//   with every change, as before.
import type {
  DirtyMethod,
  DirtyRangeJson,
  DirtyRoundJson,
  DirtyWatchJson,
  HugePageAreaJson,
  TouchedAreaJson,
} from './dirty.js';
import type { LostCounts, MemCall, MemEventJson } from './events.js';

export const MESSAGES_WIRE_VERSION = 1;
type V = typeof MESSAGES_WIRE_VERSION;

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Where a tracer stands. `unavailable` carries the one-line reason (e.g. "needs root"). */
export type TracingState =
  | { state: 'running'; backend: string; sinceMs: number }
  | { state: 'unavailable'; reason: string }
  | { state: 'disabled'; reason: string };

/** How the /proc sampler is doing: how often it samples and what one sample costs. */
export interface SamplerState {
  /** Current interval between samples (adapted to the CPU budget). */
  intervalMs: number;
  /** Share of one core the sampler may use, e.g. 0.015. */
  cpuBudget: number;
  /** Wall time the last complete sample describes; null before the first. */
  lastSampleMs: number | null;
  /** CPU time (user + system) the last sample cost. */
  lastCostMs: number | null;
  /** Processes whose PSS could not be read (permission) in the last sample. */
  pssUnavailable: number;
  /**
   * Processes whose smaps_rollup the last sample did not read again: their own counters in status
   * had not moved, so the earlier reading was kept (its time is the row's pssAtMs).
   */
  pssDeferred: number;
  processes: number;
  /** A human line when the sampler cannot run at all (else null). */
  error: string | null;
}

/**
 * Why a figure of a process row is null (the page shows "n/a" and this reason):
 * - `exited`: the process has gone; only the tracer's totals remain;
 * - `permission`: /proc/PID/smaps_rollup (or status) could not be read by memlens's user;
 * - `not-sampled`: the process started after the last /proc sample (the sampler's interval grows
 *   with its cost, up to a minute), so its /proc figures have not been read yet;
 * - `no-tracing`: the figure comes from the tracer, and tracing is not running;
 * - `not-measured`: the running tracer does not measure this figure;
 * - `remote`: another host's row: only what the store recorded exists here.
 */
export type Unavailable = 'exited' | 'permission' | 'not-sampled' | 'no-tracing' | 'not-measured' | 'remote';

/** The figures of a row that can be n/a. */
export type RowFigure = 'requested' | 'reserved' | 'mappedNow' | 'rss' | 'pss' | 'uss' | 'swap' | 'calls';

/** One row of the processes table. */
export interface ProcessRow {
  pid: number;
  /** comm: at most 15 bytes, chosen by the process itself (treat as untrusted text). */
  name: string;
  /** The command line, NULs turned into spaces; null when unreadable. Untrusted text. */
  cmdline: string | null;
  /**
   * Bytes mapped with some access (PROT_READ, WRITE or EXEC), per the tracer's address-space model
   * (seeded from /proc/PID/maps, kept from mmap, munmap, brk, mremap and mprotect). Null without
   * tracing; for a host known only from the store, Σ mmap − Σ munmap (never below 0).
   */
  requestedBytes: number | null;
  /**
   * Bytes mapped with PROT_NONE: address space reserved and never usable until mprotect makes it
   * accessible, so never backed by memory or swap. reserved + requested = everything mapped.
   * Null without tracing, and for a host known only from the store.
   */
  reservedBytes: number | null;
  /** requestedBytes / (MemTotal + SwapTotal): reserved bytes take no share. Null when either is unknown. */
  requestedRatio: number | null;
  /** Bytes mapped right now per the tracer's address-space model (or VmSize when untraced). */
  mappedNowBytes: number | null;
  rssBytes: number | null;
  /** Null when smaps_rollup is unreadable (permission) or not yet read within the budget. */
  pssBytes: number | null;
  /**
   * USS: pages only this process maps (Private_Clean + Private_Dirty of smaps_rollup), read with
   * PSS from the same file. Added in v1 without a bump: older clients ignore it.
   */
  ussBytes: number | null;
  swapBytes: number | null;
  /** Time the /proc figures (rss, pss, swap) of this row were read. */
  sampledAtMs: number | null;
  /** Time the PSS figure was read (smaps_rollup is read less often than status). */
  pssAtMs: number | null;
  /** Calls the tracer attributed to this process since serve started. */
  calls: number | null;
  /** False once the process has exited (rows linger while the tracer still accounts them). */
  alive: boolean;
  /** For each figure above that is null, why; a figure with a value has no entry. */
  unavailable: Partial<Record<RowFigure, Unavailable>>;
}

/** What the pie divides: PSS (resident memory, shared pages divided among their users) or requested memory. */
export type PieFigure = 'pss' | 'requested';

export interface PieSlice {
  /** The process name, or "others" for the remainder. */
  label: string;
  /** Null for the "others" slice. */
  pid: number | null;
  bytes: number;
}

/** A node of the system picture: MemTotal → categories → processes → mapping kinds. */
export interface LedgerNode {
  name: string;
  /** Null when unknown; the node is then drawn as "n/a", not as 0. */
  bytes: number | null;
  /** Short explanation shown in the tooltip (e.g. which /proc fields it comes from). */
  note?: string;
  children?: LedgerNode[];
}

/** One of the several definitions of "used memory", side by side. */
export interface UsedDefinitionRow {
  name: string;
  bytes: number | null;
  /** The formula, e.g. "MemTotal − MemAvailable". */
  formula: string;
}

/** Totals of one mapping kind within a process (anonymous, file, heap, stack, shmem, …). */
export interface MappingKindRow {
  kind: string;
  count: number;
  sizeBytes: number;
  rssBytes: number | null;
  pssBytes: number | null;
}

/** A point of a process's memory over time. */
export interface ProcessPoint {
  tMs: number;
  rssBytes: number | null;
  pssBytes: number | null;
  /** USS: pages only this process maps (Private_Clean + Private_Dirty of smaps_rollup). Added in v1 without a bump: older clients ignore it. */
  ussBytes: number | null;
  swapBytes: number | null;
  mappedNowBytes: number | null;
  requestedBytes: number | null;
  /** ProcessRow.reservedBytes at this time (PROT_NONE address space). */
  reservedBytes: number | null;
}

/** A point of the system timeline: one value per category of `TimelineBody.categories`. */
export interface TimelinePoint {
  tMs: number;
  bytes: (number | null)[];
}

// ---------------------------------------------------------------------------------------------
// HTTP responses (GET /api/v1/…)

export interface StatusBody {
  type: 'status';
  v: V;
  /** The host this server samples and traces. */
  host: string;
  /** The host whose data this body describes (differs when a remote host is selected). */
  selectedHost: string;
  serverTimeMs: number;
  tracing: TracingState;
  lost: LostCounts;
  sampler: SamplerState;
  memTotalBytes: number | null;
  swapTotalBytes: number | null;
  /** MemTotal + SwapTotal: the denominator of every percentage on the page. */
  totalVirtualBytes: number | null;
  /** Events stored for the selected host; null while unknown. */
  storedEvents: number | null;
  /** "sqlite:…" or "mysql://host/db" (never a password). */
  store: string;
  /** Set when the server shows a capture archive (`memlens serve --from`): nothing is sampled or traced. */
  readOnly?: ReadOnlyArchive | null;
}

/** The capture archive a read-only server shows: one snapshot or a series of them. */
export interface ReadOnlyArchive {
  /** The archive's file name. */
  archive: string;
  /** The host it was captured on. */
  host: string;
  /** Complete snapshots replayed. */
  snapshots: number;
  /** 1 when the archive ended inside a snapshot (a capture cut short), skipped; else 0. */
  truncated: number;
  /** Time of the first and the last snapshot. */
  fromMs: number;
  toMs: number;
}

/** One process's PSS over the last hour, for the sparkline of its row. */
export interface PssSeries {
  pid: number;
  /** Points oldest first, at most PssHistory.maxPoints, picked evenly from the points the server keeps. */
  tMs: number[];
  pssBytes: (number | null)[];
  /**
   * Least-squares slope of PSS over the last 5 minutes and the last hour, bytes per second; null
   * with fewer than two points in the window.
   */
  growth5mBytesPerS: number | null;
  growth1hBytesPerS: number | null;
}

/** PSS history of the processes of the table, kept by the server in memory. */
export interface PssHistory {
  /** The sparklines' common time axis: from an hour before the newest sample (or the first sample) to the newest. */
  fromMs: number;
  toMs: number;
  maxPoints: number;
  series: PssSeries[];
}

/**
 * The processes table as a change from an earlier one (see SubscribeMessage.processesDelta). Row
 * order carries no meaning in either form (the page sorts): a table is its set of rows by pid.
 */
export interface ProcessesDelta {
  /** The table this change applies to: the `table` of the body or change the client holds. */
  baseTable: number;
  /** The table the change leads to: the base for the next one. */
  table: number;
  /** As in ProcessesBody (always the local host: another host's table is sent whole). */
  host: string;
  atMs: number | null;
  totalVirtualBytes: number | null;
  /** Rows new since the base table or changed in any figure, whole. */
  rows: ProcessRow[];
  /** Pids of the base table's rows that the table no longer has. */
  removed: number[];
  /** Present only when the PSS history changed (after a sample): it replaces the base's whole. */
  pssHistory?: PssHistory | null;
}

/** The version of ProcessesDelta a client can apply (SubscribeMessage.processesDelta). */
export const PROCESSES_DELTA_VERSION = 1;

export interface ProcessesBody {
  type: 'processes';
  v: V;
  host: string;
  /** Time of the newest figure in the body. */
  atMs: number | null;
  totalVirtualBytes: number | null;
  rows: ProcessRow[];
  /** True for a remote host: only the store's per-process totals exist, /proc figures are n/a. */
  remote: boolean;
  /** Null for a remote host (no /proc samples). */
  pssHistory: PssHistory | null;
  /**
   * The local host's table is numbered (it grows with every change): the base of the changes sent
   * to a client that asked for them (ProcessesDelta.baseTable). Absent for another host.
   */
  table?: number;
}

export interface PieBody {
  type: 'pie';
  v: V;
  host: string;
  /** The figure divided. */
  figure: PieFigure;
  /** Whether exited processes take part (by default they do not). */
  exitedIncluded: boolean;
  /** Top 10 by the figure, then "others" (only when there are more than 10). */
  slices: PieSlice[];
  /** How many processes the "others" slice holds. */
  othersCount: number;
  /** The sum of the slices (kept under this name for pages written for the requested-only pie). */
  totalRequestedBytes: number;
}

export interface LedgerBody {
  type: 'ledger';
  v: V;
  host: string;
  atMs: number | null;
  /** Null before the first sample or for a remote host. */
  root: LedgerNode | null;
  used: UsedDefinitionRow[];
}

export interface EventsBody {
  type: 'events';
  v: V;
  host: string;
  /** Newest first. */
  rows: MemEventJson[];
  /** Cursor for the next (older) page, or null at the end. Opaque. */
  next: string | null;
}

export interface EventCountBody {
  type: 'event-count';
  v: V;
  host: string;
  count: number;
  /** True when more events match than were counted: `count` is then a lower bound (EVENT_COUNT_CAP). */
  capped: boolean;
}

/**
 * How many matching events a filtered count counts at most. A count by pid or name reads each
 * matching event's row (no index holds the host with them): 0.7–1.1 s for the busiest process of
 * a store of 10 million events, on the server's thread (bench/serve/large-store.ts). Beyond this
 * many the answer is "more than", which the calls table says so.
 */
export const EVENT_COUNT_CAP = 10_000;

export interface ProcessDetailBody {
  type: 'process';
  v: V;
  host: string;
  row: ProcessRow;
  /** Null when the mappings could not be read (permission, vanished, remote host). */
  mappings: MappingKindRow[] | null;
  mappingsAtMs: number | null;
  mappingsError: string | null;
  history: ProcessPoint[];
}

export interface TimelineBody {
  type: 'timeline';
  v: V;
  host: string;
  categories: string[];
  points: TimelinePoint[];
}

/** A process instance of the history: a pid and its start time (stat field 22) name it for good. */
export interface HistoryProcess {
  pid: number;
  startTicks: number;
  /** comm as last seen: untrusted text. */
  name: string;
  /** The highest PSS of the window. */
  maxPssBytes: number;
  /** Mean PSS of the window's first and last bucket: how much it grew. */
  firstPssBytes: number;
  lastPssBytes: number;
}

/** One process's PSS over the window: [time, mean, lowest, highest] per bucket. */
export interface HistorySeries {
  pid: number;
  startTicks: number;
  name: string;
  points: [number, number, number, number][];
}

/** A window of the stored /proc history (GET /api/v1/history). */
export interface HistoryBody {
  type: 'history';
  v: V;
  host: string;
  fromMs: number;
  toMs: number;
  /** Where the figures come from: "every sample", "1 minute" or "1 hour" buckets. */
  tier: string;
  /** Width of a point after merging buckets to fit the request (0: every sample as it came). */
  bucketMs: number;
  /** Ledger categories: key (stable) and label. */
  categories: { key: string; name: string }[];
  /** Per point: its time and, per category, the mean, lowest and highest bytes (null: no data). */
  points: { tMs: number; avg: (number | null)[]; min: (number | null)[]; max: (number | null)[] }[];
  /** The window's processes with the highest PSS, highest first (at most 40). */
  processes: HistoryProcess[];
  /** The series drawn: those asked for, else the top few of `processes`. */
  series: HistorySeries[];
  /** Resolution of the process series (they start at the minute tier). */
  seriesBucketMs: number;
  /** The oldest time the history holds for the host (null: empty). */
  oldestMs: number | null;
}

export interface HostsBody {
  type: 'hosts';
  v: V;
  local: string;
  hosts: string[];
}

// ---------------------------------------------------------------------------------------------
// The dirty-pages watch (`memlens serve --dirty-watch PID`): the series of rounds of
// `memlens dirty PID --watch`, built from the types of its `--json` output (dirty.ts).

/** One round of the watch: the `--json` round, with when it was read and the verdict after it. */
export interface DirtyRoundPoint extends DirtyRoundJson {
  /** When the round's reading was taken. */
  atMs: number;
  /** The series had converged after this round (the rule of convergence.ts, judged at that round). */
  converged: boolean;
}

/** A round's pages summed per mapping name (every area of one file, or of one kind, together). */
export interface DirtyMappingPages {
  mapping: string;
  /** Pages written (soft-dirty) or touched (accessed) in the round. */
  pages: number;
  /** Soft-dirty pages of new or grown areas: not writes, never added to `pages`. */
  newMappingPages: number;
}

/**
 * - `running`: rounds are being measured;
 * - `stopped`: the watch ended (`stopReason` says why: the process exited, it converged under
 *   --dirty-until-stable, --dirty-max-rounds was reached, the server is stopping); its rounds stay;
 * - `failed`: reading the process failed (e.g. permission lost); its rounds so far stay;
 * - `unavailable`: no watch runs (the kernel has no soft-dirty tracking and no fallback was asked);
 *   nothing was cleared.
 */
export type DirtyWatchStatus = 'running' | 'stopped' | 'failed' | 'unavailable';

/** Everything about the watch but its series: small, sent whole with every change. */
export interface DirtyWatchHead {
  /** When the watch began; it identifies the watch (a page holding another one's rounds starts over). */
  startedAtMs: number;
  pid: number;
  /** /proc/PID/comm when the watch began: chosen by the process itself, untrusted text. */
  name: string;
  pageSize: number;
  /** The round trip on memlens's own memory that tells whether this kernel tracks soft-dirty pages. */
  softDirty: { supported: boolean; probe: string };
  method: DirtyMethod;
  /** What a count means: "pages written" or "pages touched (read or written)" (DIRTY_MEANING). */
  meaning: string;
  state: DirtyWatchStatus;
  /** Why the watch is stopped, failed or unavailable, in one sentence; null while running. */
  reason: string | null;
  /** Set once the watch has stopped. */
  stopReason: DirtyWatchJson['stopReason'] | null;
  /** The length of a round asked for (each round's `intervalMs` is the one measured). */
  intervalMs: number;
  /** Whether the watch stops at convergence (--dirty-until-stable) or keeps watching. */
  untilStable: boolean;
  rule: DirtyWatchJson['rule'];
  /** Rounds measured since the watch began (the series keeps the newest `keptRounds`). */
  rounds: number;
  keptRounds: number;
  converged: boolean;
  /** Steady rounds in a row after the newest round (the rule needs `rule.stableRounds`). */
  steadyRounds: number;
  /** The round at which the current converged stretch began; null when not converged. */
  convergedSinceRound: number | null;
  /** As in `--json`: converged, the mean count of the steady rounds; otherwise the newest round's count. */
  workingSetPages: number | null;
  workingSetBytes: number | null;
  /** When the newest round was read; null before the first. */
  lastRoundAtMs: number | null;
  /** The newest round's written ranges (soft-dirty), by address: the 500 largest when there are more. */
  ranges: DirtyRangeJson[];
  /** How many written ranges the newest round had in all. */
  rangesTotal: number;
  /** The newest round's soft-dirty ranges in new or grown areas (not writes), likewise at most 500. */
  newMappingRanges: DirtyRangeJson[];
  newMappingRangesTotal: number;
  /** Accessed method: the newest round's touched pages per area, by address, likewise at most 500. */
  areas: TouchedAreaJson[];
  areasTotal: number;
  /** The newest round's pages per mapping name, most pages first. */
  byMapping: DirtyMappingPages[];
  /** Areas holding transparent huge pages when the watch began: one write there marks 2 MiB. */
  hugePageAreas: HugePageAreaJson[];
}

/** GET /api/v1/dirty: the watch and its series (so that a page opened late has the history). */
export interface DirtyBody {
  type: 'dirty';
  v: V;
  /** Null: the server was started without --dirty-watch. */
  watch: DirtyWatchHead | null;
  /** The kept rounds, oldest first. */
  series: DirtyRoundPoint[];
}

export interface ErrorBody {
  type: 'error';
  v: V;
  statusCode: number;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// WebSocket: server → browser

export interface HelloMessage {
  type: 'hello';
  v: V;
  host: string;
  serverTimeMs: number;
  /** The server sends at most this many `update` messages a second. */
  maxUpdatesPerSecond: number;
}

/**
 * One batched update. Each part is present only when it changed since the last update sent to
 * this client; parts are whole replacements except `calls`, which are the new calls (newest
 * first) matching the client's filter, and `processesDelta`, a change to the table the client
 * holds.
 */
export interface UpdateMessage {
  type: 'update';
  v: V;
  seq: number;
  serverTimeMs: number;
  status?: StatusBody;
  processes?: ProcessesBody;
  /** The table's change since the one the client holds (only to a client that asked for changes). */
  processesDelta?: ProcessesDelta;
  pie?: PieBody;
  ledger?: LedgerBody;
  timelinePoint?: { categories: string[]; point: TimelinePoint };
  /** Present when the client follows a process (subscribe.detailPid). */
  detailPoint?: { pid: number; point: ProcessPoint; row: ProcessRow | null };
  calls?: MemEventJson[];
  /**
   * Matching calls that were not sent because the batch was full (the browser never gets the raw
   * firehose). The page then reloads the newest page over HTTP instead of appending.
   */
  callsSkipped?: number;
  /**
   * Present when the client follows the dirty-pages watch (subscribe.dirty) and it changed: the
   * head, whole, and the rounds after the client's last one (after `subscribe.dirty.afterRound`
   * for the first update of a subscription).
   */
  dirty?: { watch: DirtyWatchHead; rounds: DirtyRoundPoint[] };
}

export type ServerMessage = HelloMessage | UpdateMessage | ErrorBody;

// ---------------------------------------------------------------------------------------------
// WebSocket: browser → server (input to the server: validated by messages-input.ts)

/** Which live calls a client wants; the same rule the store applies to the events query. */
export interface CallFilter {
  pid?: number;
  /** The process name, exactly (as the store filters it). */
  name?: string;
  call?: MemCall;
}

export interface SubscribeMessage {
  type: 'subscribe';
  v: V;
  /** Host to show; absent = the local host. */
  host?: string;
  /** Which live calls to receive; absent = none (the calls view is not open). */
  calls?: CallFilter;
  /** A process whose detail view is open. */
  detailPid?: number;
  /** Follow the dirty-pages watch; `afterRound`: the newest round the page already holds (0: none). */
  dirty?: { afterRound: number };
  /** Which pie the updates carry; absent = requested memory of live processes. */
  pie?: { figure: PieFigure; exited: boolean };
  /**
   * The ProcessesDelta version the client applies (PROCESSES_DELTA_VERSION): the local host's table
   * then comes whole once per subscription, and as changes after. Absent: whole with every change.
   */
  processesDelta?: typeof PROCESSES_DELTA_VERSION;
}

export type ClientMessage = SubscribeMessage;

/** Calls matching a live filter: the same rule the store applies to `eventsQuerySchema`. */
export function callMatches(e: { pid: number; name: string; call: MemCall; timeMs?: number }, f: CallFilter): boolean {
  if (f.pid !== undefined && e.pid !== f.pid) return false;
  if (f.call !== undefined && e.call !== f.call) return false;
  if (f.name !== undefined && f.name !== '' && e.name !== f.name) return false;
  return true;
}
