// The timeline: system memory over time, the ledger's categories stacked (they partition
// MemTotal, so the stack's top is MemTotal). Points come one per /proc sample.
import type { TimelineBody, TimelinePoint } from '../../src/wire/messages.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, setText } from '../dom.js';
import { bytesText, timeText } from '../format.js';

const MAX_POINTS = 3600;

export class TimelineView {
  private categories: string[] = [];
  private points: TimelinePoint[] = [];
  private readonly chart: Chart;
  private dirty = false;

  constructor() {
    this.chart = makeChart(byId('timeline'));
  }

  set(body: TimelineBody): void {
    this.categories = body.categories;
    this.points = body.points.slice(-MAX_POINTS);
    this.dirty = true;
  }

  add(categories: string[], point: TimelinePoint): void {
    if (categories.join('\0') !== this.categories.join('\0')) {
      this.categories = categories;
      this.points = [];
    }
    const last = this.points[this.points.length - 1];
    if (last !== undefined && last.tMs >= point.tMs) return;
    this.points.push(point);
    if (this.points.length > MAX_POINTS) this.points.shift();
    this.dirty = true;
  }

  refreshTheme(): void {
    this.dirty = true;
  }

  /** Drawn only when visible and changed. */
  render(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const c = themeColours();
    setText(byId('timeline-note'), this.points.length === 0 ? 'No samples yet (or a remote host: the timeline exists only for the local host).' : `${this.points.length} samples; categories stacked up to MemTotal. n/a values leave a gap.`);
    this.chart.setOption(
      {
        color: c.palette,
        animation: false,
        grid: { left: 70, right: 20, top: 40, bottom: 60 },
        legend: { type: 'scroll', top: 0, textStyle: { color: c.text } },
        tooltip: {
          ...tooltipBase(),
          trigger: 'axis',
          formatter: (params: unknown) => {
            const ps = params as { seriesName: string; value: [number, number | null]; marker: string }[];
            const t = ps[0]?.value[0];
            const lines = ps.map((p) => `${p.marker}${esc(p.seriesName)}: ${esc(bytesText(p.value[1]))}`);
            return `${t === undefined ? '' : esc(timeText(t))}<br/>${lines.join('<br/>')}`;
          },
        },
        xAxis: { type: 'time', axisLabel: { color: c.muted }, axisLine: { lineStyle: { color: c.grid } } },
        yAxis: { type: 'value', axisLabel: { color: c.muted, formatter: (v: number) => bytesText(v) }, splitLine: { lineStyle: { color: c.grid } } },
        dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 10 }],
        series: this.categories.map((name, i) => ({
          name,
          type: 'line',
          stack: 'ledger',
          areaStyle: {},
          showSymbol: false,
          sampling: 'lttb',
          lineStyle: { width: 1 },
          data: this.points.map((p) => [p.tMs, p.bytes[i] ?? null]),
        })),
      },
      { notMerge: true },
    );
  }
}
