// The server's picture of the present and the recent past: the last /proc sample, the tracer's
// accounting, the newest events and a bounded history. The sampler and the tracer write into it;
// the HTTP routes, the WebSocket hub and /metrics read from it. Each part has a version number
// that grows when it changes, so that the hub sends a part only when it is new.
import type { LostCounts, MemCall, MemEvent } from '../wire/events.js';
import { MEM_CALLS } from '../wire/events.js';
import type {
  PieFigure,
  ProcessPoint,
  ProcessRow,
  PssHistory,
  SamplerState,
  TimelinePoint,
  TracingState,
} from '../wire/messages.js';
import { memPlusSwapBytes, processPie, ProcessRowsBuilder } from './aggregate.js';
import type { FreshReading, SystemSample, TracedProcess } from './inputs.js';
import { InMemoryProcessHistory } from './process-history.js';
import type { ProcessHistory } from './process-history.js';
import { Ring } from './ring.js';
import { initialSamplerState } from './sampler.js';

export type Part = 'status' | 'processes' | 'ledger' | 'timeline';

export interface LiveStateOptions {
  host: string;
  /** Timeline points kept (one per sample). */
  timelinePoints?: number;
  /** History points kept per process. */
  processPoints?: number;
  /** Newest events kept in memory for live delivery (the store keeps all of them). */
  recentEvents?: number;
  /** The PSS history of the processes table (default: in memory, bounded as process-history.ts says). */
  pssHistory?: InMemoryProcessHistory;
}

export interface SequencedEvent {
  seq: number;
  event: MemEvent;
}

export class LiveState {
  readonly host: string;
  readonly startedAtMs = Date.now();
  private sample: SystemSample | null = null;
  private traced: Map<number, TracedProcess> | null = null;
  private tracedAtMs: number | null = null;
  private tracingState: TracingState = { state: 'disabled', reason: 'not started' };
  private lostCounts: LostCounts = { lostEvents: 0, unpaired: 0, malformed: 0 };
  private samplerState: SamplerState = initialSamplerState();
  private readonly versions: Record<Part, number> = { status: 0, processes: 0, ledger: 0, timeline: 0 };
  private rowsCache: { version: number; rows: ProcessRow[] } | null = null;
  /** Keeps the row objects of processes whose inputs did not change (see ProcessRowsBuilder). */
  private readonly rowsBuilder = new ProcessRowsBuilder();
  /** The pids the last sample listed (goneSinceSample), built once per sample. */
  private sampledPids: { sample: SystemSample; pids: Set<number> } | null = null;
  /** Figures read after the last sample (process detail), by pid; cleared by the next sample. */
  private readonly fresh = new Map<number, FreshReading>();
  /** Scratch of applyTrace: the pids of the table it was given. */
  private readonly tracedListed = new Set<number>();
  /** When each pid of the tracer's accounting first appeared in it (bounded by that accounting). */
  private readonly tracedSince = new Map<number, number>();
  private readonly pss: InMemoryProcessHistory;
  private pssBodyCache: { version: number; body: PssHistory | null } | null = null;

  private readonly timelineRing: Ring<TimelinePoint>;
  private timelineCategories: string[] = [];
  private readonly processHistory = new Map<number, Ring<ProcessPoint>>();
  private readonly processPoints: number;

  private readonly recent: Ring<SequencedEvent>;
  private lastSeq = 0;
  /**
   * Whether a live reader (a page following the calls) may still ask for new events. Without one,
   * an event is counted and not kept: held for nobody, the newest 100,000 of them lived for
   * minutes, long enough for the garbage collector to copy each one twice and move it to the old
   * generation, where only a full collection frees it.
   */
  private eventsWanted = false;
  private readonly eventsByCall = new Map<MemCall, number>(MEM_CALLS.map((c) => [c, 0]));

  constructor(opts: LiveStateOptions) {
    this.host = opts.host;
    this.timelineRing = new Ring(opts.timelinePoints ?? 3600);
    this.processPoints = opts.processPoints ?? 720;
    // 100,000 events: a quarter second of 400,000 events/s, the whole system's calls, not one process's.
    this.recent = new Ring(opts.recentEvents ?? 100_000);
    this.pss = opts.pssHistory ?? new InMemoryProcessHistory();
  }

  version(part: Part): number {
    return this.versions[part];
  }

  private bump(...parts: Part[]): void {
    for (const p of parts) this.versions[p]++;
  }

  // ---- writers ------------------------------------------------------------------------------

