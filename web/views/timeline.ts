// The timeline: "who is growing?". Top: the memory in use, the ledger's categories stacked (free
// is not on the stack: it would squeeze the rest into a strip; it is a dashed line, off unless
// asked for). Bottom: the processes with the highest PSS of the window as lines, chosen in the
// picker. The data is the stored history (GET /api/v1/history): zooming or panning asks for the
// new window at a resolution that fits the chart's width, and the server picks the tier.
import type { HistoryBody } from '../../src/wire/messages.js';
import { api } from '../api.js';
import { axisText, byteAxis, type AxisScale } from '../../src/base/axis.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { bytesText } from '../format.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Okabe–Ito colours (Okabe & Ito 2008), distinguishable with the common colour-vision deficiencies. */
const OKABE_ITO = {
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  purple: '#CC79A7',
};
/** Each category keeps its colour whatever else is shown; the bottom of the stack is what processes own. */
const CATEGORY_ORDER = [
  'anon',
  'shmem',
  'kernel',
  'hugetlb',
  'zswap',
  'swap_cache',
  'buffers',
  'page_cache',
  'unaccepted',
  'unaccounted',
];
/** Short names for the legend; the tooltip gives the ledger's full label. */
const SHORT_NAME: Record<string, string> = {
  anon: 'anonymous',
  shmem: 'shared memory',
  kernel: 'kernel',
  hugetlb: 'hugetlb pool',
  zswap: 'zswap',
  swap_cache: 'swap cache',
  buffers: 'buffers',
  page_cache: 'page cache',
  unaccepted: 'unaccepted',
  unaccounted: 'unaccounted',
  free: 'free',
};
const CATEGORY_COLOUR: Record<string, string> = {
  anon: OKABE_ITO.blue,
  shmem: OKABE_ITO.purple,
  kernel: OKABE_ITO.vermillion,
  hugetlb: OKABE_ITO.orange,
  zswap: OKABE_ITO.yellow,
  swap_cache: OKABE_ITO.yellow,
  buffers: OKABE_ITO.green,
  page_cache: OKABE_ITO.sky,
};
/** Process lines: no yellow (too faint on white); after the six colours, the same with dashes. */
const LINE_COLOURS = [
  OKABE_ITO.orange,
  OKABE_ITO.sky,
  OKABE_ITO.green,
  OKABE_ITO.blue,
  OKABE_ITO.vermillion,
  OKABE_ITO.purple,
];
const SPANS: [string, number][] = [
  ['1 h', HOUR],
  ['6 h', 6 * HOUR],
  ['1 d', DAY],
  ['7 d', 7 * DAY],
  ['30 d', 30 * DAY],
];

type ChartPoint = [number, number | null];

export class TimelineView {
  private readonly chart: Chart;
  private host: string | undefined;
  private body: HistoryBody | null = null;
  /** The window shown; `follow`: its end is now and moves with it. */
  private span = HOUR;
  /**
   * Nobody chose the window yet: it shows the default span, or less when the history is younger
   * than that (a fresh server's few points fill the chart instead of its right edge).
   */
  private fitting = true;
  private toMs: number | null = null;
  private chosen: { pid: number; startTicks: number }[] | null = null;
  private showFree = false;
  private dirty = false;
  private loading = false;
  private again = false;
  private lastLiveFetch = 0;
  private zoomTimer: number | undefined;
  /** The window and y tops last drawn, for noteGrids. */
  private drawnAxes: { fromMs: number; toMs: number; yMax: number[] } | null = null;
  /**
   * The end of the time shown: now, or, for a read-only server's archive (`memlens serve
   * --from`), the archive's last snapshot, which a window that "follows now" then ends at.
   */
  private pinnedEndMs: number | null = null;
  /** Set when a window is drawn: the time its data arrived, for the benchmark. */
  drawnAtMs = 0;
  drawnWindows = 0;

