// The "Physical memory" view: the frame range as a map, each cell a block of frames coloured by
// its dominant kind (holes grey), zoomable by clicking a cell (the server walks only that range:
// GET /api/v1/pages?start&end&cells) down to single frames, whose flags come from
// GET /api/v1/pages/frames. Hover gives the range, the zone, the kinds and their counts.
import { PAGE_KIND_KEYS, type FrameDetailJson, type PagesJson } from '../../src/wire/pages.js';
import { api } from '../api.js';
import { esc, makeChart, themeColours, tooltipBase, type Chart } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { bytesText } from '../format.js';

/** One colour per kind, in PAGE_KIND_KEYS order; holes and "kernel, other" neutral. */
const KIND_COLOURS: readonly string[] = [
  '#bbbbbb', // hole
  '#000000', // offline
  '#e8f4e0', // free
  '#882255', // hugetlb
  '#cc6677', // slab
  '#aa4499', // page tables
  '#ffffff', // zero page
  '#1f4e99', // thp
  '#44aa99', // shmem
  '#4477aa', // anon
  '#ee3377', // file writeback
  '#ee7733', // file dirty
  '#ddcc77', // file mapped
  '#f5e6a8', // file unmapped
  '#332288', // reserved
  '#777777', // kernel other
];
const COLUMNS = 64;
const CELLS = 4096;

interface Range {
  start: number;
  end: number;
}

export class PagesView {
  private chart: Chart | undefined;
  private report: PagesJson | undefined;
  private frames: FrameDetailJson[] = [];
  private readonly stack: Range[] = [];
  private loading = false;

  /** Loads the whole frame range the first time the tab opens. */
  async open(): Promise<void> {
    if (this.report === undefined && !this.loading) await this.load(undefined);
  }

  private async load(range: Range | undefined): Promise<void> {
    this.loading = true;
    setText(byId('pages-state'), range ? `walking frames ${range.start}–${range.end} …` : 'walking every frame …');
    try {
      const body = await api.pages(range ? { start: range.start, end: range.end, cells: CELLS } : { cells: CELLS });
      this.report = body.report;
      this.frames = [];
      const m = body.report.map;
      if (m && m.framesPerCell === 1 && m.endPfn - m.startPfn <= CELLS)
        this.frames = (await api.frames(m.startPfn, m.endPfn - m.startPfn)).frames;
      this.draw();
      setText(byId('pages-state'), '');
    } catch (e) {
      setText(byId('pages-state'), e instanceof Error ? e.message : String(e));
    } finally {
      this.loading = false;
    }
  }

  private zoneOf(pfn: number): string {
    const z = this.report?.map?.zones.find((s) => pfn >= s.startPfn && pfn < s.endPfn);
    return z ? `${z.zone} (node ${z.node})` : 'no zone';
  }