  applySample(s: SystemSample): void {
    this.sample = s;
    // The timeline keeps one point per sample; categories may change between kernels only.
    const names = s.categories.map((c) => c.name);
    if (names.join('\0') !== this.timelineCategories.join('\0')) {
      this.timelineCategories = names;
      this.timelineRing.clear();
    }
    this.timelineRing.push({ tMs: s.atMs, bytes: s.categories.map((c) => c.bytes) });
    const rows = this.processRowsFor(s, this.traced);
    const alive = new Set<number>();
    const uss = new Map(s.processes.map((p) => [p.pid, p.ussBytes]));
    for (const r of rows) {
      alive.add(r.pid);
      let ring = this.processHistory.get(r.pid);
      if (ring === undefined) this.processHistory.set(r.pid, (ring = new Ring(this.processPoints)));
      ring.push({
        tMs: s.atMs,
        rssBytes: r.rssBytes,
        pssBytes: r.pssBytes,
        ussBytes: uss.get(r.pid) ?? null,
        swapBytes: r.swapBytes,
        mappedNowBytes: r.mappedNowBytes,
        requestedBytes: r.requestedBytes,
        reservedBytes: r.reservedBytes,
      });
    }
    for (const pid of this.processHistory.keys()) if (!alive.has(pid)) this.processHistory.delete(pid);
    for (const p of s.processes) this.pss.add(s.atMs, p.pid, p.startTime ?? '', p.pssBytes);
    this.pss.prune(s.atMs);
    this.fresh.clear();
    this.bump('status', 'processes', 'ledger', 'timeline');
  }

  /**
   * Figures of one process read after the last sample (the detail view reads its smaps): the row
   * shows them until the next sample, so that the table and the detail panel agree.
   */
  applyReading(pid: number, reading: FreshReading): void {
    const sampledAt = this.sample?.atMs ?? -Infinity;
    if (reading.atMs <= sampledAt) return;
    this.fresh.set(pid, reading);
    this.bump('processes');
  }

  /**
   * Puts stored PSS readings (the minute means of the history) in front of a process's in-memory
   * history, so that a restarted server shows its past. Only for a process with no history yet.
   */
  seedProcessHistory(pid: number, points: readonly { tMs: number; pssBytes: number }[]): void {
    if (this.processHistory.has(pid) || points.length === 0) return;
    const ring = new Ring<ProcessPoint>(this.processPoints);
    for (const p of points)
      ring.push({
        tMs: p.tMs,
        rssBytes: null,
        pssBytes: p.pssBytes,
        ussBytes: null,
        swapBytes: null,
        mappedNowBytes: null,
        requestedBytes: null,
        reservedBytes: null,
      });
    this.processHistory.set(pid, ring);
  }

  /**
   * The tracer's table of processes (published four times a second while it reads calls). The map
   * is kept and changed in place: a process whose figures did not move keeps its object, so its row
   * is kept as it was (ProcessRowsBuilder) and the live hub sends only the rows of the processes
   * that moved; and when none moved (calls of processes the table leaves out, or figures that came
   * back where they were) the table is not new, and nothing is built or sent again; its time
   * (tracedAt, the table's atMs) stays that of the publish that last moved it.
   */
  applyTrace(rows: readonly TracedProcess[], atMs: number): void {
    const traced = (this.traced ??= new Map<number, TracedProcess>());
    const listed = this.tracedListed;
    listed.clear();
    let moved = false;
    for (const r of rows) {
      listed.add(r.pid);
      const was = traced.get(r.pid);
      if (was !== undefined && sameTraced(was, r)) continue;
      traced.set(r.pid, r);
      moved = true;
      if (!this.tracedSince.has(r.pid)) this.tracedSince.set(r.pid, atMs);
    }
    for (const pid of traced.keys())
      if (!listed.has(pid)) {
        traced.delete(pid);
        this.tracedSince.delete(pid);
        moved = true;
      }
    // The table's time moves with the table: one table number is one content (its atMs included),
    // whichever way a client reads it.
    if (!moved) return;
    this.tracedAtMs = atMs;
    this.bump('processes');
  }

  setTracing(state: TracingState): void {
    this.tracingState = state;
    if (state.state !== 'running') {
      this.traced = null;
      this.tracedAtMs = null;
    } else if (this.traced === null) this.traced = new Map();
    this.bump('status', 'processes');
  }

  setLost(lost: LostCounts): void {
    const l = this.lostCounts;
    if (l.lostEvents === lost.lostEvents && l.unpaired === lost.unpaired && l.malformed === lost.malformed) return;
    this.lostCounts = { ...lost };
    this.bump('status');
  }

  setSampler(state: SamplerState): void {
    this.samplerState = { ...state };
    this.bump('status');
  }

  addEvents(events: readonly MemEvent[]): void {
    for (const event of events) {
      ++this.lastSeq;
      if (this.eventsWanted) this.recent.push({ seq: this.lastSeq, event });
      this.eventsByCall.set(event.call, (this.eventsByCall.get(event.call) ?? 0) + 1);
    }
  }

  /**
   * What the live readers still need: the events after `afterSeq` (the oldest position among the
   * readers), or none (null: no reader). Events up to it are let go, and with no reader the new
   * ones are only counted; a reader that starts asks from newestSeq on, so it misses nothing.
   */
  retainEventsAfter(afterSeq: number | null): void {
    this.eventsWanted = afterSeq !== null;
    const through = afterSeq ?? this.lastSeq;
    this.recent.dropOldestWhile((e) => e.seq <= through);
  }

