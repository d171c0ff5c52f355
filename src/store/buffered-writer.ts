// BufferedWriter: what a tracer writes through. It never blocks the tracer and never loses an event:
// events are cut into batches (each with a fresh id), committed in order by one worker; while the
// database is down, or when more than `maxMemoryEvents` wait in memory, batches go to a local spill
// file instead, and the worker drains that file first when the database answers again, retrying
// with exponential backoff. Order is kept (the spill file only ever holds batches older than the
// ones in memory) and every batch is written exactly once (the store skips a batch id it has seen).
// When the spill file cannot be written either (a full disk), batches stay in memory, stats() says
// so (spillFault), and the caller stops taking events (writer-worker.ts) so that the kernel drops
// and counts them instead; close() then reports, as lostEvents, what could be kept nowhere.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LostCounts, MemEvent } from '../wire/events.js';
import { BufferPool, EventRecords } from './event-batch-codec.js';
import { newBatchId, type EventStore, type LostDelta, type StoreBatch } from './event-store.js';
import { SpillFile } from './spill-file.js';
import { describeStorageError } from './storage-fault.js';
import type { ProcessStart } from './totals.js';
import { dataDir } from './url.js';

export interface BufferedWriterOptions {
  /** Where spill files live (default: <data dir>/spill). */
  spillDir?: string;
  /** Events per batch (default 5,000). */
  batchEvents?: number;
  /** A partial batch is cut after this long (default 200 ms). */
  flushIntervalMs?: number;
  /** At most this many events wait in memory; beyond it batches are spilled (default 100,000). */
  maxMemoryEvents?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Told about each failed attempt (the writer keeps retrying). */
  onError?: (error: unknown, consecutiveFailures: number) => void;
  /** Told when the spill file cannot be written (a description of the failure), and when it can again (null). */
  onSpillFault?: (fault: string | null) => void;
}

export interface WriterStats {
  committedEvents: number;
  committedBatches: number;
  /** Batches found already committed on retry (a commit whose answer was lost). */
  duplicateBatches: number;
  failedAttempts: number;
  /** Batches that went through the spill file. */
  spilledBatches: number;
  /** Events waiting in memory. */
  memoryEvents: number;
  /** Bytes of spilled batches not yet written. */
  spillBytes: number;
  databaseUp: boolean;
  /** Spill-file lines that could not be read, and batches torn by a crash (skipped). */
  malformedSpillLines: number;
  /** How long the commit now in flight has waited for the database's answer (0: none in flight). */
  commitWaitMs: number;
  /** Why the last spill write failed ("disk full (…)"), while batches that should be spilled wait in memory; else null. */
  spillFault: string | null;
  /** The directory the spill files go to. */
  spillDir: string;
}

