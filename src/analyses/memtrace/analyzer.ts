// The streaming analysis of a memtrace trace: one pass over the events, state bounded by the
// sampled objects still live, the sites and a fixed-size timeline (never by the event count).
//
// Exact peak attribution in one pass: each site keeps its live samples and its live samples
// at the last global peak. Sites touched since that peak are kept in a dirty list; when live
// memory reaches a new peak, only the dirty sites copy their current value. Each event dirties
// at most one site, so this costs O(1) per event amortised.
import type { MemtraceDecoder } from '../../parsers/memtrace/decoder.js';
import { AllocSource, type MemtraceVisitor, type TraceInfo } from '../../parsers/memtrace/types.js';
import { AdaptiveBins, MAX_BINS } from './bins.js';
import { LiveObjects } from './live-objects.js';
import type { LwtClassifier } from './lwt.js';
import { PromiseGroups } from './promises.js';
import { SiteResolver } from './site-resolver.js';

const PROMOTED = 4;
const PROMISE_BLOCK = 8;

export interface SiteStats {
  allocations: number;
  allocSamples: number;
  promotedSamples: number;
  live: number;
  liveAtPeak: number;
  dirty: boolean;
  collectedYoung: number;
  promotedCollected: number;
  majorCollected: number;
  collectedCount: number;
  lifetimeSumUs: number;
  /** Samples allocated / collected per timeline bin (by the event's time). */
  allocBins: Float64Array;
  collectBins: Float64Array;
}

/** Memory by Lwt task, in samples. */
export interface TaskStats {
  allocSamples: number;
  lwtSamples: number;
  live: number;
  liveAtPeak: number;
  dirty: boolean;
}

export class MemtraceAnalyzer implements MemtraceVisitor {
  traceInfo: TraceInfo | undefined;
  decoder: MemtraceDecoder | undefined;
  resolver: SiteResolver | undefined;
  promises: PromiseGroups | undefined;
  readonly bins = new AdaptiveBins();
  readonly stats: SiteStats[] = [];
  readonly objects = new LiveObjects();
  private readonly dirty: number[] = [];
  readonly taskStats: TaskStats[] = [];
  private readonly dirtyTasks: number[] = [];
  private readonly dirtyGroups: number[] = [];
  private startUs = 0;

  live = 0;
  peak = 0;
  peakTimeUs = 0;
  lastTimeUs = 0;
  allocSamples = [0, 0, 0];
  collectedSamples = [0, 0, 0];
  promotedSamples = 0;
  orphanPromotions = 0;
  orphanCollections = 0;
  /** Timeline vectors, in samples. */
  readonly allocBins = this.bins.vector();
  readonly collectBins = this.bins.vector();
  readonly promoteBins = this.bins.vector();
  /** freedMatrix[a * MAX_BINS + c]: samples allocated in bin a and collected in bin c. */
  readonly freedMatrix = this.bins.matrix();
  /** Samples allocated per stack node (for folded stacks / the flame graph). */
  nodeSamples = new Float64Array(1024);

  constructor(private readonly lwt: LwtClassifier) {}

  /** Binds the decoder whose trie and locations the events refer to. Call before decoding. */
  attach(decoder: MemtraceDecoder): void {
    this.decoder = decoder;
    this.resolver = new SiteResolver(decoder, this.lwt);
    this.promises = new PromiseGroups(decoder, this.lwt);
  }

  info(info: TraceInfo): void {
    this.traceInfo = info;
    this.startUs = info.startTimeUs;
  }

  private siteStats(site: number): SiteStats {
    let s = this.stats[site];
    if (s === undefined) {
      s = {
        allocations: 0,
        allocSamples: 0,
        promotedSamples: 0,
        live: 0,
        liveAtPeak: 0,
        dirty: false,
        collectedYoung: 0,
        promotedCollected: 0,
        majorCollected: 0,
        collectedCount: 0,
        lifetimeSumUs: 0,
        allocBins: this.bins.vector(),
        collectBins: this.bins.vector(),
      };
      this.stats[site] = s;
    }
    return s;
  }

  alloc(id: number, timeUs: number, lengthWords: number, nsamples: number, source: AllocSource, stack: number): void {
    const resolver = this.resolver;
    const promises = this.promises;
    if (resolver === undefined || promises === undefined) throw new Error('MemtraceAnalyzer.attach() was not called');
    const t = timeUs - this.startUs;
    const site = resolver.siteOf(stack);
    const s = this.siteStats(site);
    const bin = this.bins.bin(t);
    const task = resolver.taskOf(stack);
    const group = promises.groupOf(stack);
    let promiseFlag = 0;
    if (group >= 0) {
      const g = promises.groups[group];
      if (g !== undefined) {
        g.allocSamples += nsamples;
        g.live += nsamples;
        if (promises.isPromiseBlock(stack)) {
          promiseFlag = PROMISE_BLOCK;
          g.promiseSamples += nsamples;
          promises.notePromiseBlock(stack, lengthWords);
        }
        if (!g.dirty) {
          g.dirty = true;
          this.dirtyGroups.push(group);
        }
      }
    }
    this.objects.add(id, site, task, nsamples, t, source, group, promiseFlag);
    if (task >= 0) {
      const ts = this.taskOf(task);
      ts.allocSamples += nsamples;
      if (resolver.sites[site]?.owner === 'lwt') ts.lwtSamples += nsamples;
      ts.live += nsamples;
      this.touchTask(task, ts);
    }
    s.allocations++;
    s.allocSamples += nsamples;
    s.allocBins[bin] = (s.allocBins[bin] ?? 0) + nsamples;
    this.allocBins[bin] = (this.allocBins[bin] ?? 0) + nsamples;
    this.allocSamples[source] = (this.allocSamples[source] ?? 0) + nsamples;
    if (stack >= this.nodeSamples.length) {
      let len = this.nodeSamples.length;
      while (len <= stack) len *= 2;
      const grown = new Float64Array(len);
      grown.set(this.nodeSamples);
      this.nodeSamples = grown;
    }
    this.nodeSamples[stack] = (this.nodeSamples[stack] ?? 0) + nsamples;
    s.live += nsamples;
    this.touch(site, s);
    this.live += nsamples;
    if (t > this.lastTimeUs) this.lastTimeUs = t;
    if (this.live > this.peak) this.newPeak(t);
  }