  private draw(): void {
    const r = this.report;
    const m = r?.map;
    if (!r || !m) {
      setText(byId('pages-note'), r?.frames.unavailable ?? 'no map');
      return;
    }
    setText(
      byId('pages-note'),
      `frames ${m.startPfn}–${m.endPfn} of ${r.host}, ${m.framesPerCell} frame${m.framesPerCell === 1 ? '' : 's'} (${bytesText(m.framesPerCell * r.pageSizeBytes)}) per cell; click a cell to zoom in`,
    );
    byId('pages-back').hidden = this.stack.length === 0;
    this.legend(r);
    const chart = (this.chart ??= makeChart(byId('pages-map')));
    const rows = Math.ceil(m.cells.length / COLUMNS);
    // The cell where each zone begins gets a heavy border: zones run row by row, so their
    // borders are not straight lines; the list under the map gives each zone's cells.
    const cellOf = (pfn: number): number => Math.floor((pfn - m.startPfn) / m.framesPerCell);
    const zoneStarts = new Set(
      m.zones.filter((z) => z.startPfn >= m.startPfn && z.startPfn < m.endPfn).map((z) => cellOf(z.startPfn)),
    );
    const data = m.dominant.map((k, i) =>
      zoneStarts.has(i)
        ? { value: [i % COLUMNS, Math.floor(i / COLUMNS), k], itemStyle: { borderColor: '#000000', borderWidth: 2 } }
        : [i % COLUMNS, Math.floor(i / COLUMNS), k],
    );
    byId('pages-zones').replaceChildren(
      ...m.zones
        .filter((z) => z.endPfn > m.startPfn && z.startPfn < m.endPfn)
        .map((z) => {
          const first = cellOf(Math.max(z.startPfn, m.startPfn));
          const last = cellOf(Math.min(z.endPfn, m.endPfn) - 1);
          return el(
            'li',
            {},
            `${z.zone} (node ${z.node}): frames ${z.startPfn}–${z.endPfn - 1}, cells ${first}–${last} (rows ${Math.floor(first / COLUMNS)}–${Math.floor(last / COLUMNS)})`,
          );
        }),
    );
    const c = themeColours();
    chart.setOption(
      {
        animation: false,
        grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: false },
        xAxis: { type: 'category', data: Array.from({ length: COLUMNS }, (_, i) => i), show: false },
        yAxis: { type: 'category', data: Array.from({ length: rows }, (_, i) => i), show: false, inverse: true },
        visualMap: {
          type: 'piecewise',
          show: false,
          dimension: 2,
          pieces: KIND_COLOURS.map((colour, i) => ({ value: i, color: colour })),
        },
        tooltip: {
          ...tooltipBase(),
          formatter: (p: { dataIndex: number }) => this.tooltip(p.dataIndex),
        },
        series: [
          {
            type: 'heatmap',
            data,
            itemStyle: { borderColor: c.grid, borderWidth: m.cells.length > 1024 ? 0 : 1 },
            emphasis: { itemStyle: { borderColor: c.text, borderWidth: 1 } },
          },
        ],
      },
      true,
    );
    chart.off('click');
    chart.on('click', (p) => {
      const i = typeof p.dataIndex === 'number' ? p.dataIndex : -1;
      if (i < 0 || m.framesPerCell === 1) return;
      const start = m.startPfn + i * m.framesPerCell;
      this.stack.push({ start: m.startPfn, end: m.endPfn });
      void this.load({ start, end: Math.min(m.endPfn, start + m.framesPerCell) });
    });
  }

  private tooltip(i: number): string {
    const r = this.report;
    const m = r?.map;
    if (!r || !m) return '';
    const start = m.startPfn + i * m.framesPerCell;
    const end = Math.min(m.endPfn, start + m.framesPerCell);
    const hex = (pfn: number): string => `0x${(pfn * r.pageSizeBytes).toString(16)}`;
    const lines = [`<b>frames ${start}–${end - 1}</b>`, `${hex(start)}–${hex(end)} · ${esc(this.zoneOf(start))}`];
    const counts = m.cells[i] ?? [];
    counts.forEach((n, k) => {
      if (n > 0) lines.push(`${esc(r.kinds[k]?.label ?? PAGE_KIND_KEYS[k] ?? '?')}: ${n}`);
    });
    const f = this.frames.find((x) => x.pfn === start);
    if (f)
      lines.push(`flags: ${esc(f.flags.join(' ') || '(none)')} · raw 0x${esc(f.rawFlags)} · mapped ${f.mapCount}×`);
    return lines.join('<br>');
  }

  private legend(r: PagesJson): void {
    const items = r.kinds
      .map((k, i) => ({ k, i }))
      .filter(({ k }) => k.pages > 0)
      .map(({ k, i }) =>
        el(
          'li',
          {},
          el('span', { class: 'swatch', style: `background:${KIND_COLOURS[i] ?? '#777'}` }),
          `${k.label}: ${bytesText(k.bytes)}`,
        ),
      );
    byId('pages-legend').replaceChildren(...items);
  }

  back(): void {
    const prev = this.stack.pop();
    if (prev) void this.load(this.stack.length === 0 ? undefined : prev);
  }

  refreshTheme(): void {
    if (this.report) this.draw();
  }
}