export interface CloseResult {
  /** True when everything reached the database. */
  complete: boolean;
  /** The spill files still holding batches (written at the next start), if not complete. */
  spillFiles: string[];
  /** Events that reached neither the database nor a spill file (both failing at close, e.g. disk full): lost. */
  lostEvents: number;
  /** Why the database last failed, when it was not answering at close. */
  databaseError: string | null;
  /** Why the spill file last failed, when it could not be written at close. */
  spillFault: string | null;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** A batch as the writer queues, spills and commits it: its calls as bytes. */
export interface QueuedBatch extends StoreBatch {
  events: EventRecords;
  /** Its buffer is the writer's, given back to the pool once the batch is stored. */
  reuse?: boolean;
}

const NO_EVENTS = EventRecords.of([]);

/** Spill files are named <key>-<pid>.<id>.ndjson, the key naming the database they belong to. */
export const spillKey = (description: string): string =>
  createHash('sha256').update(description).digest('hex').slice(0, 16);

/** Spill files held by live writers of this process (a closed writer's leftovers may be adopted). */
const inUse = new Set<string>();

export class BufferedWriter {
  private readonly opts: Required<Omit<BufferedWriterOptions, 'onError' | 'onSpillFault'>> &
    Pick<BufferedWriterOptions, 'onError' | 'onSpillFault'>;
  /** Calls not yet cut into batches, as the bytes they came in (no object per call: issue 13 §2). */
  private pending: EventRecords[] = [];
  /** Which of them are this writer's to reuse once copied (write's `own`). */
  private pendingOwned: boolean[] = [];
  /** The buffers of stored batches, for the next batches (their bytes are not new memory each time). */
  private readonly pool = new BufferPool();
  private pendingEvents = 0;
  private pendingStarts: ProcessStart[] = [];
  private pendingLost = new Map<string, LostCounts>();
  private readonly queue: QueuedBatch[] = [];
  private memoryEvents = 0;
  /** Spill files in the order they must be drained: adopted leftovers first, then our own. */
  private readonly spills: SpillFile[] = [];
  private own: SpillFile | undefined;
  private readonly key: string;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;
  private failures = 0;
  private malformedDone = 0;
  private spillFault: string | null = null;
  private lastError: string | null = null;
  private readonly s: Omit<
    WriterStats,
    'memoryEvents' | 'spillBytes' | 'malformedSpillLines' | 'commitWaitMs' | 'spillFault' | 'spillDir'
  > = {
    committedEvents: 0,
    committedBatches: 0,
    duplicateBatches: 0,
    failedAttempts: 0,
    spilledBatches: 0,
    databaseUp: true,
  };
  private drainWaiters: (() => void)[] = [];
  /** performance.now() when the commit in flight was sent; undefined when none is. */
  private commitSentAt: number | undefined;

  constructor(
    private readonly store: EventStore,
    options: BufferedWriterOptions = {},
  ) {
    this.opts = {
      spillDir: options.spillDir ?? join(dataDir(), 'spill'),
      batchEvents: options.batchEvents ?? 5000,
      flushIntervalMs: options.flushIntervalMs ?? 200,
      maxMemoryEvents: options.maxMemoryEvents ?? 100_000,
      retryMinMs: options.retryMinMs ?? 250,
      retryMaxMs: options.retryMaxMs ?? 10_000,
      onError: options.onError,
      onSpillFault: options.onSpillFault,
    };
    // One spill namespace per database, so a leftover is only ever replayed into its own database.
    this.key = spillKey(store.description);
    mkdirSync(this.opts.spillDir, { recursive: true });
    this.adoptLeftovers();
    if (this.spills.length > 0) this.kick();
  }

  /** Spill files of this database left by memlens runs that are gone: drained before anything new. */
  private adoptLeftovers(): void {
    const prefix = `${this.key}-`;
    const found = readdirSync(this.opts.spillDir)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.ndjson'))
      .map((f) => ({ f, pid: Number(f.slice(prefix.length, -'.ndjson'.length).split('.')[0]) }))
      .filter(
        ({ f, pid }) =>
          Number.isInteger(pid) && (pid === process.pid ? !inUse.has(join(this.opts.spillDir, f)) : !alive(pid)),
      )
      .map(({ f }) => ({ f, mtime: statSync(join(this.opts.spillDir, f)).mtimeMs }))
      .sort((a, b) => a.mtime - b.mtime);
    for (const { f } of found) {
      // Rename to our pid first so that no other memlens adopts the same file.
      const mine = join(this.opts.spillDir, `${this.key}-${process.pid}.${newBatchId()}.ndjson`);
      try {
        renameSync(join(this.opts.spillDir, f), mine);
        try {
          renameSync(join(this.opts.spillDir, `${f}.offset`), `${mine}.offset`);
        } catch {
          // no offset yet: read from the start
        }
      } catch {
        continue; // another memlens took it
      }
      inUse.add(mine);
      this.spills.push(new SpillFile(mine, false));
    }
  }

