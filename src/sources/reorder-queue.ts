// Turns the records of an external tracer (bpftrace, SystemTap) into TraceBatches: puts them back
// in kernel-timestamp order (per-CPU buffers deliver them slightly out of order), filters them,
// counts losses, and queues batches for one consumer with bounded memory: above the limit it asks
// the source to pause reading, so that the tracer, not memlens, drops and reports the excess.
import type { TracerLineRecord } from '../parsers/trace-records.js';
import type { LifecycleEvent, LostCounts, MemEvent, TraceBatch } from '../wire/events.js';
import type { TraceFilter } from './trace-filter.js';

export interface ReorderQueueOptions {
  filter: TraceFilter;
  /** How far back in kernel time records may still arrive out of order. */
  reorderWindowNs: bigint;
  /** Events held (waiting and queued) above which the source is asked to pause. */
  maxHeldEvents: number;
  /** Called with true to pause the source, false to resume it. */
  onPressure(pause: boolean): void;
}

type Item = { at: bigint; event: MemEvent; life?: undefined } | { at: bigint; life: LifecycleEvent; event?: undefined };

export class ReorderQueue {
  private waiting: Item[] = [];
  private readonly queue: TraceBatch[] = [];
  private queuedEvents = 0;
  private maxSeenNs = 0n;
  private sinceTick = 0;
  private paused = false;
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private lostEvents = 0;
  private unpaired = 0;
  private startedResolve: (() => void) | undefined;
  /** Resolves when the tracer says it is attached. */
  readonly started: Promise<void>;
  private heartbeatWaiters: { afterNs: bigint; left: number; resolve: () => void }[] = [];

  constructor(private readonly options: ReorderQueueOptions) {
    this.started = new Promise((resolve) => (this.startedResolve = resolve));
  }

  add(records: readonly TracerLineRecord[]): void {
    for (const r of records) {
      switch (r.kind) {
        case 'call':
          this.hold({ at: r.event.ktimeNs, event: r.event });
          break;
        case 'lifecycle':
          this.hold({ at: r.event.ktimeNs, life: r.event });
          break;
        case 'lost':
          this.lostEvents += r.count;
          break;
        case 'unpaired':
          this.unpaired += r.count;
          break;
        case 'started':
          this.startedResolve?.();
          break;
        case 'heartbeat':
          this.startedResolve?.();
          this.heartbeat(r.ktimeNs);
          break;
      }
    }
    // A fast source (a file) must not pile up records between ticks.
    if (this.waiting.length >= 8192) this.flush(this.maxSeenNs - this.options.reorderWindowNs);
  }

  /** Periodic flush: records older than the window go out; all of them when nothing came since the last tick. */
  tick(): void {
    const idle = this.sinceTick === 0;
    this.sinceTick = 0;
    this.flush(idle ? undefined : this.maxSeenNs - this.options.reorderWindowNs);
  }

  /** The input ended: everything goes out, then the batches end. */
  finish(): void {
    this.flush(undefined);
    this.done = true;
    this.release();
  }

  fail(e: Error): void {
    this.failure ??= e;
    this.done = true;
    this.release();
  }

  private release(): void {
    for (const w of this.heartbeatWaiters) w.resolve();
    this.heartbeatWaiters = [];
    this.signal();
  }

  /** Resolves once `count` heartbeats stamped after `afterNs` have arrived (or the input ended). */
  heartbeats(afterNs: bigint, count: number): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => this.heartbeatWaiters.push({ afterNs, left: count, resolve }));
  }

  private heartbeat(ktimeNs: bigint): void {
    // Everything the tracer printed before this mark is older than it.
    if (ktimeNs > this.maxSeenNs) this.maxSeenNs = ktimeNs;
    for (const w of this.heartbeatWaiters) if (ktimeNs > w.afterNs) w.left--;
    for (const w of this.heartbeatWaiters.filter((x) => x.left <= 0)) w.resolve();
    this.heartbeatWaiters = this.heartbeatWaiters.filter((x) => x.left > 0);
  }

  lost(malformed: number): LostCounts {
    return { lostEvents: this.lostEvents, unpaired: this.unpaired, malformed };
  }

  async *batches(): AsyncGenerator<TraceBatch> {
    for (;;) {
      const b = this.queue.shift();
      if (b !== undefined) {
        this.queuedEvents -= b.events.length + b.lifecycle.length;
        this.pressure();
        yield b;
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  private hold(item: Item): void {
    this.waiting.push(item);
    this.sinceTick++;
    if (item.at > this.maxSeenNs) this.maxSeenNs = item.at;
  }

  /** Moves every waiting record with a timestamp <= cutoff (all when undefined) into one batch. */
  private flush(cutoff: bigint | undefined): void {
    if (this.waiting.length === 0) return;
    this.waiting.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    let n = this.waiting.length;
    if (cutoff !== undefined) {
      n = 0;
      while (n < this.waiting.length && (this.waiting[n]?.at ?? 0n) <= cutoff) n++;
      if (n === 0) return;
    }
    const out = this.waiting.slice(0, n);
    this.waiting = this.waiting.slice(n);
    const batch: TraceBatch = { events: [], lifecycle: [] };
    for (const item of out) {
      if (item.event !== undefined) {
        if (this.options.filter.event(item.event)) batch.events.push(item.event);
      } else if (this.options.filter.lifecycle(item.life)) {
        batch.lifecycle.push(item.life);
      }
    }
    if (batch.events.length === 0 && batch.lifecycle.length === 0) return;
    this.queue.push(batch);
    this.queuedEvents += batch.events.length + batch.lifecycle.length;
    this.pressure();
    this.signal();
  }

  private pressure(): void {
    const held = this.queuedEvents + this.waiting.length;
    if (!this.paused && held > this.options.maxHeldEvents) {
      this.paused = true;
      this.options.onPressure(true);
    } else if (this.paused && held <= this.options.maxHeldEvents / 2) {
      this.paused = false;
      this.options.onPressure(false);
    }
  }

  private signal(): void {
    this.wake?.();
  }
}
