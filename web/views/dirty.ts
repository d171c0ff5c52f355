// The dirty-pages view: the watch `memlens serve --dirty-watch PID` runs (src/server/dirty-watch.ts).
// Pages per round as a chart (new-mapping pages a series of their own, never added to the written
// ones), the convergence rule and its verdict, the working set, and where the newest round's pages
// were: by mapping and as address ranges. The history comes over HTTP when the tab opens, then the
// new rounds over the WebSocket. Process names and mapping paths reach the page as text only.
import type { DirtyBody, DirtyRoundPoint, DirtyWatchHead } from '../../src/wire/messages.js';
import type { DirtyRangeJson } from '../../src/wire/dirty.js';
import { api } from '../api.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { ageText, bytesText, countText, timeText } from '../format.js';

/** The page keeps as many rounds as the server does at most. */
const MAX_ROUNDS = 3600;

const SOFT_DIRTY_DOC = 'Documentation/admin-guide/mm/soft-dirty.rst';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${countText(n)} ${n === 1 ? one : many}`;
}

function durationText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Consecutive rounds whose verdict was "converged", as [first, last] pairs. */
function convergedStretches(series: readonly DirtyRoundPoint[]): [number, number][] {
  const out: [number, number][] = [];
  let from: number | null = null;
  let prev = 0;
  for (const r of series) {
    if (r.converged && from === null) from = r.round;
    if (!r.converged && from !== null) {
      out.push([from, prev]);
      from = null;
    }
    prev = r.round;
  }
  if (from !== null) out.push([from, prev]);
  return out;
}

export class DirtyView {
  private head: DirtyWatchHead | null = null;
  private series: DirtyRoundPoint[] = [];
  private readonly chart: Chart;
  private loading: Promise<void> | null = null;
  private chartDirty = false;
  private serverSkewMs = 0;

  constructor() {
    this.chart = makeChart(byId('dirty-chart'));
  }

  /** Whether the server runs a watch: the tab exists only then. */
  async probe(): Promise<boolean> {
    const body = await api.dirty();
    if (body.watch !== null && this.head === null) this.take(body);
    return body.watch !== null;
  }

  /** The newest round the page holds (what the WebSocket subscription asks to continue from). */
  get newestRound(): number {
    return this.series[this.series.length - 1]?.round ?? 0;
  }

  /** Loads the whole series over HTTP (the tab was opened, or the server's watch is another one). */
  open(): Promise<void> {
    this.loading ??= api
      .dirty()
      .then((body) => this.take(body))
      .catch((e: unknown) => this.reason(e instanceof Error ? e.message : String(e), 'error'))
      .finally(() => (this.loading = null));
    return this.loading;
  }

  private take(body: DirtyBody): void {
    this.head = body.watch;
    this.series = body.series.slice(-MAX_ROUNDS);
    this.chartDirty = true;
    this.render();
  }

  /** A live update: the head, and the rounds after the newest one the page holds. */
  apply(update: { watch: DirtyWatchHead; rounds: DirtyRoundPoint[] }): 'ok' | 'reload' {
    if (this.head !== null && update.watch.startedAtMs !== this.head.startedAtMs) return 'reload';
    this.head = update.watch;
    const newest = this.newestRound;
    // Rounds the page already has (a reconnect re-sends from the subscription's older round) are skipped.
    const fresh = update.rounds.filter((r) => r.round > newest);
    if (fresh.length > 0) {
      this.series.push(...fresh);
      if (this.series.length > MAX_ROUNDS) this.series.splice(0, this.series.length - MAX_ROUNDS);
      this.chartDirty = true;
    }
    this.render();
    return 'ok';
  }

  refreshTheme(): void {
    this.chartDirty = true;
    this.render();
  }

  /** Ages grow between rounds: re-rendered every second. */
  tick(serverNow: number): void {
    const h = this.head;
    if (h === null) return;
    this.serverSkewMs = serverNow - Date.now();
    setText(
      byId('dirty-age'),
      h.lastRoundAtMs === null ? '' : `newest round read ${ageText(serverNow - h.lastRoundAtMs)} ago`,
    );
  }

  private render(): void {
    const h = this.head;
    if (h === null) {
      setText(byId('dirty-title'), 'Dirty pages');
      this.reason(
        'No dirty-pages watch: start memlens serve with --dirty-watch PID to watch which pages a process writes.',
        'muted',
      );
      return;
    }
    setText(byId('dirty-title'), `Dirty pages of process ${h.pid} (${h.name})`);
    this.renderState(h);
    this.renderMethod(h);
    this.renderVerdict(h);
    this.renderRule(h);
    this.renderTables(h);
    if (this.chartDirty) {
      this.chartDirty = false;
      this.drawChart(h);
    }
    this.tick(Date.now() + this.serverSkewMs);
  }

  private reason(text: string, level: 'muted' | 'warn-text' | 'error'): void {
    const node = byId('dirty-reason');
    setText(node, text);
    node.className = `note ${level}`;
    node.hidden = text === '';
  }

  private renderState(h: DirtyWatchHead): void {
    const badge = byId('dirty-state');
    const [text, level] =
      h.state === 'running'
        ? [`watching every ${durationText(h.intervalMs)}`, 'ok']
        : h.state === 'stopped'
          ? [h.stopReason === 'exited' ? 'process exited' : 'stopped', 'warn']
          : h.state === 'failed'
            ? ['failed', 'bad']
            : ['not watching', 'bad'];
    setText(badge, text);
    badge.className = `badge ${level}`;
    setText(
      byId('dirty-rounds'),
      h.rounds === 0
        ? ''
        : `${plural(h.rounds, 'round')}${h.rounds > this.series.length ? ` (the newest ${countText(this.series.length)} shown)` : ''}`,
    );
    this.reason(h.reason ?? '', h.state === 'stopped' ? 'warn-text' : h.state === 'running' ? 'muted' : 'error');
  }

  private renderMethod(h: DirtyWatchHead): void {
    const every = durationText(h.intervalMs);
    // No watch runs: no figures, chart or tables, only what was asked for and why it cannot be.
    byId('dirty-body').hidden = h.state === 'unavailable';
    const text =
      h.state === 'unavailable'
        ? `Asked for: soft-dirty bits, counting ${h.meaning} every ${every}. No watch runs, and nothing of the process has been or will be cleared.`
        : h.method === 'soft-dirty'
          ? `Method: soft-dirty bits, counting ${h.meaning}. Every round memlens clears the process's soft-dirty bits (writes 4 to /proc/${h.pid}/clear_refs), waits ${every} and counts the pages whose bit 55 of /proc/${h.pid}/pagemap is set again, present or swapped (${SOFT_DIRTY_DOC}). The kernel marks areas that are new or grown during a round as a whole, written or not: their pages are shown apart as "new mapping", never counted as writes.`
          : `Method: referenced bits (--dirty-fallback accessed), counting ${h.meaning}${h.softDirty.supported ? '' : ', because this kernel does not track soft-dirty pages'}. Every round memlens clears the process's referenced bits (writes 1 to /proc/${h.pid}/clear_refs), waits ${every} and sums the Referenced lines of /proc/${h.pid}/smaps. Reads count as much as writes: these are not writes. The count is per area, not per page (no addresses of single pages), and pages of files shared with other processes (libraries) count when those processes touch them too.`;
    setText(byId('dirty-method'), text);
    byId('dirty-method').title = `soft-dirty probe: ${h.softDirty.probe}`;
  }

  private renderVerdict(h: DirtyWatchHead): void {
    const what = h.method === 'soft-dirty' ? 'written' : 'touched';
    const perRound = `per ${durationText(h.intervalMs)} round`;
    let verdict: string;
    let level = 'muted';
    if (h.state === 'unavailable') verdict = 'no watch';
    else if (h.rounds === 0) verdict = h.state === 'running' ? 'waiting for the first round' : 'no round measured';
    else if (h.converged) {
      verdict = h.convergedSinceRound === null ? 'converged' : `converged at round ${countText(h.convergedSinceRound)}`;
      if (h.state === 'running' && h.convergedSinceRound !== null && h.rounds > h.convergedSinceRound)
        verdict += `, still at round ${countText(h.rounds)}`;
      level = 'ok-text';
    } else {
      const needs = h.rule.stableRounds;
      const early = h.rounds < h.rule.minRounds ? `; never before round ${h.rule.minRounds}` : '';
      const was = this.series.some((r) => r.converged)
        ? ' (it had converged earlier: the count per round has changed since)'
        : '';
      verdict =
        h.state === 'running'
          ? `not converged: ${Math.min(h.steadyRounds, needs)} of ${needs} steady rounds in a row${early}${was}`
          : `not converged after ${plural(h.rounds, 'round')}${h.stopReason === null ? '' : ` (${h.stopReason})`}${was}`;
      level = 'warn-text';
    }
    const v = byId('dirty-verdict');
    setText(v, verdict);
    v.className = level;
    const ws = byId('dirty-ws');
    const wsLabel = byId('dirty-ws-label');
    if (h.converged && h.workingSetPages !== null) {
      setText(wsLabel, h.method === 'soft-dirty' ? 'writable working set' : 'working set (touched)');
      setText(ws, `${plural(h.workingSetPages, 'page')} (${bytesText(h.workingSetBytes)}) ${what} ${perRound}`);
    } else {
      setText(wsLabel, 'working set');
      setText(ws, h.rounds === 0 ? 'n/a' : 'none yet: not converged');
    }
    const newest = this.series[this.series.length - 1];
    setText(
      byId('dirty-last'),
      newest === undefined
        ? 'n/a'
        : `round ${countText(newest.round)}: ${plural(newest.pages, 'page')} ${what} (${bytesText(newest.bytes)})${h.method === 'soft-dirty' ? ` + ${plural(newest.newMappingPages, 'page')} of new mapping` : ''}, in ${durationText(newest.intervalMs)}`,
    );
  }

  private renderRule(h: DirtyWatchHead): void {
    const r = h.rule;
    const tol = `${(r.tolerance * 100).toFixed(1).replace(/\.0$/, '')} %`;
    const after = h.untilStable
      ? 'This watch stops when it converges (--dirty-until-stable).'
      : 'This watch keeps going after it converges, judging the rule again after every round, so a change of the write set shows.';
    const limit = r.maxRounds === null ? '' : ` It stops after ${plural(r.maxRounds, 'round')} at most.`;
    setText(
      byId('dirty-rule'),
      `Convergence rule: a round is steady when its count differs from the previous round's by at most ${tol} of the larger of the two, or by at most ${r.noisePages} pages. ` +
        `The watch has converged after ${r.stableRounds} steady rounds in a row whose ${r.stableRounds + 1} counts also lie within that band of each other and do not all rise (or all fall) by more than ${r.noisePages} pages, never before round ${r.minRounds}; ` +
        `the working set is then the mean of those counts. ${after}${limit}`,
    );
    const huge = byId('dirty-huge');
    const total = h.hugePageAreas.reduce((s, a) => s + a.anonHugeBytes, 0);
    huge.hidden = h.hugePageAreas.length === 0;
    setText(
      huge,
      `${bytesText(total)} in ${plural(h.hugePageAreas.length, 'area')} was in transparent huge pages when the watch began: one write there marks a whole 2 MiB page.`,
    );
  }

  private renderTables(h: DirtyWatchHead): void {
    const what = h.method === 'soft-dirty' ? 'pages written' : 'pages touched';
    setText(byId('dirty-col-pages'), what);
    byId('dirty-col-new').hidden = h.method !== 'soft-dirty';
    byId('dirty-mappings').replaceChildren(
      ...h.byMapping.map((m) =>
        el(
          'tr',
          {},
          el('td', { class: 'path' }, m.mapping),
          el('td', { class: 'num' }, countText(m.pages)),
          el('td', { class: 'num' }, bytesText(m.pages * h.pageSize)),
          ...(h.method === 'soft-dirty'
            ? [el('td', { class: 'num' }, m.newMappingPages === 0 ? '' : countText(m.newMappingPages))]
            : []),
        ),
      ),
    );
    const rows: HTMLElement[] = [];
    const row = (r: DirtyRangeJson, kind: string, cls: string): HTMLElement =>
      el(
        'tr',
        { class: cls },
        el('td', { class: 'addr' }, r.start),
        el('td', { class: 'addr' }, r.end),
        el('td', { class: 'num' }, countText(r.pages)),
        el('td', {}, kind),
        el('td', { class: 'path' }, r.mapping),
      );
    let note: string;
    if (h.method === 'soft-dirty') {
      const all = [
        ...h.ranges.map((r) => ({ r, kind: 'written', cls: '' })),
        ...h.newMappingRanges.map((r) => ({ r, kind: 'new mapping', cls: 'muted' })),
      ];
      all.sort((a, b) => (BigInt(a.r.start) < BigInt(b.r.start) ? -1 : 1));
      for (const x of all) rows.push(row(x.r, x.kind, x.cls));
      setText(byId('dirty-ranges-title'), 'Newest round: written ranges');
      note = `${plural(h.rangesTotal, 'range')} of written pages${h.rangesTotal > h.ranges.length ? ` (the ${countText(h.ranges.length)} largest shown)` : ''}, ${plural(h.newMappingRangesTotal, 'range')} of new mapping${h.newMappingRangesTotal > h.newMappingRanges.length ? ` (the ${countText(h.newMappingRanges.length)} largest shown)` : ''}; ends are exclusive.`;
    } else {
      for (const a of h.areas) rows.push(row(a, 'touched', ''));
      setText(byId('dirty-ranges-title'), 'Newest round: touched pages per area');
      note = `${plural(h.areasTotal, 'area')} with touched pages${h.areasTotal > h.areas.length ? ` (the ${countText(h.areas.length)} largest shown)` : ''}: the referenced bits give a count per area, not which pages; ends are exclusive.`;
    }
    setText(byId('dirty-ranges-note'), note);
    byId('dirty-ranges').replaceChildren(...rows);
  }

  private drawChart(h: DirtyWatchHead): void {
    const c = themeColours();
    const s = this.series;
    const newest = s[s.length - 1];
    const stretches = convergedStretches(s);
    byId('dirty-chart').setAttribute(
      'aria-label',
      newest === undefined
        ? `${h.meaning} per round: no round yet`
        : `${h.meaning} per round: ${plural(s.length, 'round')} shown, ${s[0]?.round ?? 0} to ${newest.round}; newest ${countText(newest.pages)}${h.method === 'soft-dirty' ? `, new mapping ${countText(newest.newMappingPages)}` : ''}${h.converged && h.workingSetPages !== null ? `; working set ${countText(h.workingSetPages)}` : ''}${stretches.length === 0 ? '' : `; converged in rounds ${stretches.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ')}`}`,
    );
    const okColour = getComputedStyle(document.documentElement).getPropertyValue('--ok').trim();
    const series: Record<string, unknown>[] = [
      {
        name: h.meaning,
        type: 'line',
        showSymbol: s.length <= 60,
        symbolSize: 5,
        areaStyle: { opacity: 0.18 },
        lineStyle: { width: 2 },
        data: s.map((r) => [r.round, r.pages]),
        markArea: {
          silent: true,
          itemStyle: { color: okColour, opacity: 0.1 },
          label: { color: c.muted, position: 'insideTop', fontSize: 10 },
          data: stretches.map(([a, b]) => [{ xAxis: a - 0.5, name: 'converged' }, { xAxis: b + 0.5 }]),
        },
        markLine:
          h.converged && h.workingSetPages !== null
            ? {
                silent: true,
                symbol: 'none',
                lineStyle: { color: okColour, type: 'dashed' },
                label: {
                  color: c.muted,
                  formatter: `working set ${countText(h.workingSetPages)}`,
                  position: 'insideEndTop',
                },
                data: [{ yAxis: h.workingSetPages }],
              }
            : { data: [] },
      },
    ];
    if (h.method === 'soft-dirty') {
      series.push({
        name: 'new mapping (not writes)',
        type: 'line',
        showSymbol: s.length <= 60,
        symbolSize: 4,
        lineStyle: { width: 1.5, type: 'dashed' },
        data: s.map((r) => [r.round, r.newMappingPages]),
      });
    }
    const byRound = new Map(s.map((r) => [r.round, r]));
    this.chart.setOption(
      {
        color: c.palette.slice(0, 2),
        animation: false,
        grid: { left: 70, right: 24, top: 34, bottom: s.length > 60 ? 64 : 36 },
        legend: { top: 0, textStyle: { color: c.text } },
        tooltip: {
          ...tooltipBase(),
          trigger: 'axis',
          formatter: (params: unknown) => {
            const ps = params as { value: [number, number] }[];
            const round = ps[0]?.value[0];
            const r = round === undefined ? undefined : byRound.get(round);
            if (r === undefined) return '';
            const lines = [
              `round ${countText(r.round)} · read at ${timeText(r.atMs)} · ${durationText(r.intervalMs)}`,
              `${h.meaning}: ${countText(r.pages)} (${bytesText(r.bytes)})`,
              ...(h.method === 'soft-dirty' ? [`new mapping (not writes): ${countText(r.newMappingPages)}`] : []),
              `change from the previous round: ${(r.change * 100).toFixed(1)} %`,
              r.converged ? 'converged after this round' : 'not converged after this round',
            ];
            return lines.map(esc).join('<br/>');
          },
        },
        xAxis: {
          type: 'value',
          name: 'round',
          nameLocation: 'end',
          minInterval: 1,
          min: s[0]?.round ?? 1,
          max: newest?.round ?? 1,
          axisLabel: { color: c.muted },
          splitLine: { show: false },
        },
        yAxis: {
          type: 'value',
          name: 'pages',
          min: 0,
          axisLabel: { color: c.muted },
          splitLine: { lineStyle: { color: c.grid } },
        },
        dataZoom: s.length > 60 ? [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }] : [],
        series,
      },
      { notMerge: true },
    );
  }
}