  /** Queues events (in kernel-time order). Never blocks and never throws for database trouble. */
  write(events: readonly MemEvent[] | EventRecords, own = false): void {
    if (this.closed) throw new Error('BufferedWriter: write after close');
    const records = events instanceof EventRecords ? events : EventRecords.of(events);
    if (records.length > 0) {
      this.pending.push(records);
      // A batch of the caller's is reused only when the caller gave it away (own), whole.
      this.pendingOwned.push(
        own && records.bytes.byteOffset === 0 && records.bytes.byteLength === records.bytes.buffer.byteLength,
      );
      this.pendingEvents += records.length;
    }
    if (this.pendingEvents >= this.opts.batchEvents) this.cut();
    else this.arm();
  }

  /** Queues new process instances (forks seen by the tracer); they are written with the next batch. */
  processStarted(start: ProcessStart): void {
    this.pendingStarts.push(start);
    this.arm();
  }

  /** Adds lost-event counts for a host (deltas, not running totals). */
  recordLost(host: string, counts: LostCounts): void {
    const have = this.pendingLost.get(host) ?? { lostEvents: 0, unpaired: 0, malformed: 0 };
    this.pendingLost.set(host, {
      lostEvents: have.lostEvents + counts.lostEvents,
      unpaired: have.unpaired + counts.unpaired,
      malformed: have.malformed + counts.malformed,
    });
    this.arm();
  }

  stats(): WriterStats {
    return {
      ...this.s,
      memoryEvents: this.memoryEvents + this.pendingEvents,
      spillBytes: this.spills.reduce((n, f) => n + f.unreadBytes(), 0),
      malformedSpillLines: this.spills.reduce((n, f) => n + f.malformedLines, this.malformedDone),
      commitWaitMs: this.commitSentAt === undefined ? 0 : performance.now() - this.commitSentAt,
      spillFault: this.spillFault,
      spillDir: this.opts.spillDir,
    };
  }

  /**
   * Moves everything waiting in memory to the spill file, and sends what comes next there too until
   * the file is drained: for a database that has stopped answering without failing (a frozen server,
   * a network path that drops packets), where the commit in flight may wait for minutes.
   */
  spillWaiting(): void {
    if (this.closed) return;
    this.cut();
    this.spillQueue();
  }

  private arm(): void {
    if (this.timer !== undefined || this.closing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.cut();
    }, this.opts.flushIntervalMs);
  }

  /** Turns everything pending into batches of at most batchEvents, in order. */
  private cut(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const lost: LostDelta[] = [...this.pendingLost].map(([host, counts]) => ({ host, counts }));
    this.pendingLost.clear();
    let starts = this.pendingStarts;
    this.pendingStarts = [];
    const parts = this.pending;
    const owned = this.pendingOwned;
    const total = this.pendingEvents;
    this.pending = [];
    this.pendingOwned = [];
    this.pendingEvents = 0;
    if (total === 0 && starts.length === 0 && lost.length === 0) return;
    // Batches of at most batchEvents, each one buffer: the parts' records copied together.
    const size = this.opts.batchEvents;
    let p = 0;
    let from = 0;
    let first = true;
    for (let done = 0; done < Math.max(total, 1); done += size) {
      const take: { records: EventRecords; from: number; to: number }[] = [];
      let want = Math.min(size, total - done);
      while (want > 0) {
        const part = parts[p];
        if (part === undefined) break;
        const to = Math.min(part.length, from + want);
        take.push({ records: part, from, to });
        want -= to - from;
        from = to;
        if (from === part.length) {
          p++;
          from = 0;
        }
      }
      const events = take.length === 0 ? NO_EVENTS : EventRecords.concat(take, this.pool);
      // A batch that is one of the parts, uncopied, is reused after it is stored only if owned.
      const whole = take.length === 1 && events === take[0]?.records;
      const reuse = events !== NO_EVENTS && (!whole || owned[parts.indexOf(events)] === true);
      // Starts and lost counts ride with the first batch (starts are applied in kernel-time order).
      this.enqueue({
        id: newBatchId(),
        events,
        starts: first ? starts : [],
        lost: first ? lost : [],
        reuse,
      });
      first = false;
      starts = [];
    }
    // The parts that were copied into batches are free now.
    parts.forEach((part, k) => {
      if (owned[k] === true && !this.queue.some((b) => b.events === part))
        this.pool.give(part.bytes.buffer as ArrayBuffer);
    });
    this.kick();
  }

