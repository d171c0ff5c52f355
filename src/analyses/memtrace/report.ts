// Assembles the typed report (src/wire/memtrace.ts) from the decoder and the analysis state.
import { formatBytes } from '../../base/units.js';
import type { MemtraceDecoder } from '../../parsers/memtrace/decoder.js';
import { AllocSource, type SourceLocation } from '../../parsers/memtrace/types.js';
import {
  MEMTRACE_WIRE_VERSION,
  type MemtraceWireFrame,
  type MemtraceWireLwtPromises,
  type MemtraceWirePromiseSite,
  type MemtraceWireTaskCount,
  type MemtraceWireReport,
  type MemtraceWireSite,
  type MemtraceWireSplit,
  type MemtraceWireWindow,
} from '../../wire/memtrace.js';
import type { MemtraceAnalyzer } from './analyzer.js';
import { liveCurve } from './curves.js';
import { findLeaks } from './leaks.js';
import { WINDOW_RULE, findGrowthWindows, medianStep, type GrowthWindow } from './windows.js';

export interface ReportOptions {
  path: string;
  lwtPrefixes: readonly string[];
  /** How many sites each ranking lists. */
  top: number;
}

const round = (n: number): number => Math.round(n);

function frameOf(l: SourceLocation | undefined): MemtraceWireFrame | null {
  return l === undefined
    ? null
    : { defname: l.defname, filename: l.filename, line: l.line, startChar: l.startChar, endChar: l.endChar };
}