  // ---- readers ------------------------------------------------------------------------------

  get latestSample(): SystemSample | null {
    return this.sample;
  }
  get tracing(): TracingState {
    return this.tracingState;
  }
  get lost(): LostCounts {
    return this.lostCounts;
  }
  get sampler(): SamplerState {
    return this.samplerState;
  }
  get tracedAt(): number | null {
    return this.tracedAtMs;
  }
  get totalVirtual(): number | null {
    return this.sample === null ? null : memPlusSwapBytes(this.sample.memTotalBytes, this.sample.swapTotalBytes);
  }
  get eventCountsByCall(): ReadonlyMap<MemCall, number> {
    return this.eventsByCall;
  }
  get newestSeq(): number {
    return this.lastSeq;
  }

  private processRowsFor(s: SystemSample | null, traced: Map<number, TracedProcess> | null): ProcessRow[] {
    const total = s === null ? null : memPlusSwapBytes(s.memTotalBytes, s.swapTotalBytes);
    return this.rowsBuilder.build(s?.processes ?? [], traced, total, this.fresh, this.goneSinceSample(s, traced));
  }

  /**
   * Pids the tracer accounts as running, that it knew before the last sample began, and that the
   * sample did not find: a sample lists every process of /proc when it begins, so these had
   * exited by then. The tracer misses exits when the kernel drops events (its buffer full): such
   * processes would otherwise stay "running" with n/a figures for ever.
   */
  private goneSinceSample(s: SystemSample | null, traced: Map<number, TracedProcess> | null): Set<number> {
    const gone = new Set<number>();
    if (s === null || traced === null) return gone;
    if (this.sampledPids?.sample !== s) this.sampledPids = { sample: s, pids: new Set(s.processes.map((p) => p.pid)) };
    const listed = this.sampledPids.pids;
    for (const t of traced.values()) {
      if (!t.alive || listed.has(t.pid)) continue;
      const since = this.tracedSince.get(t.pid);
      if (since !== undefined && since < s.atMs) gone.add(t.pid);
    }
    return gone;
  }

  /**
   * The processes table. A row object is never changed once built, and a process whose figures
   * did not change since the table before keeps the same object.
   */
  processRows(): ProcessRow[] {
    const v = this.versions.processes;
    if (this.rowsCache?.version !== v)
      this.rowsCache = { version: v, rows: this.processRowsFor(this.sample, this.traced) };
    return this.rowsCache.rows;
  }

  pie(figure: PieFigure = 'requested', withExited = false): ReturnType<typeof processPie> {
    return processPie(this.processRows(), figure, withExited);
  }

  /** Where the PSS history is kept: a source of older samples (the store) can seed it with `add`. */
  get pssHistory(): ProcessHistory {
    return this.pss;
  }

  /** The sparklines and growth of the table's processes, computed once per sample. */
  pssHistoryBody(): PssHistory | null {
    const v = this.versions.timeline;
    if (this.pssBodyCache?.version !== v)
      this.pssBodyCache = { version: v, body: this.pss.body(this.processRows().map((r) => r.pid)) };
    return this.pssBodyCache.body;
  }

  timeline(): { categories: string[]; points: TimelinePoint[] } {
    return { categories: this.timelineCategories, points: this.timelineRing.toArray() };
  }

  latestTimelinePoint(): TimelinePoint | undefined {
    return this.timelineRing.last();
  }

  history(pid: number): ProcessPoint[] {
    return this.processHistory.get(pid)?.toArray() ?? [];
  }

  latestHistoryPoint(pid: number): ProcessPoint | undefined {
    return this.processHistory.get(pid)?.last();
  }

  /**
   * Events with seq > afterSeq, newest first. `gap` counts events that were pushed out of the
   * in-memory ring before they could be delivered.
   */
  eventsAfter(afterSeq: number): { events: SequencedEvent[]; gap: number } {
    // Read in place, newest first: a copy of the whole ring (up to 100,000 entries) per reader and
    // tick was most of what a page following the calls cost.
    const ring = this.recent;
    const oldest = ring.at(0)?.seq ?? this.lastSeq + 1;
    const gap = Math.max(0, oldest - afterSeq - 1);
    const out: SequencedEvent[] = [];
    for (let i = ring.length - 1; i >= 0; i--) {
      const e = ring.at(i);
      if (e === undefined || e.seq <= afterSeq) break;
      out.push(e);
    }
    return { events: out, gap };
  }
}

function sameTraced(a: TracedProcess, b: TracedProcess): boolean {
  return (
    a.pid === b.pid &&
    a.name === b.name &&
    a.requestedBytes === b.requestedBytes &&
    a.reservedBytes === b.reservedBytes &&
    a.mappedNowBytes === b.mappedNowBytes &&
    a.calls === b.calls &&
    a.alive === b.alive
  );
}
