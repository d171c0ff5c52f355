// Process detail: a panel over the page with the process's mappings by kind, its memory over
// time and its calls (a CallList filtered by pid). Memory over time is two panes: resident memory
// (RSS, PSS, USS, swap) on a linear axis, and address space (mapped now, requested) on a log
// axis. They differ by orders of magnitude: a 1 TiB reservation on one linear axis with RSS put
// RSS and PSS on the zero line.
import type { MemEventJson } from '../../src/wire/events.js';
import type { ProcessDetailBody, ProcessPoint, ProcessRow } from '../../src/wire/messages.js';
import { api } from '../api.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, scaleAxis, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { byteAxis } from '../../src/base/axis.js';
import { HUE } from '../../src/base/palette.js';
import { bytesText, countText, timeText } from '../format.js';
import { CallList } from './calls.js';

type PointKey = keyof Omit<ProcessPoint, 'tMs'>;

/** Pane 0: what is in RAM or swap. Colours are palette indexes, fixed per figure. */
const RESIDENT: { key: PointKey; name: string; colour: number; help: string }[] = [
  {
    key: 'rssBytes',
    name: 'RSS',
    colour: HUE.blue,
    help: 'resident set: pages in RAM, shared ones counted whole (VmRSS)',
  },
  {
    key: 'pssBytes',
    name: 'PSS',
    colour: HUE.orange,
    help: 'proportional set: shared pages divided among their users (smaps_rollup Pss)',
  },
  {
    key: 'ussBytes',
    name: 'USS',
    colour: HUE.green,
    help: 'unique set: pages only this process maps (Private_Clean + Private_Dirty)',
  },
  { key: 'swapBytes', name: 'swap', colour: HUE.vermillion, help: 'swapped out (VmSwap)' },
];

/** Pane 1: address space, which costs no RAM until touched. */
const POWER_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** A tick of the log axis: "1 GiB" for a power of 1024, other values as bytesText. */
function powerText(v: number): string {
  const k = Math.round(Math.log(v) / Math.log(1024));
  const unit = POWER_UNITS[k];
  return unit !== undefined && Math.abs(v - 1024 ** k) <= 1e-6 * v ? `1 ${unit}` : bytesText(v);
}

const ADDRESS_SPACE: { key: PointKey; name: string; colour: number; help: string }[] = [
  {
    key: 'mappedNowBytes',
    name: 'mapped now',
    colour: HUE.purple,
    help: 'mapped right now, per the tracer (else VmSize)',
  },
  {
    key: 'requestedBytes',
    name: 'requested',
    colour: HUE.sky,
    help: 'accessible address space the calls asked for (mmap − munmap, PROT_NONE excluded)',
  },
  {
    key: 'reservedBytes',
    name: 'reserved',
    colour: HUE.yellow,
    help: 'address space mapped PROT_NONE: reserved, never backed by memory until mprotect opens it',
  },
];

export class DetailView {
  pid: number | null = null;
  private history: ProcessPoint[] = [];
  private readonly chart: Chart;
  private readonly calls: CallList;
  private host: string | undefined;