  constructor() {
    this.chart = makeChart(byId('timeline'));
    const spans = byId('tl-spans');
    spans.replaceChildren(
      ...SPANS.map(([label, ms]) => {
        const b = el('button', { type: 'button' }, label);
        b.addEventListener('click', () => {
          this.span = ms;
          this.fitting = false;
          this.toMs = null;
          void this.fetch();
        });
        return b;
      }),
    );
    byId('tl-live').addEventListener('click', () => {
      this.toMs = null;
      void this.fetch();
    });
    byId('tl-free', HTMLInputElement).addEventListener('change', (ev) => {
      this.showFree = (ev.target as HTMLInputElement).checked;
      this.dirty = true;
      this.render();
    });
    byId('tl-picker-top').addEventListener('click', () => {
      this.chosen = null;
      void this.fetch();
    });
    this.chart.on('finished', () => this.noteGrids());
    // Zoom and pan end in a new window, fetched at the resolution that fits it.
    this.chart.on('datazoom', () => {
      window.clearTimeout(this.zoomTimer);
      this.zoomTimer = window.setTimeout(() => this.zoomed(), 150);
    });
  }

  /** Where the window is, for tests and the benchmark. */
  get window(): { fromMs: number; toMs: number; follow: boolean; tier: string | null; points: number } {
    const to = this.toMs ?? this.body?.toMs ?? this.now();
    const from = this.body === null ? to - this.span : this.shownFrom(this.body);
    return {
      fromMs: from,
      toMs: to,
      follow: this.toMs === null,
      tier: this.body?.tier ?? null,
      points: this.body?.points.length ?? 0,
    };
  }

  /**
   * The start of the window drawn: the one asked for, or, while nobody chose one, the first point
   * when the whole history is younger than the window (oldestMs is the start of its hour bucket:
   * history older than the window's hour means the window is full, or has a gap worth seeing).
   * At least a minute, so that two samples do not fill the width.
   */
  private shownFrom(b: HistoryBody): number {
    const first = b.points[0]?.tMs;
    if (!this.fitting || first === undefined || first <= b.fromMs) return b.fromMs;
    if (b.oldestMs !== null && b.oldestMs < Math.floor(b.fromMs / HOUR) * HOUR) return b.fromMs;
    return Math.max(b.fromMs, Math.min(first, b.toMs - 60_000));
  }

  private now(): number {
    return this.pinnedEndMs ?? Date.now();
  }

  /**
   * A read-only server shows an archive: the window is the archive's own time range (at least a
   * minute), and "now" is its last snapshot. Called with every status; acts on the first.
   */
  pinRange(fromMs: number, toMs: number): void {
    if (this.pinnedEndMs === toMs) return;
    this.pinnedEndMs = toMs;
    this.span = Math.max(60_000, toMs - fromMs);
    this.fitting = false;
    this.toMs = null;
    void this.fetch();
  }

  setHost(host: string | undefined): void {
    if (host === this.host) return;
    this.host = host;
    this.chosen = null;
    void this.fetch();
  }

  /** A new sample arrived: a window that follows now is fetched again (at most every 5 s). */
  sampled(): void {
    if (this.toMs !== null || Date.now() - this.lastLiveFetch < 5000) return;
    void this.fetch();
  }

  /** Shows the window [toMs − span, toMs]; null toMs: up to now, following it. */
  async show(fromMs: number, toMs: number | null): Promise<void> {
    const to = toMs ?? this.now();
    this.span = Math.max(60_000, to - fromMs);
    this.toMs = toMs;
    this.fitting = false;
    await this.fetch();
  }

  private zoomed(): void {
    const opt = this.chart.getOption() as { dataZoom?: { startValue?: number; endValue?: number }[] };
    const z = opt.dataZoom?.[0];
    if (z?.startValue === undefined || z.endValue === undefined) return;
    const now = this.now();
    // An end within 1 % of the span from now keeps following.
    const follow = now - z.endValue < (z.endValue - z.startValue) / 100;
    void this.show(z.startValue, follow ? null : z.endValue);
  }