  private taskOf(task: number): TaskStats {
    let ts = this.taskStats[task];
    if (ts === undefined) {
      ts = { allocSamples: 0, lwtSamples: 0, live: 0, liveAtPeak: 0, dirty: false };
      this.taskStats[task] = ts;
    }
    return ts;
  }

  private touchTask(task: number, ts: TaskStats): void {
    if (!ts.dirty) {
      ts.dirty = true;
      this.dirtyTasks.push(task);
    }
  }

  private touch(site: number, s: SiteStats): void {
    if (!s.dirty) {
      s.dirty = true;
      this.dirty.push(site);
    }
  }

  private newPeak(t: number): void {
    for (const site of this.dirty) {
      const s = this.stats[site];
      if (s === undefined) continue;
      s.liveAtPeak = s.live;
      s.dirty = false;
    }
    this.dirty.length = 0;
    for (const task of this.dirtyTasks) {
      const ts = this.taskStats[task];
      if (ts === undefined) continue;
      ts.liveAtPeak = ts.live;
      ts.dirty = false;
    }
    this.dirtyTasks.length = 0;
    const groups = this.promises?.groups ?? [];
    for (const k of this.dirtyGroups) {
      const g = groups[k];
      if (g === undefined) continue;
      g.liveAtPeak = g.live;
      g.dirty = false;
    }
    this.dirtyGroups.length = 0;
    this.peak = this.live;
    this.peakTimeUs = t;
  }

  promote(id: number, timeUs: number): void {
    const objects = this.objects;
    const slot = objects.slotOf(id);
    if (slot < 0 || ((objects.flags[slot] ?? 0) & PROMOTED) !== 0) {
      this.orphanPromotions++;
      return;
    }
    objects.flags[slot] = (objects.flags[slot] ?? 0) | PROMOTED;
    const n = objects.samples[slot] ?? 0;
    const t = timeUs - this.startUs;
    const bin = this.bins.bin(t);
    this.promoteBins[bin] = (this.promoteBins[bin] ?? 0) + n;
    this.promotedSamples += n;
    const s = this.siteStats(objects.site[slot] ?? 0);
    s.promotedSamples += n;
    if (t > this.lastTimeUs) this.lastTimeUs = t;
  }

  collect(id: number, timeUs: number): void {
    const objects = this.objects;
    const slot = objects.slotOf(id);
    if (slot < 0) {
      this.orphanCollections++;
      return;
    }
    const site = objects.site[slot] ?? 0;
    const task = objects.task[slot] ?? -1;
    const group = objects.group[slot] ?? -1;
    const n = objects.samples[slot] ?? 0;
    const allocT = objects.t[slot] ?? 0;
    const flags = objects.flags[slot] ?? 0;
    objects.remove(id, slot);
    const t = timeUs - this.startUs;
    if (group >= 0) {
      const g = this.promises?.groups[group];
      if (g !== undefined) {
        g.live -= n;
        if ((flags & PROMISE_BLOCK) !== 0) {
          g.promisesCollected++;
          g.promiseLifetimeSumUs += Math.max(0, t - allocT);
        }
        if (!g.dirty) {
          g.dirty = true;
          this.dirtyGroups.push(group);
        }
      }
    }
    const bin = this.bins.bin(t);
    const allocBin = this.bins.binOf(allocT);
    const s = this.siteStats(site);
    s.live -= n;
    this.touch(site, s);
    if (task >= 0) {
      const ts = this.taskOf(task);
      ts.live -= n;
      this.touchTask(task, ts);
    }
    this.live -= n;
    s.collectBins[bin] = (s.collectBins[bin] ?? 0) + n;
    this.collectBins[bin] = (this.collectBins[bin] ?? 0) + n;
    this.freedMatrix[allocBin * MAX_BINS + bin] = (this.freedMatrix[allocBin * MAX_BINS + bin] ?? 0) + n;
    const source = flags & 3;
    this.collectedSamples[source] = (this.collectedSamples[source] ?? 0) + n;
    if ((flags & PROMOTED) !== 0) s.promotedCollected += n;
    else if (source === AllocSource.minor) s.collectedYoung += n;
    else s.majorCollected += n;
    s.collectedCount++;
    s.lifetimeSumUs += Math.max(0, t - allocT);
    if (t > this.lastTimeUs) this.lastTimeUs = t;
  }
}
