// `memlens dirty`: the work behind the command's flags (loaded lazily by commands/dirty.ts).
import { ProcessGoneError, UserError } from '../base/errors.js';
import { formatBytes } from '../base/units.js';
import { touchedPages } from '../analyses/dirty/accessed.js';
import { AccessedMeter, SoftDirtyMeter, readSoftDirty, type Meter } from '../analyses/dirty/meters.js';
import { sparkline } from '../render/sparkline.js';
import { watch, type Round, type WatchResult } from '../analyses/dirty/watch.js';
import {
  TOUCHED,
  WRITTEN,
  areaTableLines,
  fmtInt,
  hugeAreaLines,
  roundLine,
  snapshotLines,
  touchedAreaLines,
  writtenAreaRows,
} from '../render/dirty-text.js';
import {
  hugeAreasJson,
  rangeJson,
  roundJson,
  ruleJson,
  touchedAreaJson,
  workingSetPages as workingSet,
} from '../analyses/dirty/wire.js';
import type { ProcessPages } from '../sources/pagemap.js';
import { DIRTY_WIRE_VERSION, type DirtyJson, type DirtyJsonBase, type DirtyWatchJson } from '../wire/dirty.js';
import { DIRTY_FLAG_NAMES, watchRule, type DirtyOptions, type WatchTiming } from './dirty-flags.js';
import { checkWatchRights, inspectTarget, softDirtyMissing } from './dirty-target.js';
import { printable } from '../base/terminal-text.js';
import { palette, toJson } from '../render/text.js';

export interface DirtyRun extends Omit<DirtyOptions, 'maxRounds' | 'tolerance' | 'interval'>, WatchTiming {
  pid: number;
}

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const note = (s: string): void => {
  process.stderr.write(`memlens: ${printable(s)}\n`);
};

export async function runDirty(o: DirtyRun): Promise<void> {
  const target = await inspectTarget(o.pid, o, DIRTY_FLAG_NAMES);
  const { name, pageSize, probe, method } = target;
  const base: DirtyJsonBase = {
    version: DIRTY_WIRE_VERSION,
    pid: o.pid,
    pageSize,
    softDirty: { supported: probe.supported, probe: probe.detail },
    method,
    meaning: target.meaning,
    hugePageAreas: [],
  };
  if (method === 'soft-dirty' && !probe.supported) {
    if (o.json) out(toJson({ ...base, ranges: [], pages: 0, bytes: 0, areas: [] } satisfies DirtyJson));
    throw new UserError(softDirtyMissing(target, DIRTY_FLAG_NAMES, 'Run'));
  }
  if (o.watch) checkWatchRights(target);
  const c = palette(o.json ? false : undefined);
  if (!o.json) {
    out(c.bold(`process ${o.pid} (${printable(name)})`) + c.dim(`  page size ${formatBytes(pageSize)}`));
    if (method === 'accessed') {
      out(
        c.yellow(
          probe.supported
            ? 'method: referenced bits (--fallback accessed)'
            : `soft-dirty unavailable: ${probe.detail}.`,
        ),
      );
      out(c.yellow(`counting ${TOUCHED} from /proc/${o.pid}/smaps Referenced; these are not writes.`));
    }
  }
  try {
    if (o.watch) await runWatch(o, base, target.pages);
    else await runOnce(o, base, target.pages);
  } catch (e) {
    if (e instanceof ProcessGoneError) throw new UserError(`process ${o.pid} exited while memlens read it`);
    throw e;
  }
}

async function tryHugeAreas(pages: ProcessPages): Promise<DirtyJsonBase['hugePageAreas']> {
  try {
    return hugeAreasJson(await pages.smaps());
  } catch (e) {
    if (e instanceof ProcessGoneError) return [];
    throw e;
  }
}

async function runOnce(o: DirtyRun, base: DirtyJsonBase, pages: ProcessPages): Promise<void> {
  const { pageSize } = pages;
  const c = palette(o.json ? false : undefined);
  if (base.method === 'accessed') {
    const smaps = await pages.smaps();
    const touched = touchedPages(smaps, pageSize);
    const doc: DirtyJson = {
      ...base,
      hugePageAreas: hugeAreasJson(smaps),
      ranges: [],
      pages: touched.pages,
      bytes: touched.pages * pageSize,
      areas: touched.areas.map(touchedAreaJson),
    };
    if (o.json) {
      out(toJson(doc));
      return;
    }
    out(
      `${c.bold(fmtInt(touched.pages))} ${TOUCHED} (${formatBytes(touched.pages * pageSize)}) since the referenced bits were last cleared; memlens clears nothing without --watch`,
    );
    for (const line of touchedAreaLines(touched, pageSize)) out(line);
    for (const line of hugeAreaLines(doc.hugePageAreas)) out(line);
    return;
  }
  const snap = await readSoftDirty(pages);
  const doc: DirtyJson = {
    ...base,
    hugePageAreas: await tryHugeAreas(pages),
    ranges: snap.ranges.map(rangeJson),
    pages: snap.writtenPages,
    bytes: snap.writtenPages * pageSize,
    areas: [],
  };
  if (o.json) {
    out(toJson(doc));
    return;
  }
  out(
    `${c.bold(fmtInt(snap.writtenPages))} soft-dirty ${WRITTEN} (${formatBytes(snap.writtenPages * pageSize)}) since the bits were last cleared or the areas mapped, in ${fmtInt(snap.ranges.length)} ranges; ${fmtInt(snap.scannedPages)} pages scanned`,
  );
  for (const line of snapshotLines(snap, pageSize)) out(line);
  for (const line of hugeAreaLines(doc.hugePageAreas)) out(line);
}

