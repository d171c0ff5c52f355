// `memlens dirty`: the work behind the command's flags (loaded lazily by commands/dirty.ts).
import { ProcessGoneError, UserError } from '../base/errors.js';
import { formatBytes, type Address } from '../base/units.js';
import { touchedPages } from '../analyses/dirty/accessed.js';
import { AccessedMeter, SoftDirtyMeter, readSoftDirty, type Meter } from '../analyses/dirty/meters.js';
import type { DirtySnapshot } from '../analyses/dirty/snapshot.js';
import { sparkline } from '../analyses/dirty/sparkline.js';
import { watch, type Round, type WatchResult } from '../analyses/dirty/watch.js';
import { hugeAreasJson, rangeJson, roundJson, ruleJson, touchedAreaJson, workingSetPages as workingSet } from '../analyses/dirty/wire.js';
import type { ProcessPages } from '../sources/pagemap.js';
import { DIRTY_MEANING, DIRTY_WIRE_VERSION, hexAddress, type DirtyJson, type DirtyJsonBase, type DirtyWatchJson } from '../wire/dirty.js';
import { DIRTY_FLAG_NAMES, watchRule, type DirtyOptions, type WatchTiming } from './dirty-flags.js';
import { checkWatchRights, inspectTarget, softDirtyMissing } from './dirty-target.js';
import { printable } from '../base/terminal-text.js';
import { palette, table, toJson } from './output.js';

export interface DirtyRun extends Omit<DirtyOptions, 'maxRounds' | 'tolerance' | 'interval'>, WatchTiming {
  pid: number;
}

const WRITTEN = DIRTY_MEANING['soft-dirty'];
const TOUCHED = DIRTY_MEANING.accessed;
/** Human output lists at most this many ranges; --json has them all. */
const MAX_PRINTED_RANGES = 40;

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const note = (s: string): void => {
  process.stderr.write(`memlens: ${printable(s)}\n`);
};
const fmtInt = (n: number): string => n.toLocaleString('en-US');

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
      out(c.yellow(probe.supported ? 'method: referenced bits (--fallback accessed)' : `soft-dirty unavailable: ${probe.detail}.`));
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
    out(`${c.bold(fmtInt(touched.pages))} ${TOUCHED} (${formatBytes(touched.pages * pageSize)}) since the referenced bits were last cleared; memlens clears nothing without --watch`);
    printAreaTable(touched.areas.map((a) => ({ mapping: a.mapping, pages: a.pages, extra: '' })), pageSize, TOUCHED);
    printHuge(doc.hugePageAreas);
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
  printSnapshot(snap, pageSize);
  printHuge(doc.hugePageAreas);
}

function printSnapshot(snap: DirtySnapshot, pageSize: number): void {
  const rows = snap.areas
    .filter((a) => a.writtenPages > 0 || a.newMappingPages > 0)
    .map((a) => ({ mapping: a.mapping, pages: a.writtenPages, extra: a.newMappingPages > 0 ? `${fmtInt(a.newMappingPages)} new mapping` : '' }));
  printAreaTable(rows, pageSize, WRITTEN);
  if (snap.ranges.length === 0) return;
  out('');
  const shown = snap.ranges.slice(0, MAX_PRINTED_RANGES);
  out(table([['start', 'end', 'pages', 'mapping'], ...shown.map((r) => [hex(r.start), hex(r.end), fmtInt(r.pages), printable(r.mapping)])], ['left', 'left', 'right', 'left']));
  if (snap.ranges.length > shown.length) out(`… ${fmtInt(snap.ranges.length - shown.length)} more ranges (--json lists them all)`);
}

const hex = (a: Address): string => hexAddress(a);

function printAreaTable(rows: { mapping: string; pages: number; extra: string }[], pageSize: number, what: string): void {
  // One line per mapping name: areas of the same file or kind are summed.
  const byName = new Map<string, { pages: number; extra: string[] }>();
  for (const r of rows) {
    const e = byName.get(r.mapping) ?? { pages: 0, extra: [] };
    e.pages += r.pages;
    if (r.extra) e.extra.push(r.extra);
    byName.set(r.mapping, e);
  }
  const sorted = [...byName.entries()].sort((a, b) => b[1].pages - a[1].pages);
  if (sorted.length === 0) return;
  out('');
  out(
    table(
      [['mapping', what, 'bytes', ''], ...sorted.map(([m, e]) => [printable(m), fmtInt(e.pages), formatBytes(e.pages * pageSize), e.extra.join(', ')])],
      ['left', 'right', 'right', 'left'],
    ),
  );
}

function printHuge(areas: DirtyJsonBase['hugePageAreas']): void {
  if (areas.length === 0) return;
  const total = areas.reduce((s, a) => s + a.anonHugeBytes, 0);
  out('');
  out(`note: ${formatBytes(total)} in ${areas.length} areas is in transparent huge pages: one write there marks a whole 2 MiB page.`);
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
          (o.untilStable ? `, until ${rule.stableRounds} steady rounds (±${(tolerance * 100).toFixed(1)} % or ±${rule.noisePages} pages)` : '') +
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
        const change = r.round === 1 ? '' : `${r.pages >= (series[series.length - 2] ?? 0) ? '+' : '-'}${(r.change * 100).toFixed(1)} %`;
        const extra = r.newMappingPages > 0 ? c.dim(`  + ${fmtInt(r.newMappingPages)} new mapping`) : '';
        out(`round ${String(r.round).padStart(3)}  ${fmtInt(r.pages).padStart(10)} ${what}  ${formatBytes(r.pages * pageSize).padStart(10)}  ${change.padStart(8)}  ${sparkline(series)}${extra}`);
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
  if (result.stopReason === 'exited') note(`process ${o.pid} exited during the watch; results of the ${result.rounds.length} rounds measured before that`);
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
    const rows = lastDirty.areas
      .filter((x) => x.writtenPages > 0 || x.newMappingPages > 0)
      .map((x) => ({ mapping: x.mapping, pages: x.writtenPages, extra: x.newMappingPages > 0 ? `${fmtInt(x.newMappingPages)} new mapping` : '' }));
    if (rows.length > 0) out(c.dim('\nlast round, by mapping:'));
    printAreaTable(rows, pageSize, WRITTEN);
  } else if (lastTouched && lastTouched.areas.length > 0) {
    out(c.dim('\nlast round, by mapping:'));
    printAreaTable(lastTouched.areas.map((x) => ({ mapping: x.mapping, pages: x.pages, extra: '' })), pageSize, TOUCHED);
  }
  printHuge(doc.hugePageAreas);
}