  private spillingMode(): boolean {
    return !this.s.databaseUp || this.spills.some((f) => !f.drained());
  }

  private enqueue(batch: QueuedBatch): void {
    if (this.spillingMode()) {
      // Batches held in memory by a failed spill go first, to keep the file's order; if they still
      // cannot go, this one waits behind them.
      this.spillQueue();
      if (this.queue.length === 0 && this.spillAppend(batch)) return;
    }
    this.queue.push(batch);
    this.memoryEvents += batch.events.length;
    if (this.memoryEvents > this.opts.maxMemoryEvents) this.spillQueue();
  }

  private ownSpill(): SpillFile {
    if (!this.own || this.spills.at(-1) !== this.own) {
      const path = join(this.opts.spillDir, `${this.key}-${process.pid}.${newBatchId()}.ndjson`);
      inUse.add(path);
      this.own = new SpillFile(path, true);
      this.spills.push(this.own);
    }
    return this.own;
  }

  /** Appends a batch to the spill file; false (and the fault noted and told) when it cannot. */
  private spillAppend(batch: QueuedBatch): boolean {
    try {
      this.ownSpill().append(batch);
    } catch (e) {
      const fault = `cannot write the spill file in ${this.opts.spillDir}: ${describeStorageError(e)}`;
      if (this.spillFault === null) this.opts.onSpillFault?.(fault);
      this.spillFault = fault;
      return false;
    }
    this.s.spilledBatches++;
    if (this.spillFault !== null) {
      this.spillFault = null;
      this.opts.onSpillFault?.(null);
    }
    return true;
  }

  /** Moves the batches waiting in memory, oldest first, to the end of the spill file, until one cannot go. */
  private spillQueue(): void {
    while (this.queue.length > 0) {
      const b = this.queue[0];
      if (b === undefined || !this.spillAppend(b)) return;
      this.queue.shift();
      this.memoryEvents -= b.events.length;
    }
  }

  private kick(): void {
    // One worker at a time; a worker sleeping in backoff is woken by its timer, not by new events.
    if (this.running || this.closed) return;
    this.running = true;
    this.work().catch((e: unknown) => {
      // Only a spill-file failure (disk full, removed directory) gets here: report and stop.
      this.running = false;
      this.opts.onError?.(e, this.failures);
    });
  }