async function runWatch(o: DirtyRun, base: DirtyJsonBase, target: ProcessPages): Promise<void> {
  const { pageSize } = target;
  const c = palette(o.json ? false : undefined);
  const { tolerance } = o;
  const rule = watchRule(o, o.untilStable === true);
  const { maxRounds } = rule;
  const meter: Meter = base.method === 'accessed' ? new AccessedMeter(target) : new SoftDirtyMeter(target);
  const what = base.method === 'accessed' ? 'touched' : 'written';
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.on('SIGINT', onSigint);
  const series: number[] = [];
  if (!o.json) {
    out(
      c.dim(
        `watching: every ${o.intervalMs} ms memlens clears the ${base.method === 'accessed' ? 'referenced' : 'soft-dirty'} bits and counts the pages ${what} since` +
          (o.untilStable
            ? `, until ${rule.stableRounds} steady rounds (±${(tolerance * 100).toFixed(1)} % or ±${rule.noisePages} pages)`
            : '') +
          (Number.isFinite(maxRounds) ? `, at most ${maxRounds} rounds` : ', until Ctrl-C'),
      ),
    );
  }
  let result: WatchResult;
  try {
    result = await watch({
      meter,
      intervalMs: o.intervalMs,
      rule,
      untilStable: o.untilStable === true,
      maxRounds,
      signal: abort.signal,
      onRound: (r: Round) => {
        series.push(r.pages);
        if (o.json) return;
        out(roundLine(r, series, what, pageSize, c));
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
    meter.close();
  }
  const converged = result.verdict.state === 'converged';
  const lastRound = result.rounds[result.rounds.length - 1];
  const workingSetPages = workingSet(result.verdict, lastRound?.pages);
  const doc: DirtyWatchJson = {
    ...base,
    hugePageAreas: result.stopReason === 'exited' ? [] : await tryHugeAreas(target),
    rounds: result.rounds.map((r) => roundJson(r, pageSize)),
    converged,
    stopReason: result.stopReason,
    rule: ruleJson(rule),
    workingSetPages,
    workingSetBytes: workingSetPages === null ? null : workingSetPages * pageSize,
    ranges: (result.last?.dirty?.ranges ?? []).map(rangeJson),
    areas: (result.last?.touched?.areas ?? []).map(touchedAreaJson),
  };
  if (result.stopReason === 'exited')
    note(
      `process ${o.pid} exited during the watch; results of the ${result.rounds.length} rounds measured before that`,
    );
  if (o.json) {
    out(toJson(doc));
    return;
  }
  out('');
  out(`${sparkline(result.rounds.map((r) => r.pages))}  ${result.rounds.length} rounds of ${o.intervalMs} ms`);
  const perRound = `per ${o.intervalMs} ms round`;
  if (result.verdict.state === 'converged') {
    out(
      c.green(
        `converged after ${result.rounds.length} rounds: ${base.method === 'accessed' ? 'working set' : 'writable working set'} ${fmtInt(result.verdict.workingSetPages)} pages (${formatBytes(result.verdict.workingSetPages * pageSize)}) ${what} ${perRound}`,
      ),
    );
  } else if (lastRound) {
    out(
      c.yellow(
        `not converged after ${result.rounds.length} rounds (${result.stopReason}): the count per round has not settled within ±${(tolerance * 100).toFixed(1)} %; last round ${fmtInt(lastRound.pages)} pages (${formatBytes(lastRound.pages * pageSize)}) ${what}`,
      ),
    );
  } else {
    out(c.yellow('no complete round'));
  }
  if (base.method === 'accessed') out(c.dim(`(${TOUCHED}: from the referenced bits, not a count of writes)`));
  // Where the last round's pages were, by mapping.
  const lastDirty = result.last?.dirty;
  const lastTouched = result.last?.touched;
  if (lastDirty) {
    const rows = writtenAreaRows(lastDirty);
    if (rows.length > 0) out(c.dim('\nlast round, by mapping:'));
    for (const line of areaTableLines(rows, pageSize, WRITTEN)) out(line);
  } else if (lastTouched && lastTouched.areas.length > 0) {
    out(c.dim('\nlast round, by mapping:'));
    for (const line of touchedAreaLines(lastTouched, pageSize)) out(line);
  }
  for (const line of hugeAreaLines(doc.hugePageAreas)) out(line);
}