  constructor(private readonly onClose: () => void) {
    this.chart = makeChart(byId('detail-chart'));
    this.calls = new CallList(
      byId('detail-calls-head'),
      byId('detail-calls-scroll'),
      byId('detail-calls-inner'),
      (t) => setText(byId('detail-calls-info'), t),
      () => undefined,
      new Set(['pid', 'name']),
    );
    byId('detail-close').addEventListener('click', () => this.close());
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.pid !== null) this.close();
    });
  }

  async open(pid: number, host: string | undefined): Promise<void> {
    this.pid = pid;
    this.host = host;
    this.history = [];
    byId('detail').hidden = false;
    setText(byId('detail-title'), `pid ${pid}`);
    setText(byId('detail-error'), '');
    void this.calls.reset({ pid }, host);
    try {
      const body = await api.process(pid, host);
      if (this.pid !== pid) return;
      this.show(body);
    } catch (e) {
      setText(byId('detail-error'), e instanceof Error ? e.message : String(e));
    }
  }

  close(): void {
    this.pid = null;
    byId('detail').hidden = true;
    this.onClose();
  }

  private show(b: ProcessDetailBody): void {
    this.showRow(b.row);
    this.history = b.history;
    const tbody = byId('detail-maps');
    if (b.mappings === null) {
      tbody.replaceChildren(el('tr', {}, el('td', { colspan: '5' }, `n/a: ${b.mappingsError ?? 'unavailable'}`)));
    } else {
      const rows = [...b.mappings].sort((x, y) => (y.rssBytes ?? -1) - (x.rssBytes ?? -1));
      tbody.replaceChildren(
        ...rows.map((m) =>
          el(
            'tr',
            {},
            el('td', {}, m.kind),
            el('td', { class: 'num' }, countText(m.count)),
            el('td', { class: 'num' }, bytesText(m.sizeBytes)),
            el('td', { class: 'num' }, bytesText(m.rssBytes)),
            el('td', { class: 'num' }, bytesText(m.pssBytes)),
          ),
        ),
      );
    }
    this.renderChart();
  }

  private showRow(r: ProcessRow): void {
    setText(byId('detail-title'), `${r.name} (pid ${r.pid})${r.alive ? '' : ' — exited'}`);
    setText(byId('detail-cmdline'), r.cmdline ?? 'command line n/a');
    setText(
      byId('detail-figures'),
      `requested ${bytesText(r.requestedBytes)} · mapped now ${bytesText(r.mappedNowBytes)} · RSS ${bytesText(r.rssBytes)} · PSS ${bytesText(r.pssBytes)} · swap ${bytesText(r.swapBytes)} · calls ${countText(r.calls)}`,
    );
  }

  addPoint(pid: number, point: ProcessPoint, row: ProcessRow | null): void {
    if (pid !== this.pid) return;
    const last = this.history[this.history.length - 1];
    if (last === undefined || last.tMs < point.tMs) this.history.push(point);
    if (row !== null) this.showRow(row);
    this.renderChart();
  }

  addCalls(calls: MemEventJson[], skipped: number): void {
    if (this.pid === null) return;
    this.calls.addLive(calls, skipped);
  }

  refreshTheme(): void {
    this.renderChart();
  }

  private renderChart(): void {
    const c = themeColours();
    const h = this.history;
    const maxOf = (keys: PointKey[]): number => Math.max(1, ...h.flatMap((p) => keys.map((k) => p[k] ?? 0)));
    const ya = byteAxis(maxOf(RESIDENT.map((s) => s.key)));
    // The address-space pane's range in powers of 1024, at least one power wide.
    const spaceValues = h.flatMap((p) => ADDRESS_SPACE.map((s) => p[s.key] ?? 0)).filter((v) => v > 0);
    const lowPow =
      spaceValues.length === 0 ? 1 : Math.floor(Math.log(Math.min(...spaceValues)) / Math.log(1024) + 1e-9);
    const highPow = Math.max(
      lowPow + 1,
      spaceValues.length === 0 ? 2 : Math.ceil(Math.log(Math.max(...spaceValues)) / Math.log(1024) - 1e-9),
    );
    const help = new Map([...RESIDENT, ...ADDRESS_SPACE].map((s) => [s.name, s.help]));
    const series = (list: typeof RESIDENT, pane: number, log: boolean): Record<string, unknown>[] =>
      list.map((s) => ({
        name: s.name,
        type: 'line',
        xAxisIndex: pane,
        yAxisIndex: pane,
        color: c.palette[s.colour],
        showSymbol: h.length < 30,
        symbolSize: 4,
        // A log axis has no 0: an empty figure is a gap, not a point at the bottom.
        data: h.map((p) => [p.tMs, log && (p[s.key] ?? 0) <= 0 ? null : p[s.key]]),
      }));
    // The time range is the history's, at least a minute: a single point would otherwise get a
    // range of days from ECharts.
    const t0 = h[0]?.tMs ?? Date.now();
    const t1 = Math.max(h[h.length - 1]?.tMs ?? t0, t0 + 60_000);
    const xAxis = (pane: number): Record<string, unknown> => ({
      type: 'time',
      gridIndex: pane,
      min: t0,
      max: t1,
      axisLabel: { color: c.muted, show: pane === 1, hideOverlap: true },
      splitLine: { show: false },
    });
    this.chart.setOption(
      {
        color: c.palette,
        animation: false,
        legend: {
          type: 'scroll',
          top: 0,
          textStyle: { color: c.text },
          tooltip: { show: true, formatter: (p: { name: string }) => esc(`${p.name}: ${help.get(p.name) ?? ''}`) },
        },
        // The panes share the time axis, so both are laid out at the same fixed margins: fitted to
        // their labels (containLabel), the upper pane's "40 MiB" and the lower one's "1 GiB" gave
        // their time axes different left ends, and the same time two places.
        grid: [
          { left: 72, right: 28, top: 56, height: '28%', outerBoundsMode: 'none' },
          { left: 72, right: 28, bottom: 28, height: '30%', outerBoundsMode: 'none' },
        ],
        axisPointer: { link: [{ xAxisIndex: 'all' }] },
        tooltip: {
          ...tooltipBase(),
          trigger: 'axis',
          formatter: (params: unknown) => {
            const ps = params as { seriesName: string; value: [number, number | null]; marker: string }[];
            const t = ps[0]?.value[0];
            return `${t === undefined ? '' : esc(timeText(t))}<br/>${ps.map((p) => `${p.marker}${esc(p.seriesName)}: ${esc(bytesText(p.value[1]))}`).join('<br/>')}`;
          },
        },
        xAxis: [xAxis(0), xAxis(1)],
        yAxis: [
          {
            ...scaleAxis(ya),
            gridIndex: 0,
            name: 'resident memory',
            nameTextStyle: { color: c.muted, align: 'left' },
          },
          {
            type: 'log',
            logBase: 1024,
            // One tick per power of 1024 in the range (1 KiB, 1 MiB, 1 GiB…): ECharts' own choice
            // left two labels. On a log axis the interval is in powers (of logBase).
            min: 1024 ** lowPow,
            max: 1024 ** highPow,
            interval: 1,
            gridIndex: 1,
            name: 'address space (log scale)',
            nameTextStyle: { color: c.muted, align: 'left' },
            axisLabel: { color: c.muted, formatter: powerText },
            splitLine: { lineStyle: { color: c.grid } },
          },
        ],
        series: [...series(RESIDENT, 0, false), ...series(ADDRESS_SPACE, 1, true)],
      },
      { notMerge: true },
    );
    // Where each pane puts the history's first and last time, for the browser tests.
    byId('detail-chart').dataset.xPixels = [0, 1]
      .map((i) => [t0, t1].map((t) => Math.round(this.chart.convertToPixel({ xAxisIndex: i }, t))).join(','))
      .join('|');
  }

  get currentHost(): string | undefined {
    return this.host;
  }
}