  private next(): { batch: QueuedBatch; done: () => void } | undefined {
    for (;;) {
      const f = this.spills[0];
      if (f === undefined) break;
      const b = f.peek();
      if (b !== undefined) return { batch: b, done: () => f.advance() };
      // This file is drained. Bytes left after the last complete line are a batch torn by a crash
      // of the run that wrote it: counted, never silent.
      this.malformedDone += f.malformedLines + (f.unreadBytes() > 0 ? 1 : 0);
      f.remove();
      inUse.delete(f.path);
      this.spills.shift();
      if (f === this.own) this.own = undefined;
    }
    const b = this.queue[0];
    if (b === undefined) return undefined;
    return {
      batch: b,
      done: () => {
        // The batch may have moved to the spill file meanwhile (close); then the file replays it
        // and the batch id makes that replay a no-op.
        // The commit is done with its bytes (a copy in the spill file is encoded text).
        if (b.reuse === true) this.pool.give(b.events.bytes.buffer as ArrayBuffer);
        if (this.queue[0] !== b) return;
        this.queue.shift();
        this.memoryEvents -= b.events.length;
      },
    };
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.closed) {
        this.running = false;
        return;
      }
      const item = this.next();
      if (item === undefined) {
        this.running = false;
        for (const w of this.drainWaiters.splice(0)) w();
        return;
      }
      try {
        this.commitSentAt = performance.now();
        const outcome = await this.store.commitBatch(item.batch).finally(() => (this.commitSentAt = undefined));
        item.done();
        if (outcome === 'duplicate') this.s.duplicateBatches++;
        else {
          this.s.committedBatches++;
          this.s.committedEvents += item.batch.events.length;
        }
        this.failures = 0;
        this.s.databaseUp = true;
        this.lastError = null;
        // Nothing is held in memory for want of a spill file any more.
        if (this.spillFault !== null && this.queue.length === 0) {
          this.spillFault = null;
          this.opts.onSpillFault?.(null);
        }
        // SQLite commits synchronously under its promises: without a turn of the event loop
        // between batches, a backlog would keep the tracer's reads (timers) waiting until it is
        // gone, and the kernel's buffers would overflow meanwhile.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } catch (e) {
        this.failures++;
        this.s.failedAttempts++;
        this.s.databaseUp = false;
        this.lastError = describeStorageError(e);
        // Keep what waits in memory safe on disk while the database is away (before telling, so
        // that the listener can see from stats() whether that worked).
        this.spillQueue();
        this.opts.onError?.(e, this.failures);
        const delay = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(this.failures - 1, 20));
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.sleepTimer = setTimeout(() => {
            this.wake = undefined;
            this.sleepTimer = undefined;
            resolve();
          }, delay);
        });
      }
    }
  }

  /** Cuts what is pending and resolves when everything so far is in the database. */
  async flush(): Promise<void> {
    this.cut();
    if (this.next() === undefined) return;
    const drained = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.kick();
    await drained;
  }

  /**
   * Writes what it can within timeoutMs (default 10 s), then stops. Anything not written stays in
   * the spill file and is written by the next writer of the same database.
   */
  async close(timeoutMs = 10_000, stalledCommitMs = Infinity): Promise<CloseResult> {
    this.closing = true;
    this.cut();
    // A writer sleeping before its next retry tries again now: a database back meanwhile is used,
    // one still away fails at once and the close gives up on it.
    this.wakeNow();
    const failuresBefore = this.failures;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    // Whatever the database does, a close ends soon: one that fails again, or leaves a commit
    // unanswered for stalledCommitMs (a frozen server), is given up on and what waits is spilled.
    // Unless the spill file cannot take it (a full disk): then giving up early loses events, and
    // the database has until timeoutMs.
    const away = new Promise<'away'>((resolve) => {
      poll = setInterval(() => {
        const waited = this.commitSentAt === undefined ? 0 : performance.now() - this.commitSentAt;
        if (this.spillFault === null && (this.failures > failuresBefore || waited >= stalledCommitMs)) resolve('away');
      }, 20);
    });
    const outcome = await Promise.race([this.flush().then(() => 'done' as const), timedOut, away]);
    clearTimeout(timer);
    clearInterval(poll);
    this.closed = true;
    if (outcome !== 'done') {
      // Keep what is left on disk; a commit still in flight either lands (and its spilled copy is
      // skipped later by batch id) or not (and the copy is written later).
      this.spillQueue();
      this.wakeNow();
    }
    const left = this.spills.filter((f) => !f.drained());
    for (const f of this.spills) {
      if (left.includes(f)) f.close();
      else f.remove();
      inUse.delete(f.path);
    }
    this.spills.length = 0;
    const lostEvents = this.queue.reduce((n, b) => n + b.events.length, 0);
    return {
      complete: left.length === 0 && this.queue.length === 0,
      spillFiles: left.map((f) => f.path),
      lostEvents,
      databaseError: outcome === 'done' ? null : this.awayReason(),
      spillFault: this.queue.length > 0 ? this.spillFault : null,
    };
  }

  /** Why a close gave up on the database. */
  private awayReason(): string {
    if (this.commitSentAt !== undefined)
      return `no answer to a commit for ${((performance.now() - this.commitSentAt) / 1000).toFixed(1)} s`;
    return this.lastError ?? 'still writing when the close ran out of time';
  }

  /** Ends a backoff sleep now. */
  private wakeNow(): void {
    if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