  async fetch(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      const to = this.toMs ?? this.now();
      if (this.toMs === null) this.lastLiveFetch = Date.now();
      const width = Math.max(200, Math.round(byId('timeline').clientWidth || 800));
      const pids = this.chosen === null ? undefined : this.chosen.map((p) => `${p.pid}:${p.startTicks}`).join(',');
      const askedMs = performance.now();
      this.body = await api.history({
        host: this.host,
        from: Math.round(to - this.span),
        to: Math.round(to),
        // A point per 2 pixels: the stacked areas look the same as at one per pixel, and the
        // answer (about 350 bytes a point) and the drawing take half as long.
        points: Math.round(width / 2),
        pids: pids === '' ? undefined : pids,
      });
      byId('timeline').dataset.fetchMs = (performance.now() - askedMs).toFixed(1);
      this.drawPicker();
      this.dirty = true;
      this.render();
      this.drawnAtMs = performance.now();
      this.drawnWindows++;
    } catch (e) {
      noteText(`history: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.loading = false;
    }
    if (this.again) {
      this.again = false;
      await this.fetch();
    }
  }

  private drawPicker(): void {
    const b = this.body;
    const list = byId('tl-picker-list');
    if (b === null) return;
    const drawn = new Set(b.series.map((s) => `${s.pid}:${s.startTicks}`));
    list.replaceChildren(
      ...b.processes.map((p) => {
        const key = `${p.pid}:${p.startTicks}`;
        const box = el('input', { type: 'checkbox' });
        box.checked = drawn.has(key);
        box.addEventListener('change', () => {
          const now = (this.chosen ?? b.series.map((s) => ({ pid: s.pid, startTicks: s.startTicks }))).filter(
            (c) => `${c.pid}:${c.startTicks}` !== key,
          );
          if (box.checked) now.push({ pid: p.pid, startTicks: p.startTicks });
          this.chosen = now.slice(0, 20);
          void this.fetch();
        });
        const growth = p.lastPssBytes - p.firstPssBytes;
        const label = el('label', {
          class: 'tl-pick',
          title: `pid ${p.pid}; highest PSS ${bytesText(p.maxPssBytes)}; ${growth >= 0 ? 'grew' : 'shrank'} ${bytesText(Math.abs(growth))} over the window`,
        });
        label.append(
          box,
          ` ${p.name} (${p.pid}) `,
          el(
            'span',
            { class: 'muted' },
            `${bytesText(p.maxPssBytes)}${growth !== 0 ? `, ${growth > 0 ? '+' : '−'}${bytesText(Math.abs(growth))}` : ''}`,
          ),
        );
        return label;
      }),
    );
    setText(byId('tl-picker-count'), `${b.series.length} of ${b.processes.length}`);
  }

  refreshTheme(): void {
    this.dirty = true;
  }

  /** Drawn only when visible and changed. */
  render(): void {
    if (!this.dirty || this.body === null) return;
    if (byId('view-timeline').hidden) return;
    this.dirty = false;
    const startedMs = performance.now();
    const b = this.body;
    const c = themeColours();
    const dark = document.documentElement.dataset.theme === 'dark';
    const grey = dark ? '#8a8f98' : '#7a7f87';
    const idx = new Map(b.categories.map((cat, i) => [cat.key, i]));
    // Categories that stay at 0 (or unknown) through the window are left out of the stack and legend.
    const used = [...b.categories]
      .filter((cat) => {
        const i = idx.get(cat.key) ?? -1;
        return cat.key !== 'free' && b.points.some((p) => (p.max[i] ?? 0) > 0);
      })
      .sort((x, y) => rank(x.key) - rank(y.key));
    const free = idx.get('free');
    const series: Record<string, unknown>[] = [];
    const colours: string[] = [];
    const point = (i: number) => b.points.map((p): ChartPoint => [p.tMs, p.avg[i] ?? null]);
    for (const cat of used) {
      const i = idx.get(cat.key) ?? 0;
      const colour = CATEGORY_COLOUR[cat.key] ?? grey;
      colours.push(colour);
      series.push({
        name: SHORT_NAME[cat.key] ?? cat.name,
        id: `cat-${cat.key}`,
        type: 'line',
        stack: 'used',
        areaStyle: { opacity: 0.85 },
        showSymbol: false,
        symbolSize: 4,
        lineStyle: { width: 0.5 },
        color: colour,
        xAxisIndex: 0,
        yAxisIndex: 0,
        sampling: 'lttb',
        connectNulls: false,
        data: point(i),
      });
    }
    if (this.showFree && free !== undefined) {
      series.push({
        name: 'free',
        id: 'cat-free',
        type: 'line',
        showSymbol: false,
        lineStyle: { width: 1.5, type: 'dashed' },
        color: c.text,
        xAxisIndex: 0,
        yAxisIndex: 0,
        data: point(free),
      });
    }
    const stackFrom = b.points[0]?.tMs;
    const stackTo = b.points[b.points.length - 1]?.tMs;
    b.series.forEach((s, k) => {
      const colour = LINE_COLOURS[k % LINE_COLOURS.length] ?? OKABE_ITO.blue;
      series.push({
        name: `${s.name} (${s.pid})`,
        id: `proc-${s.pid}-${s.startTicks}`,
        type: 'line',
        showSymbol: s.points.length < 3,
        symbolSize: 5,
        lineStyle: { width: 2, type: k >= LINE_COLOURS.length ? 'dashed' : 'solid' },
        color: colour,
        xAxisIndex: 1,
        yAxisIndex: 1,
        data:
          stackFrom === undefined || stackTo === undefined
            ? s.points.map((p) => [p[0], p[1], p[2], p[3]])
            : processLine(s.points, b.seriesBucketMs, stackFrom, stackTo),
      });
    });
    const usedIdx = used.map((cat) => idx.get(cat.key) ?? -1);
    let stackTop = 0;
    for (const p of b.points)
      stackTop = Math.max(
        stackTop,
        usedIdx.reduce((sum, i) => sum + (p.avg[i] ?? 0), 0),
        this.showFree && free !== undefined ? (p.avg[free] ?? 0) : 0,
      );
    let processTop = 0;
    for (const s of b.series) for (const p of s.points) processTop = Math.max(processTop, p[1]);
    const to = b.toMs;
    const from = this.shownFrom(b);
    const oldest = Math.min(b.oldestMs ?? from, from);
    const extentMax = Math.max(this.now(), to);
    const seriesNote = b.seriesBucketMs > 0 ? `; processes per ${durationText(b.seriesBucketMs)}` : '';
    // A history younger than the shortest window (a minute) leaves the window's start empty: say why.
    const firstT = b.points[0]?.tMs;
    const startNote =
      firstT !== undefined && this.fitting && to - from <= 60_000 && firstT > from + 1000
        ? `The history starts at ${whenText(firstT).slice(11)}. `
        : '';
    noteText(
      startNote +
        (b.points.length === 0
          ? 'No history in this window yet (the sampler writes one point per sample; processes appear per minute).'
          : `${b.points.length} points from the ${b.tier} tier${b.bucketMs > 0 ? `, ${durationText(b.bucketMs)} each` : ''}${seriesNote}. Scroll or drag to zoom and pan; older windows come from coarser tiers.`),
    );
    // What is drawn, as attributes: the browser tests and the benchmark read them.
    const box = byId('timeline');
    box.dataset.fromMs = String(b.fromMs);
    box.dataset.shownFromMs = String(from);
    box.dataset.toMs = String(to);
    box.dataset.points = String(b.points.length);
    box.dataset.firstMs = String(b.points[0]?.tMs ?? '');
    box.dataset.series = String(b.series.filter((s) => s.points.length > 0).length);
    box.dataset.seriesFirstMs = String(Math.min(...b.series.map((s) => s.points[0]?.[0] ?? Infinity)));
    box.dataset.tier = b.tier;
    box.dataset.drawn = String(this.drawnWindows + 1);
    const axisLabel = { color: c.muted, hideOverlap: true };
    // Round ticks from 0 to the first tick above the data, in one unit per axis (src/base/axis.ts):
    // "0, 2, 4, 6 GiB", never a top of 4.66 GiB.
    const yScales = [stackTop, processTop].map((top) => (top > 0 ? byteAxis(top, 4) : null));
    const top = yScales[0] ?? null;
    box.dataset.yTicks = top === null ? '' : top.ticks.map((t) => axisText(t, top)).join('|');
    this.chart.setOption(
      {
        color: colours,
        animation: false,
        // Two grids share the time axis: memory of the whole system on top, processes below. Both
        // are laid out exactly where they are put (outerBoundsMode 'none'): by default ECharts
        // narrows a grid whose axis labels would pass the canvas's edge, and only the lower grid
        // has time labels, so a label near the right end moved its window's end a few pixels left
        // of the upper one's. The right margin leaves room for half a time label instead.
        grid: [
          { left: 64, right: 32, top: 48, height: '38%', outerBoundsMode: 'none' },
          { left: 64, right: 32, top: '63%', bottom: 58, outerBoundsMode: 'none' },
        ],
        legend: [
          {
            type: 'scroll',
            top: 0,
            left: 8,
            right: 8,
            textStyle: { color: c.text },
            pageTextStyle: { color: c.muted },
            data: series.filter((s) => s.xAxisIndex === 0).map((s) => s.name),
          },
          {
            type: 'scroll',
            top: '56%',
            left: 200,
            right: 8,
            textStyle: { color: c.text },
            pageTextStyle: { color: c.muted },
            data: series.filter((s) => s.xAxisIndex === 1).map((s) => s.name),
          },
        ],
        tooltip: {
          ...tooltipBase(),
          trigger: 'axis',
          axisPointer: { type: 'line', link: [{ xAxisIndex: 'all' }] },
          formatter: (params: unknown) => tooltipText(params as TooltipParam[], b),
        },
        axisPointer: { link: [{ xAxisIndex: 'all' }] },
        xAxis: [0, 1].map((i) => ({
          type: 'time',
          gridIndex: i,
          min: oldest,
          max: extentMax,
          axisLabel: i === 0 ? { show: false } : axisLabel,
          axisLine: { lineStyle: { color: c.grid } },
          splitLine: { show: false },
        })),
        yAxis: [0, 1].map((i) => {
          const scale = yScales[i] ?? null;
          return {
            type: 'value',
            gridIndex: i,
            name: i === 0 ? 'memory in use' : 'PSS of processes',
            nameLocation: 'end',
            nameGap: 8,
            nameTextStyle: { color: c.muted, align: 'left' },
            ...scaleOf(scale),
            axisLabel: {
              color: c.muted,
              formatter: (v: number) => (scale === null ? bytesText(v) : axisText(v, scale)),
            },
            splitLine: { lineStyle: { color: c.grid } },
          };
        }),
        dataZoom: [
          { type: 'inside', xAxisIndex: [0, 1], startValue: from, endValue: to, filterMode: 'none' },
          {
            type: 'slider',
            xAxisIndex: [0, 1],
            startValue: from,
            endValue: to,
            filterMode: 'none',
            height: 18,
            bottom: 8,
            textStyle: { color: c.muted },
            labelFormatter: (v: number) => whenText(v),
          },
        ],
        series,
      },
      // After the first draw, the options are merged into the chart's and only the series are
      // replaced (matched by id): ECharts keeps its grids, axes, legends and zoom instead of
      // building them anew for every window (notMerge did). Every option set once is set on every
      // draw, so nothing of the previous window stays.
      this.drawnAxes === null ? { notMerge: true } : { replaceMerge: ['series'] },
    );
    this.drawnAxes = { fromMs: from, toMs: to, yMax: yScales.map((a) => a?.max ?? 0) };
    // How long building the chart took (ECharts paints it in the next frame): the benchmark splits
    // a window's time into the server's answer and this.
    box.dataset.buildMs = (performance.now() - startedMs).toFixed(1);
    this.noteGrids();
  }

  /**
   * Each grid's box in CSS pixels (left, top, right, bottom) as ECharts maps the window into it,
   * after every draw (resizes too): the browser tests find the drawn series inside them.
   */
  private noteGrids(): void {
    const a = this.drawnAxes;
    if (a === null) return;
    byId('timeline').dataset.grids = [0, 1]
      .map((i) => {
        const left = this.chart.convertToPixel({ xAxisIndex: i }, a.fromMs);
        const right = this.chart.convertToPixel({ xAxisIndex: i }, a.toMs);
        const y0 = this.chart.convertToPixel({ yAxisIndex: i }, 0);
        const y1 = this.chart.convertToPixel({ yAxisIndex: i }, a.yMax[i] ?? 0);
        return [left, Math.min(y0, y1), right, Math.max(y0, y1)].map((v) => Math.round(v)).join(',');
      })
      .join('|');
  }
}

interface TooltipParam {
  seriesName: string;
  seriesId: string;
  value: (number | null)[];
  marker: string;
}

/**
 * A process's line over the span the stack above it draws (its first to its last point). The
 * series are per-minute (or coarser) means keyed by their bucket's start, while the stack's points
 * are samples: drawn at their starts, a fresh server's first minute put the processes' first point
 * left of the stack's, at the start of a minute the history only half covers, and their last point
 * at the start of the current minute, short of the stack's end. Each mean is drawn at the middle of
 * the part of its bucket the stack covers, and a first or last mean whose bucket reaches past the
 * stack's edge is held flat out to that edge (a point without a symbol), so that the lines of the
 * processes that lived through the span and the stack span the same time.
 */
function processLine(
  pts: [number, number, number, number][],
  bucketMs: number,
  fromMs: number,
  toMs: number,
): ({ value: number[]; symbol?: string } | number[])[] {
  if (bucketMs <= 0) return pts.map((p) => [...p]);
  const step = bucketMs;
  const clamp = (t: number): number => Math.min(toMs, Math.max(fromMs, t));
  // Buckets wholly outside the stack's span say nothing about the time it shows.
  const inside = pts.filter((p) => p[0] + step > fromMs && p[0] <= toMs);
  const out: ({ value: number[]; symbol?: string } | number[])[] = [];
  inside.forEach((p, i) => {
    const start = clamp(p[0]);
    const end = clamp(p[0] + step);
    const rest = [p[1], p[2], p[3]];
    const mid = (start + end) / 2;
    // Held out only to the stack's own edges: a process that started or ended inside the span
    // starts or ends at its bucket's middle.
    if (i === 0 && p[0] < fromMs && start < mid) out.push({ value: [start, ...rest], symbol: 'none' });
    out.push([mid, ...rest]);
    if (i === inside.length - 1 && p[0] + step > toMs && end > mid) out.push({ value: [end, ...rest], symbol: 'none' });
  });
  return out;
}

/** ECharts' bounds and interval for a scale; an empty axis has ECharts' own (null: not set). */
function scaleOf(a: AxisScale | null): Record<string, number | null> {
  return a === null ? { min: null, max: null, interval: null } : { min: 0, max: a.max, interval: a.step };
}

function rank(key: string): number {
  const i = CATEGORY_ORDER.indexOf(key);
  return i < 0 ? CATEGORY_ORDER.length : i;
}

/** The note above the chart, one line; the whole of it in its tooltip. */
function noteText(text: string): void {
  const note = byId('timeline-note');
  setText(note, text);
  note.title = text;
}

/** Date and time to the second, in the browser's zone: windows span days. */
function whenText(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function durationText(ms: number): string {
  if (ms >= DAY && ms % DAY === 0) return `${ms / DAY} d`;
  if (ms >= HOUR && ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}

/** Every mark's tooltip: the time, then each category (lowest–highest when a point merges several samples) and each process. */
function tooltipText(ps: TooltipParam[], b: HistoryBody): string {
  const t = (ps.find((p) => p.seriesId.startsWith('cat-')) ?? ps[0])?.value[0];
  if (t === undefined || t === null) return '';
  const point = b.points.find((p) => p.tMs === t);
  const lines: string[] = [];
  let used = 0;
  for (const p of ps) {
    const v = p.value[1] ?? null;
    if (p.seriesId.startsWith('cat-')) {
      const key = p.seriesId.slice(4);
      const i = b.categories.findIndex((c) => c.key === key);
      const lo = point?.min[i] ?? null;
      const hi = point?.max[i] ?? null;
      const range = lo !== null && hi !== null && lo !== hi ? ` (${bytesText(lo)} – ${bytesText(hi)})` : '';
      if (key !== 'free' && v !== null) used += v;
      lines.push(`${p.marker}${esc(b.categories[i]?.name ?? p.seriesName)}: ${esc(bytesText(v))}${esc(range)}`);
    } else {
      const lo = p.value[2] ?? null;
      const hi = p.value[3] ?? null;
      const range = lo !== null && hi !== null && lo !== hi ? ` (${bytesText(lo)} – ${bytesText(hi)})` : '';
      lines.push(`${p.marker}${esc(p.seriesName)} PSS: ${esc(bytesText(v))}${esc(range)}`);
    }
  }
  const head = `${esc(whenText(t))}${b.bucketMs > 0 ? ` (${esc(durationText(b.bucketMs))} mean; lowest – highest)` : ''}`;
  return `${head}<br/>${used > 0 ? `in use: ${esc(bytesText(used))}<br/>` : ''}${lines.join('<br/>')}`;
}
