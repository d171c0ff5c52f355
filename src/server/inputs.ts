// What the dashboard server is fed with, as small interfaces: the /proc sampler, the tracer's
// per-process accounting and the event store each reach the server through an adapter
// (src/server/adapters/) that turns their own types into these. The server holds no copy of
// their logic: it aggregates, keeps a short history and serves.
import type { MemEvent } from '../wire/events.js';
import type { HistoryBody, LedgerNode, MappingKindRow, UsedDefinitionRow } from '../wire/messages.js';

/** One process as the /proc sampler last saw it. Null = unreadable (permission) or not read. */
export interface SampledProcess {
  pid: number;
  name: string;
  cmdline: string | null;
  rssBytes: number | null;
  pssBytes: number | null;
  /** USS (Private_Clean + Private_Dirty), read with PSS from smaps_rollup. */
  ussBytes: number | null;
  swapBytes: number | null;
  /** VmSize: everything mapped right now (mm->total_vm, fs/proc/task_mmu.c task_mem). */
  vmSizeBytes: number | null;
  sampledAtMs: number;
  /** When the PSS figure was read; older than sampledAtMs when smaps_rollup is read less often. */
  pssAtMs: number | null;
  /** Field 22 of /proc/PID/stat (start time, clock ticks since boot); null when unread. */
  startTime: string | null;
}

/** Figures of one process read after the last sample (the detail view reads its smaps). */
export interface FreshReading {
  rssBytes: number | null;
  pssBytes: number | null;
  atMs: number;
}

/** One complete /proc sample of the system. */
export interface SystemSample {
  atMs: number;
  host: string;
  memTotalBytes: number | null;
  swapTotalBytes: number | null;
  /** MemTotal → categories → processes → mapping kinds; null when the ledger could not be built. */
  ledger: LedgerNode | null;
  used: UsedDefinitionRow[];
  /** The ledger's top-level categories (a partition of MemTotal), for the timeline. */
  categories: { name: string; bytes: number | null }[];
  processes: SampledProcess[];
  pssUnavailable: number;
  pssDeferred: number;
}

/** The tracer's accounting of one process since tracing started. */
export interface TracedProcess {
  pid: number;
  name: string;
  /** Bytes mapped with some access (not PROT_NONE), per the tracer's address-space model. */
  requestedBytes: number;
  /** Bytes mapped with PROT_NONE: reserved address space, never backed by memory or swap. */
  reservedBytes: number;
  /** Mapped right now according to the tracer's address-space model; null if not modelled. */
  mappedNowBytes: number | null;
  calls: number;
  alive: boolean;
}

/** Per-process totals a store holds for a host (used for hosts this server does not sample). */
export interface StoredProcessTotal {
  pid: number;
  name: string;
  requestedBytes: number;
  calls: number;
}

/** The events API's filter; the store's own (EventFilter, src/store) bounds time differently. */
export interface EventViewFilter {
  host: string;
  pid?: number;
  name?: string;
  call?: MemEvent['call'];
  /** Inclusive lower bound on the event's wall-clock time (epoch ms). */
  fromMs?: number;
  /** Inclusive upper bound on the event's wall-clock time (epoch ms). */
  toMs?: number;
}

export interface EventPage {
  /** Newest first. */
  events: MemEvent[];
  next: string | null;
}

/** The read side of the event store, as the server needs it. */
export interface EventStoreView {
  /** "sqlite:/path" or "mysql://host/db": for display, never with a password. */
  readonly description: string;
  page(filter: EventViewFilter, before: string | null, limit: number): Promise<EventPage>;
  /** How many events match, counting at most `atMost` when given (the answer is then ≤ atMost). */
  count(filter: EventViewFilter, atMost?: number): Promise<number>;
  hosts(): Promise<string[]>;
  processTotals(host: string): Promise<StoredProcessTotal[]>;
}

/** Reads one process's mappings grouped by kind, on demand (only for the process detail view). */
export type MappingsReader = (pid: number) => Promise<{ rows: MappingKindRow[] } | { error: string }>;

/** Windows of the stored /proc history (history-recorder.ts), for the timeline. */
export interface HistoryReader {
  window(q: {
    host?: string;
    fromMs?: number;
    toMs?: number;
    points?: number;
    pids?: readonly { pid: number; startTicks: number }[];
  }): Promise<HistoryBody>;
}
