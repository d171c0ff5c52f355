// Process detail: a panel over the page with the process's mappings by kind, its memory over
// time (RSS, PSS, mapped now, requested) and its calls (a CallList filtered by pid).
import type { MemEventJson } from '../../src/wire/events.js';
import type { ProcessDetailBody, ProcessPoint, ProcessRow } from '../../src/wire/messages.js';
import { api } from '../api.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { bytesText, countText, timeText } from '../format.js';
import { CallList } from './calls.js';

const SERIES: { key: keyof Omit<ProcessPoint, 'tMs'>; name: string }[] = [
  { key: 'rssBytes', name: 'RSS' },
  { key: 'pssBytes', name: 'PSS' },
  { key: 'mappedNowBytes', name: 'mapped now' },
  { key: 'requestedBytes', name: 'requested' },
];

export class DetailView {
  pid: number | null = null;
  private history: ProcessPoint[] = [];
  private readonly chart: Chart;
  private readonly calls: CallList;
  private host: string | undefined;

  constructor(private readonly onClose: () => void) {
    this.chart = makeChart(byId('detail-chart'));
    this.calls = new CallList(byId('detail-calls-scroll'), byId('detail-calls-inner'), (t) => setText(byId('detail-calls-info'), t), () => undefined);
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
      tbody.replaceChildren(...rows.map((m) => el('tr', {}, el('td', {}, m.kind), el('td', { class: 'num' }, countText(m.count)), el('td', { class: 'num' }, bytesText(m.sizeBytes)), el('td', { class: 'num' }, bytesText(m.rssBytes)), el('td', { class: 'num' }, bytesText(m.pssBytes)))));
    }
    this.renderChart();
  }

  private showRow(r: ProcessRow): void {
    setText(byId('detail-title'), `${r.name} (pid ${r.pid})${r.alive ? '' : ' — exited'}`);
    setText(byId('detail-cmdline'), r.cmdline ?? 'command line n/a');
    setText(byId('detail-figures'), `requested ${bytesText(r.requestedBytes)} · mapped now ${bytesText(r.mappedNowBytes)} · RSS ${bytesText(r.rssBytes)} · PSS ${bytesText(r.pssBytes)} · swap ${bytesText(r.swapBytes)} · calls ${countText(r.calls)}`);
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
    this.chart.setOption(
      {
        color: c.palette,
        animation: false,
        grid: { left: 70, right: 16, top: 30, bottom: 30 },
        legend: { top: 0, textStyle: { color: c.text } },
        tooltip: {
          ...tooltipBase(),
          trigger: 'axis',
          formatter: (params: unknown) => {
            const ps = params as { seriesName: string; value: [number, number | null]; marker: string }[];
            const t = ps[0]?.value[0];
            return `${t === undefined ? '' : esc(timeText(t))}<br/>${ps.map((p) => `${p.marker}${esc(p.seriesName)}: ${esc(bytesText(p.value[1]))}`).join('<br/>')}`;
          },
        },
        xAxis: { type: 'time', axisLabel: { color: c.muted } },
        yAxis: { type: 'value', axisLabel: { color: c.muted, formatter: (v: number) => bytesText(v) }, splitLine: { lineStyle: { color: c.grid } } },
        series: SERIES.map((s) => ({ name: s.name, type: 'line', showSymbol: this.history.length < 3, data: this.history.map((p) => [p.tMs, p[s.key]]) })),
      },
      { notMerge: true },
    );
  }

  get currentHost(): string | undefined {
    return this.host;
  }
}