export function buildMemtraceReport(
  analyzer: MemtraceAnalyzer,
  decoder: MemtraceDecoder,
  opts: ReportOptions,
): MemtraceWireReport {
  const info = decoder.info;
  const resolver = analyzer.resolver;
  if (info === undefined || resolver === undefined) throw new Error('report before a decoded trace_info');
  const bps = info.wordSizeBits / 8 / info.sampleRate;
  const bytes = (samples: number): number => round(samples * bps);
  const bins = analyzer.bins;
  const nBins = bins.lastBin + 1;
  const binS = bins.widthUs / 1e6;
  const durationUs = Math.max(analyzer.lastTimeUs, decoder.lastTimeUs - info.startTimeUs, 0);

  // Sites and their Lwt / application split.
  const sites: MemtraceWireSite[] = resolver.sites.map((id, i) => {
    const s = analyzer.stats[i];
    const collected = s === undefined ? 0 : s.collectedYoung + s.promotedCollected + s.majorCollected;
    return {
      id: i,
      owner: id.owner,
      frame: frameOf(id.frame),
      allocationPoint: frameOf(id.allocationPoint),
      label: id.label,
      allocations: s?.allocations ?? 0,
      allocatedBytes: bytes(s?.allocSamples ?? 0),
      liveEndBytes: bytes(s?.live ?? 0),
      livePeakBytes: bytes(s?.liveAtPeak ?? 0),
      promotedBytes: bytes(s?.promotedSamples ?? 0),
      lifetime: {
        collectedYoungBytes: bytes(s?.collectedYoung ?? 0),
        promotedCollectedBytes: bytes(s?.promotedCollected ?? 0),
        majorCollectedBytes: bytes(s?.majorCollected ?? 0),
        neverCollectedBytes: bytes(s?.live ?? 0),
        meanLifetimeS:
          s !== undefined && s.collectedCount > 0 && collected > 0 ? s.lifetimeSumUs / s.collectedCount / 1e6 : null,
      },
    };
  });
  const split = (pick: (s: MemtraceWireSite) => number): MemtraceWireSplit => {
    let lwt = 0;
    let app = 0;
    for (const s of sites) {
      if (s.owner === 'lwt') lwt += pick(s);
      else app += pick(s);
    }
    return { totalBytes: lwt + app, lwtBytes: lwt, appBytes: app };
  };
  const rank = (pick: (s: MemtraceWireSite) => number): number[] =>
    sites
      .filter((s) => pick(s) > 0)
      .sort((a, b) => pick(b) - pick(a) || a.id - b.id)
      .slice(0, opts.top)
      .map((s) => s.id);

  // Timeline.
  const live = liveCurve(analyzer.allocBins, analyzer.collectBins, nBins);
  const timeline = {
    binWidthS: binS,
    bins: live.map((l, b) => ({
      tS: b * binS,
      liveBytes: bytes(l),
      allocatedBytes: bytes(analyzer.allocBins[b] ?? 0),
      collectedBytes: bytes(analyzer.collectBins[b] ?? 0),
      promotedBytes: bytes(analyzer.promoteBins[b] ?? 0),
    })),
  };

  // Findings.
  const neverFreed = new Float64Array(nBins);
  const neverFreedBySite = new Map<number, Float64Array>();
  const objects = analyzer.objects;
  for (const slot of objects.slots()) {
    const b = bins.binOf(objects.t[slot] ?? 0);
    const n = objects.samples[slot] ?? 0;
    const site = objects.site[slot] ?? 0;
    neverFreed[b] = (neverFreed[b] ?? 0) + n;
    let v = neverFreedBySite.get(site);
    if (v === undefined) {
      v = new Float64Array(nBins);
      neverFreedBySite.set(site, v);
    }
    v[b] = (v[b] ?? 0) + n;
  }
  const { findings: leakFindings, verdicts } = findLeaks(
    analyzer.stats,
    nBins,
    analyzer.live,
    (site) => neverFreedBySite.get(site),
    binS,
  );
  const leakSites = new Set(leakFindings.map((l) => l.site));
  const windows = findGrowthWindows({
    nBins,
    live,
    allocBins: analyzer.allocBins,
    collectBins: analyzer.collectBins,
    freedMatrix: analyzer.freedMatrix,
    neverFreed,
    stats: analyzer.stats,
    leakSites,
  });
  const label = (site: number): string => resolver.sites[site]?.label ?? '?';
  const owner = (site: number): 'app' | 'lwt' => resolver.sites[site]?.owner ?? 'app';
  const wireWindow = (w: GrowthWindow): MemtraceWireWindow => {
    const startS = w.s * binS;
    const endS = (w.e + 1) * binS;
    const dur = Math.max(endS - startS, 1e-9);
    const top = w.sites[0];
    const explanation =
      w.kind === 'race'
        ? `allocation outpaced reclamation from ${startS.toFixed(2)} s to ${endS.toFixed(2)} s: live memory grew by ${formatBytes(bytes(w.rise))}, ` +
          `${Math.round(w.freedLater * 100)}% of what piled up was freed later${w.settledBin === null ? '' : ` (back near its earlier level at ${(w.settledBin * binS).toFixed(2)} s)`}` +
          (top === undefined ? '' : `; mostly ${label(top.site)}`)
        : w.kind === 'gc-cycle'
          ? `growth from ${startS.toFixed(2)} s to ${endS.toFixed(2)} s collected at once right after it (garbage waiting for a major GC cycle): not a race`
          : w.kind === 'gc-swing'
            ? `growth from ${startS.toFixed(2)} s to ${endS.toFixed(2)} s, freed again, but no longer than this trace's ordinary GC swings: not sustained, not a race`
            : w.kind === 'leak'
              ? `growth from ${startS.toFixed(2)} s to ${endS.toFixed(2)} s that is never freed, held by leak suspects: a leak, not a race`
              : `growth from ${startS.toFixed(2)} s to ${endS.toFixed(2)} s that stays live without growing further (warm-up, a working set): not a race`;
    return {
      kind: w.kind,
      startS,
      endS,
      growthBytes: bytes(w.rise),
      allocatedBytesPerS: bytes(w.allocated) / dur,
      collectedBytesPerS: bytes(w.collected) / dur,
      freedLaterFraction: w.freedLater,
      settledAtS: w.settledBin === null ? null : w.settledBin * binS,
      sites: w.sites.map((s) => ({
        siteId: s.site,
        label: label(s.site),
        owner: owner(s.site),
        growthBytes: bytes(s.growth),
        shareOfGrowth: s.share,
        reclaimedFraction: s.reclaimed,
      })),
      explanation,
    };
  };
  const growthWindows = windows.map(wireWindow);
  const races = growthWindows.filter((w) => w.kind === 'race');
  const leaks = leakFindings.map((l) => ({
    siteId: l.site,
    label: label(l.site),
    owner: owner(l.site),
    liveEndBytes: bytes(l.liveEnd),
    shareOfEndLive: l.share,
    retainedFraction: l.retained,
    growthBytesPerS: binS > 0 ? (l.slopePerBin * bps) / binS : 0,
    risingFraction: l.rising,
    curve: l.curve.map(bytes),
  }));
  // Every suspect, and the other sites that hold the most at the end, with why (not).
  const lwtPromises = promiseReport(analyzer, info.sampleRate, bytes, frameOf, opts.top);
  const leakVerdicts = verdicts
    .filter((v, k) => v.suspect || k < opts.top)
    .map((v) => ({
      siteId: v.site,
      label: label(v.site),
      owner: owner(v.site),
      liveEndBytes: bytes(v.liveEnd),
      shareOfEndLive: v.share,
      suspect: v.suspect,
      rule: v.rule,
      reason: v.reason,
    }));
  const keptUntilExit = verdicts.filter((v) => v.rule === 'kept-until-exit').length;

  // Steady state: nothing found, and the floor of live memory flat over the second half: the
  // minimum over its last quarter is within 10% of the peak (or, if larger, NOISE_SIGMAS times
  // the curve's median step: its ordinary jitter) of the minimum over the third quarter. Minima,
  // because the GC's sawtooth moves the curve up and down by whole cycles; what survives the
  // cycles is its floor.
  const peak = analyzer.peak;
  const q3 = Math.floor(nBins / 2);
  const q4 = Math.floor((3 * nBins) / 4);
  const floor3 = Math.min(...live.slice(q3, Math.max(q4, q3 + 1)));
  const floor4 = Math.min(...live.slice(Math.min(q4, nBins - 1)));
  const tolerance = Math.max(0.1 * peak, WINDOW_RULE.NOISE_SIGMAS * medianStep(live, nBins));
  const flat = peak === 0 || Math.abs(floor4 - floor3) <= tolerance;
  const steady = leaks.length === 0 && races.length === 0 && flat;
  const reason = steady
    ? 'no leak suspect, no allocation race, and the floor of live memory is flat over the second half of the trace'
    : [
        leaks.length > 0 ? `${leaks.length} leak suspect(s)` : '',
        races.length > 0 ? `${races.length} allocation race(s)` : '',
        flat
          ? ''
          : `the floor of live memory still moving over the second half${leaks.length === 0 && keptUntilExit > 0 ? ` (${keptUntilExit} site(s) built data in the program's last phase and kept it until the end: no leak suspect)` : ''}`,
      ]
        .filter((s) => s !== '')
        .join(', ');

  const i = decoder.integrity;
  const unknownCodes = countUnknownCodes(decoder);
  const ok =
    i.cacheVerifierFailures === 0 &&
    i.allocIdMismatches === 0 &&
    i.corruptPackets === 0 &&
    i.locationErrors === 0 &&
    !i.truncated &&
    analyzer.orphanCollections === 0 &&
    analyzer.orphanPromotions === 0;
  return {
    schema: 'memlens.memtrace',
    version: MEMTRACE_WIRE_VERSION,
    trace: {
      path: opts.path,
      formatVersion: info.formatVersion,
      executable: info.executableName,
      host: info.hostName,
      pid: info.pid.toString(),
      sampleRate: info.sampleRate,
      wordSizeBits: info.wordSizeBits,
      ocamlRuntimeParams: info.ocamlRuntimeParams,
      context: info.context ?? null,
      startTimeUs: info.startTimeUs,
      endTimeUs: info.startTimeUs + durationUs,
      durationS: durationUs / 1e6,
      bytesPerSample: bps,
    },
    events: { ...decoder.counts },
    integrity: {
      ok,
      packets: i.packets,
      cacheVerifierChecks: i.cacheVerifierChecks,
      cacheVerifierFailures: i.cacheVerifierFailures,
      allocIdChecks: i.allocIdChecks,
      allocIdMismatches: i.allocIdMismatches,
      wrongPidPackets: i.wrongPidPackets,
      corruptPackets: i.corruptPackets,
      locationErrors: i.locationErrors,
      unknownLocationCodes: unknownCodes,
      inconsistentLocations: i.inconsistentLocations,
      nonMonotoneTimes: i.nonMonotoneTimes,
      truncatedBacktraces: i.truncatedBacktraces,
      orphanPromotions: analyzer.orphanPromotions,
      orphanCollections: analyzer.orphanCollections,
      truncated: i.truncated,
      warnings: [...i.warnings],
    },
    totals: {
      allocated: split((s) => s.allocatedBytes),
      allocatedMinorBytes: bytes(analyzer.allocSamples[AllocSource.minor] ?? 0),
      allocatedMajorBytes: bytes(analyzer.allocSamples[AllocSource.major] ?? 0),
      allocatedExternalBytes: bytes(analyzer.allocSamples[AllocSource.external] ?? 0),
      promotedBytes: bytes(analyzer.promotedSamples),
      collectedBytes: bytes(analyzer.collectedSamples.reduce((a, b) => a + b, 0)),
      collectedMinorBytes: bytes(analyzer.collectedSamples[AllocSource.minor] ?? 0),
      collectedMajorBytes: bytes(
        (analyzer.collectedSamples[AllocSource.major] ?? 0) + (analyzer.collectedSamples[AllocSource.external] ?? 0),
      ),
      liveEnd: split((s) => s.liveEndBytes),
      livePeak: split((s) => s.livePeakBytes),
      peakTimeS: analyzer.peakTimeUs / 1e6,
    },
    timeline,
    lwt: { prefixes: [...opts.lwtPrefixes] },
    sites,
    rankings: {
      byAllocated: rank((s) => s.allocatedBytes),
      byLiveEnd: rank((s) => s.liveEndBytes),
      byLivePeak: rank((s) => s.livePeakBytes),
    },
    tasks: resolver.tasks
      .map((name, k) => {
        const ts = analyzer.taskStats[k];
        return {
          name,
          allocatedBytes: bytes(ts?.allocSamples ?? 0),
          lwtAllocatedBytes: bytes(ts?.lwtSamples ?? 0),
          liveEndBytes: bytes(ts?.live ?? 0),
          livePeakBytes: bytes(ts?.liveAtPeak ?? 0),
        };
      })
      .sort((a, b) => b.allocatedBytes - a.allocatedBytes || (a.name < b.name ? -1 : 1)),
    lwtPromises: {
      ...lwtPromises,
      overhead: {
        allocatedShare: share(lwtSplit(sites, (s) => s.allocatedBytes)),
        livePeakShare: share(lwtSplit(sites, (s) => s.livePeakBytes)),
        liveEndShare: share(lwtSplit(sites, (s) => s.liveEndBytes)),
      },
    },
    taskCounts: taskCounts(decoder),
    leaks,
    leakVerdicts,
    races,
    growthWindows,
    steadyState: { steady, reason },
  };
}

const lwtSplit = (sites: MemtraceWireSite[], pick: (s: MemtraceWireSite) => number): [number, number] => {
  let lwt = 0;
  let all = 0;
  for (const s of sites) {
    all += pick(s);
    if (s.owner === 'lwt') lwt += pick(s);
  }
  return [lwt, all];
};
const share = ([part, all]: [number, number]): number => (all > 0 ? part / all : 0);

/**
 * The one-sided 95 % bound on a site's promises when none of their blocks was sampled. Each of a
 * promise's W words (headers included) is sampled with probability λ, so N promises leave no sample
 * with probability (1 − λ)^(W N); that is at least 5 % only while N ≤ ln 0.05 / (W ln(1 − λ)), about
 * 3 / (λ W) for small λ (the "rule of three"). Rounded up, so that the bound is never understated;
 * null at λ = 1, where every word is sampled and no sample means no promise.
 */
export function promiseBound95(rate: number, wordsPerPromise: number): number | null {
  if (!(rate > 0 && rate < 1) || !(wordsPerPromise > 0)) return null;
  return Math.ceil(Math.log(0.05) / (wordsPerPromise * Math.log1p(-rate)));
}

function promiseReport(
  analyzer: MemtraceAnalyzer,
  rate: number,
  bytes: (samples: number) => number,
  frameOf: (l: SourceLocation | undefined) => MemtraceWireFrame | null,
  top: number,
): Omit<MemtraceWireLwtPromises, 'overhead'> {
  const p = analyzer.promises;
  const W = p?.wordsPerPromise() ?? 0;
  // See promises.ts: N ≈ S / (λ W), standard error √(S (1 - λ)) / (λ W).
  const estimate = (s: number): number | null => (W > 0 ? s / (rate * W) : null);
  const stdErr = (s: number): number | null => (W > 0 ? Math.sqrt(s * (1 - rate)) / (rate * W) : null);
  const below95 = promiseBound95(rate, W);
  const live = new Map<number, number>();
  const objects = analyzer.objects;
  for (const slot of objects.slots()) {
    if (((objects.flags[slot] ?? 0) & 8) === 0) continue;
    const g = objects.group[slot] ?? -1;
    live.set(g, (live.get(g) ?? 0) + (objects.samples[slot] ?? 0));
  }
  const groups = p?.groups ?? [];
  let total = 0;
  const sites: MemtraceWirePromiseSite[] = groups.map((g, k) => {
    total += g.promiseSamples;
    return {
      frame: frameOf(g.frame),
      label: g.label,
      via: g.via,
      promises: g.promiseSamples > 0 ? estimate(g.promiseSamples) : W > 0 ? 0 : null,
      promisesStdErr: stdErr(g.promiseSamples),
      promiseSamples: g.promiseSamples,
      promisesBelow95: g.promiseSamples === 0 ? below95 : null,
      allocatedBytes: bytes(g.allocSamples),
      livePeakBytes: bytes(g.liveAtPeak),
      liveEndBytes: bytes(g.live),
      meanPromiseLifetimeS: g.promisesCollected > 0 ? g.promiseLifetimeSumUs / g.promisesCollected / 1e6 : null,
      promiseSamplesLiveEnd: live.get(k) ?? 0,
    };
  });
  sites.sort(
    (a, b) =>
      (b.promises ?? 0) - (a.promises ?? 0) || b.allocatedBytes - a.allocatedBytes || (a.label < b.label ? -1 : 1),
  );
  return {
    wordsPerPromise: W,
    promiseBlocks: [...(p?.promiseBlocks.values() ?? [])].sort((a, b) => (a.point < b.point ? -1 : 1)),
    promises: estimate(total),
    promisesStdErr: stdErr(total),
    sites: sites.slice(0, top * 2),
  };
}

/**
 * Exact task counts: the recording library writes them (Memlens_trace_lwt.count_tasks) as
 * location events of codes no backtrace uses, file "(memlens task count)", function
 * "<started> <finished> <task>" (ocaml/src/memlens_trace.ml says why that encoding).
 */
export const TASK_COUNT_FILENAME = '(memlens task count)';

function taskCounts(decoder: MemtraceDecoder): MemtraceWireTaskCount[] {
  const out: MemtraceWireTaskCount[] = [];
  for (const locs of decoder.locations.values()) {
    const l = locs[0];
    if (locs.length !== 1 || l === undefined || l.filename !== TASK_COUNT_FILENAME) continue;
    const m = /^(\d+) (\d+) (.*)$/s.exec(l.defname);
    if (m === null) continue;
    out.push({ name: m[3] ?? '', started: Number(m[1]), finished: Number(m[2]) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Location codes used by backtraces that have no location (never described, or lost). */
function countUnknownCodes(decoder: MemtraceDecoder): number {
  const seen = new Set<number>();
  const { trie, locations } = decoder;
  for (let n = 1; n < trie.size; n++) {
    const c = trie.codeOf(n);
    if (!locations.has(c)) seen.add(c);
  }
  return seen.size;
}
