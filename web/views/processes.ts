// The processes view: "who uses my memory?". A table of the live processes ordered by PSS (resident
// memory with shared pages counted once), each with its PSS over the last hour as a sparkline and
// how fast it grows; beside it what each process asked for (requested, accessible) and what it
// only reserved (PROT_NONE address space). Exited processes, which the tracer keeps accounting
// for, are hidden until asked for. Every "n/a" says why. The pie shows the top 10 + others of PSS
// by default (or of requested memory): see renderPie for why.
import type {
  PieBody,
  PieFigure,
  ProcessRow,
  ProcessesBody,
  PssSeries,
  RowFigure,
  Unavailable,
} from '../../src/wire/messages.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, pieColours, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { ageText, bytesText, countText, percentText } from '../format.js';
import { isNarrow, layoutKey, onLayoutChange } from '../narrow.js';

type SortKey =
  | 'pid'
  | 'name'
  | 'pssBytes'
  | 'ussBytes'
  | 'growth'
  | 'rssBytes'
  | 'swapBytes'
  | 'requestedBytes'
  | 'requestedRatio'
  | 'reservedBytes'
  | 'mappedNowBytes'
  | 'calls'
  | 'age';
export type GrowthWindow = '5m' | '1h';

/** Short text after "n/a" in a cell, and the sentence of its tooltip. */
const REASONS: Record<Unavailable, { short: string; long: string }> = {
  exited: { short: 'exited', long: 'The process has exited: only the tracer\u2019s totals remain.' },
  permission: {
    short: 'no access',
    long: 'memlens may not read this process\u2019s /proc files (smaps_rollup needs root or the same user).',
  },
  'not-sampled': {
    short: 'new',
    long: 'The process started after the last /proc sample; its figures come with the next one (or open its detail to read them now).',
  },
  'no-tracing': {
    short: 'no tracing',
    long: 'This figure comes from the tracer, which is not running (it needs root).',
  },
  'not-measured': {
    short: 'not traced',
    long: 'The running tracer does not measure this figure (reservations need the tracer to follow mprotect).',
  },
  remote: { short: 'remote', long: 'Another host: only the per-process totals its tracer stored exist here.' },
};

interface Cell {
  text: string;
  title?: string;
  na?: boolean;
}

interface Column {
  key: SortKey;
  title: string;
  help: string;
  numeric: boolean;
  /** The cell holds a sparkline instead of text. */
  spark?: true;
  /** Columns that can be hidden in the column picker, and whether they start hidden. */
  optional?: 'shown' | 'hidden';
  /** An optional column shown in a wide window that starts hidden in a narrow one (web/narrow.ts). */
  narrowHidden?: true;
}

const COLUMNS_KEY = 'memlens-process-columns';

/**
 * The optional columns hidden now: the defaults of the layout (narrow windows start without the
 * columns marked narrowHidden), or what the picker last kept in localStorage for that layout.
 */
function loadHidden(columns: readonly Column[]): Set<string> {
  const ids = (c: Column): string => (c.spark ? 'spark' : c.key);
  const narrow = isNarrow();
  const hidden = new Set(
    columns.filter((c) => c.optional === 'hidden' || (narrow && c.narrowHidden === true)).map(ids),
  );
  try {
    const saved = localStorage.getItem(layoutKey(COLUMNS_KEY));
    const parsed = saved === null ? null : (JSON.parse(saved) as unknown);
    if (Array.isArray(parsed)) {
      hidden.clear();
      for (const id of parsed)
        if (typeof id === 'string' && columns.some((c) => ids(c) === id && c.optional !== undefined)) hidden.add(id);
    }
  } catch {
    // Storage unavailable or malformed: the defaults.
  }
  return hidden;
}

interface RowView {
  tr: HTMLTableRowElement;
  /** The sparkline's line, when the column exists. */
  line: SVGPolylineElement;
  svg: SVGSVGElement;
}

const SPARK_W = 80;
const SPARK_H = 20;
/** Rows built before the table's first paint (more than a tall window shows), then per chunk. */
const FIRST_ROWS = 60;
const MORE_ROWS = 150;
const SVG_NS = 'http://www.w3.org/2000/svg';

function figureCell(r: ProcessRow, figure: RowFigure, value: number | null, text: (v: number) => string): Cell {
  if (value !== null) return { text: text(value) };
  const reason = r.unavailable[figure];
  if (reason === undefined) return { text: 'n/a', na: true, title: 'Unknown.' };
  return { text: `n/a \u00b7 ${REASONS[reason].short}`, title: REASONS[reason].long, na: true };
}

/** "+1.2 MiB/min", "−340 KiB/min", "0 B/min". */
function growthText(bytesPerS: number): string {
  const perMin = bytesPerS * 60;
  const sign = perMin > 0.5 ? '+' : perMin < -0.5 ? '\u2212' : '';
  return `${sign}${bytesText(Math.round(Math.abs(perMin)))}/min`;
}

export class ProcessesView {
  private body: ProcessesBody | null = null;
  private sortKey: SortKey = 'pssBytes';
  private sortDesc = true;
  private filter = '';
  private showExited = false;
  private window: GrowthWindow = '5m';
  private figure: PieFigure = 'pss';
  private readonly tbody: HTMLTableSectionElement;
  private readonly rowsByPid = new Map<number, RowView>();
  private readonly pie: Chart;
  private readonly headers = new Map<SortKey, HTMLTableCellElement>();
  private pieBody: PieBody | null = null;
  private seriesByPid = new Map<number, PssSeries>();
  private readonly columns: Column[];
  /** The optional columns hidden now (data-col names). */
  private hidden = new Set<string>();
  private laidOut: 'side' | 'below' | null = null;
  /**
   * Whether the tab is open. A hidden view keeps what arrives and draws it when it is shown:
   * drawing the table and the pie behind another tab cost about a third of that tab's first paint.
   */
  private shown = true;
  private staleTable = false;
  private stalePie = false;

  /**
   * `onPieChange`: the pie's figure or the exited switch changed (the live subscription must say
   * so). `onNaCounts`: what the shown rows' PSS cells say, for the status strip.
   */
  constructor(
    private readonly onOpen: (pid: number) => void,
    private readonly onPieChange: () => void,
    private readonly onNaCounts: (c: PssNaCounts) => void,
  ) {
    this.columns = [
      { key: 'pid', title: 'PID', help: 'Process id.', numeric: true },
      {
        key: 'name',
        title: 'Name',
        help: 'comm: the name the process gave itself (at most 15 bytes). The row\u2019s tooltip has the full command line.',
        numeric: false,
      },
      {
        key: 'pssBytes',
        title: 'PSS',
        help: 'Proportional set size (Pss of /proc/PID/smaps_rollup): the process\u2019s memory in RAM, each shared page divided among the processes sharing it, so that the column adds up to the memory the processes use. The default order.',
        numeric: true,
      },
      {
        key: 'growth',
        title: 'PSS, last hour',
        help: 'PSS over the last hour (or since memlens serve started), every row on the same time axis, each scaled to its own range. Sorting by this column orders by growth.',
        numeric: true,
        spark: true,
      },
      {
        key: 'growth',
        title: 'Growth',
        help: 'How fast PSS grows: the least-squares slope of PSS over the window chosen above (last 5 minutes or last hour), per minute. Sort by it to find what is growing.',
        numeric: true,
        optional: 'shown',
        narrowHidden: true,
      },
      {
        key: 'ussBytes',
        title: 'USS',
        help: 'Unique set size (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup): the pages in RAM that only this process maps, what its exit would free.',
        numeric: true,
      },
      {
        key: 'rssBytes',
        title: 'RSS',
        help: 'Resident set size: the process\u2019s pages in RAM, each shared page counted in full in every process that maps it (so RSS adds up to more than the RAM in use).',
        numeric: true,
      },
      {
        key: 'swapBytes',
        title: 'Swap',
        help: 'VmSwap of /proc/PID/status: the process\u2019s anonymous memory in swap.',
        numeric: true,
        optional: 'shown',
        narrowHidden: true,
      },
      {
        key: 'requestedBytes',
        title: 'Requested',
        help: 'Accessible memory requested: bytes mapped by mmap, brk and mremap minus those unmapped (munmap, shrinking brk and mremap), as the tracer saw them since it started; never below 0. Address space reserved with PROT_NONE is in Reserved, not here. A request is a promise: its pages count in RSS and PSS only once touched.',
        numeric: true,
      },
      {
        key: 'requestedRatio',
        title: '% of total',
        help: 'Requested \u00f7 (MemTotal + SwapTotal): the share of all the memory the system can back that the process asked for.',
        numeric: true,
        optional: 'shown',
        narrowHidden: true,
      },
      {
        key: 'reservedBytes',
        title: 'Reserved',
        help: 'Address space reserved with PROT_NONE and never made accessible (mmap PROT_NONE, or mprotect back to PROT_NONE): browsers, JVMs and Go programs reserve terabytes this way. It uses no memory and is not in Requested.',
        numeric: true,
      },
      // Hidden by default (the column picker shows them): the table fits 1440 px without them. In a
      // narrow window Growth, Swap and % of total start hidden too: it fits 800 px without them.
      {
        key: 'mappedNowBytes',
        title: 'Mapped now',
        help: 'Virtual memory mapped right now, accessible or not: the tracer\u2019s model of the address space, else VmSize of /proc/PID/status.',
        numeric: true,
        optional: 'hidden',
      },
      {
        key: 'calls',
        title: 'Calls',
        help: 'mmap, munmap, brk, mremap and mprotect calls the tracer saw since memlens serve started.',
        numeric: true,
        optional: 'hidden',
      },
      {
        key: 'age',
        title: 'Age',
        help: 'How old the row\u2019s /proc figures (RSS, PSS, swap) are: the sampler reads /proc every few seconds, less often when a sample costs more CPU.',
        numeric: true,
        optional: 'hidden',
      },
    ];
    const thead = byId('proc-head', HTMLTableSectionElement);
    const tr = el('tr');
    for (const c of this.columns) {
      const th = el(
        'th',
        {
          class: c.numeric ? 'num sortable' : 'sortable',
          title: c.help,
          'data-key': c.key,
          'data-col': c.spark ? 'spark' : c.key,
          scope: 'col',
        },
        c.title,
      );
      if (c.spark) th.classList.add('spark-head');
      th.addEventListener('click', () => {
        if (this.sortKey === c.key) this.sortDesc = !this.sortDesc;
        else {
          this.sortKey = c.key;
          this.sortDesc = c.numeric;
        }
        this.render();
      });
      // Both growth columns sort the same way: only the text column carries the sort mark.
      if (!c.spark) this.headers.set(c.key, th);
      tr.append(th);
    }
    thead.append(tr);
    this.hidden = loadHidden(this.columns);
    this.columnPicker();
    this.applyHidden();
    // Crossing between the wide and the narrow layout brings that layout's columns.
    onLayoutChange(() => {
      this.hidden = loadHidden(this.columns);
      this.columnPicker();
      this.applyHidden();
    });
    this.tbody = byId('proc-body', HTMLTableSectionElement);
    this.tbody.addEventListener('click', (ev) => {
      const row = (ev.target as Element).closest('tr');
      const pid = Number(row?.dataset.pid);
      if (Number.isInteger(pid) && pid > 0) this.onOpen(pid);
    });
    byId('proc-filter', HTMLInputElement).addEventListener('input', (ev) => {
      this.filter = (ev.target as HTMLInputElement).value.trim().toLowerCase();
      this.render();
    });
    byId('proc-exited', HTMLButtonElement).addEventListener('click', () => {
      this.showExited = !this.showExited;
      this.render();
      this.onPieChange();
    });
    byId('proc-window', HTMLSelectElement).addEventListener('change', (ev) => {
      this.window = (ev.target as HTMLSelectElement).value === '1h' ? '1h' : '5m';
      this.render();
    });
    byId('pie-figure', HTMLSelectElement).addEventListener('change', (ev) => {
      this.figure = (ev.target as HTMLSelectElement).value === 'requested' ? 'requested' : 'pss';
      this.renderPie();
      this.onPieChange();
    });
    this.pie = makeChart(byId('pie'), 'svg');
    // The legend moves between the ring's side and below it with the chart's shape: re-lay out
    // when the shape crosses over.
    new ResizeObserver(() => {
      if (this.pieLayout() !== this.laidOut) this.renderPie();
    }).observe(byId('pie'));
    this.pie.on('click', (p) => {
      const d = p.data as { pid?: number | null } | undefined;
      if (typeof d?.pid === 'number') this.onOpen(d.pid);
    });
  }

  /** The checkboxes of the column picker, one per optional column. */
  private columnPicker(): void {
    const boxes = this.columns
      .filter((c) => c.optional !== undefined)
      .map((c) => {
        const id = c.spark ? 'spark' : c.key;
        const box = el('input', { type: 'checkbox', 'data-col': id });
        box.checked = !this.hidden.has(id);
        box.addEventListener('change', () => {
          if (box.checked) this.hidden.delete(id);
          else this.hidden.add(id);
          try {
            localStorage.setItem(layoutKey(COLUMNS_KEY), JSON.stringify([...this.hidden]));
          } catch {
            // Not kept, still applied.
          }
          this.applyHidden();
        });
        return el('label', { title: c.help }, box, ` ${c.title}`);
      });
    byId('proc-columns-list').replaceChildren(...boxes);
  }

  /** Hides the heading and every cell of the hidden columns (the hidden attribute, display: none). */
  private applyHidden(): void {
    const head = byId('proc-head').querySelectorAll('th');
    this.columns.forEach((c, i) => {
      const off = this.hidden.has(c.spark ? 'spark' : c.key);
      const th = head[i];
      if (th !== undefined) th.hidden = off;
      for (const v of this.rowsByPid.values()) {
        const td = v.tr.children[i];
        if (td instanceof HTMLElement) td.hidden = off;
      }
    });
  }

  /** The pie the page shows: which figure, and whether exited processes take part. */
  pieChoice(): { figure: PieFigure; exited: boolean } {
    return { figure: this.figure, exited: this.showExited };
  }

  /** The tab was opened or left: what arrived meanwhile is drawn now. */
  setShown(shown: boolean): void {
    this.shown = shown;
    if (!shown) return;
    if (this.staleTable) this.render();
    if (this.stalePie) this.renderPie();
  }

  setProcesses(body: ProcessesBody): void {
    this.body = body;
    this.seriesByPid = new Map((body.pssHistory?.series ?? []).map((s) => [s.pid, s]));
    this.render();
  }

  setPie(body: PieBody): void {
    this.pieBody = body;
    this.renderPie();
  }

  refreshTheme(): void {
    this.renderPie();
  }

  private growthOf(pid: number): number | null {
    const s = this.seriesByPid.get(pid);
    if (s === undefined) return null;
    return this.window === '5m' ? s.growth5mBytesPerS : s.growth1hBytesPerS;
  }

  private sortValue(r: ProcessRow, key: SortKey): number | string | null {
    if (key === 'age') return r.sampledAtMs === null ? null : -r.sampledAtMs;
    if (key === 'growth') return this.growthOf(r.pid);
    return r[key];
  }

  private cell(c: Column, r: ProcessRow, now: number): Cell {
    switch (c.key) {
      case 'pid':
        return { text: String(r.pid) };
      case 'name':
        return { text: r.name };
      case 'pssBytes':
        return figureCell(r, 'pss', r.pssBytes, bytesText);
      case 'ussBytes':
        return figureCell(r, 'uss', r.ussBytes, bytesText);
      case 'rssBytes':
        return figureCell(r, 'rss', r.rssBytes, bytesText);
      case 'swapBytes':
        return figureCell(r, 'swap', r.swapBytes, bytesText);
      case 'requestedBytes':
        return figureCell(r, 'requested', r.requestedBytes, bytesText);
      case 'requestedRatio':
        return figureCell(r, 'requested', r.requestedRatio, percentText);
      case 'reservedBytes':
        return figureCell(r, 'reserved', r.reservedBytes, bytesText);
      case 'mappedNowBytes':
        return figureCell(r, 'mappedNow', r.mappedNowBytes, bytesText);
      case 'calls':
        return figureCell(r, 'calls', r.calls, countText);
      case 'age':
        return r.sampledAtMs === null ? figureCell(r, 'pss', null, bytesText) : { text: ageText(now - r.sampledAtMs) };
      case 'growth': {
        const g = this.growthOf(r.pid);
        if (g !== null)
          return {
            text: growthText(g),
            title: `${growthText(g)} over the last ${this.window === '5m' ? '5 minutes' : 'hour'} (least-squares slope of PSS)`,
          };
        if (!r.alive) return { text: `n/a \u00b7 ${REASONS.exited.short}`, title: REASONS.exited.long, na: true };
        const pssWhy = r.unavailable.pss;
        if (pssWhy !== undefined)
          return { text: `n/a \u00b7 ${REASONS[pssWhy].short}`, title: REASONS[pssWhy].long, na: true };
        return {
          text: 'n/a \u00b7 1 sample',
          title: 'A slope needs two samples of PSS in the window; the next sample brings the second.',
          na: true,
        };
      }
    }
  }

  private shownRows(): ProcessRow[] {
    const rows = this.body?.rows ?? [];
    return this.showExited ? rows : rows.filter((r) => r.alive);
  }

  private visibleRows(): ProcessRow[] {
    const f = this.filter;
    const rows = this.shownRows();
    const shown =
      f === ''
        ? [...rows]
        : rows.filter(
            (r) =>
              String(r.pid) === f || r.name.toLowerCase().includes(f) || (r.cmdline ?? '').toLowerCase().includes(f),
          );
    const key = this.sortKey;
    const dir = this.sortDesc ? -1 : 1;
    const values = new Map(shown.map((r) => [r.pid, this.sortValue(r, key)]));
    shown.sort((a, b) => {
      const va = values.get(a.pid) ?? null;
      const vb = values.get(b.pid) ?? null;
      // Unknown figures sort last whichever the direction: "n/a" is not "smallest".
      if (va === null || vb === null) return va === vb ? a.pid - b.pid : va === null ? 1 : -1;
      if (va < vb) return -dir;
      if (va > vb) return dir;
      return a.pid - b.pid;
    });
    return shown;
  }

  private makeRow(pid: number): RowView {
    const tr = el('tr', { 'data-pid': String(pid) });
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('width', String(SPARK_W));
    svg.setAttribute('height', String(SPARK_H));
    svg.setAttribute('viewBox', `0 0 ${SPARK_W} ${SPARK_H}`);
    svg.setAttribute('class', 'spark');
    const line = document.createElementNS(SVG_NS, 'polyline');
    svg.append(line);
    for (const c of this.columns) {
      // data-col names the column for tests and styles (the two growth columns apart).
      const td = el('td', c.numeric ? { class: 'num', 'data-col': c.spark ? 'spark' : c.key } : { 'data-col': c.key });
      td.hidden = this.hidden.has(c.spark ? 'spark' : c.key);
      if (c.spark) {
        td.className = 'spark-cell';
        td.append(svg);
      }
      tr.append(td);
    }
    return { tr, line, svg };
  }

  /** Draws one row's PSS on the body's common time axis, scaled to the row's own range. */
  private drawSpark(v: RowView, pid: number): void {
    const h = this.body?.pssHistory;
    const s = this.seriesByPid.get(pid);
    const pts: [number, number][] = [];
    if (h !== null && h !== undefined && s !== undefined) {
      s.tMs.forEach((t, i) => {
        const y = s.pssBytes[i];
        if (y !== null && y !== undefined) pts.push([t, y]);
      });
    }
    if (h === null || h === undefined || pts.length === 0) {
      v.line.setAttribute('points', '');
      v.svg.setAttribute('aria-label', 'no PSS history');
      return;
    }
    const ys = pts.map((p) => p[1]);
    const lo = Math.min(...ys);
    const hi = Math.max(...ys);
    // At least 10 % of the largest value: a process wobbling by a page stays a flat line.
    const range = Math.max(hi - lo, hi * 0.1, 1);
    const base = hi - lo >= hi * 0.1 ? lo : Math.max(0, hi - range);
    const span = Math.max(1, h.toMs - h.fromMs);
    const x = (t: number): number => 1 + ((t - h.fromMs) / span) * (SPARK_W - 2);
    const y = (b: number): number => SPARK_H - 2 - ((b - base) / range) * (SPARK_H - 4);
    // One point draws as a dot-length line.
    const coords =
      pts.length === 1
        ? [
            [x(pts[0]?.[0] ?? 0) - 1, y(ys[0] ?? 0)],
            [x(pts[0]?.[0] ?? 0), y(ys[0] ?? 0)],
          ]
        : pts.map(([t, b]) => [x(t), y(b)]);
    v.line.setAttribute('points', coords.map(([a, b]) => `${(a ?? 0).toFixed(1)},${(b ?? 0).toFixed(1)}`).join(' '));
    v.svg.setAttribute('aria-label', `PSS from ${bytesText(ys[0])} to ${bytesText(ys[ys.length - 1])}`);
  }

  private buildTimer: number | null = null;

  /**
   * Draws the table. Rows are built at most a screenful (then a chunk) per call: the rows not built
   * yet are left out, the table shows the first rows in their order, and the next chunk is built in
   * a later task. Building the ~700 rows of a busy machine in one go kept the first paint waiting
   * for seconds; once built, a row is only updated, and every row is drawn on each call.
   */
  render(): void {
    if (this.buildTimer !== null) window.clearTimeout(this.buildTimer);
    this.buildTimer = null;
    if (!this.shown) {
      this.staleTable = true;
      this.reportNaCounts(this.visibleRows());
      return;
    }
    this.staleTable = false;
    const now = Date.now();
    for (const [k, th] of this.headers)
      th.setAttribute('aria-sort', k === this.sortKey ? (this.sortDesc ? 'descending' : 'ascending') : 'none');
    const rows = this.visibleRows();
    const keep = new Set<number>(rows.map((r) => r.pid));
    const ordered: HTMLTableRowElement[] = [];
    let budget = this.rowsByPid.size === 0 ? FIRST_ROWS : MORE_ROWS;
    for (const r of rows) {
      let v = this.rowsByPid.get(r.pid);
      if (v === undefined) {
        if (budget === 0) {
          // The rest next time, after the browser has drawn these.
          this.buildTimer = window.setTimeout(() => {
            this.buildTimer = null;
            this.render();
          }, 0);
          break;
        }
        budget--;
        v = this.makeRow(r.pid);
        this.rowsByPid.set(r.pid, v);
      }
      const tr = v.tr;
      this.columns.forEach((c, i) => {
        const td = tr.children[i];
        if (td === undefined || c.spark) return;
        const cell = this.cell(c, r, now);
        setText(td, cell.text);
        if ((td.getAttribute('title') ?? '') !== (cell.title ?? '')) td.setAttribute('title', cell.title ?? '');
        td.classList.toggle('na', cell.na === true);
      });
      this.drawSpark(v, r.pid);
      tr.title = r.cmdline ?? '';
      tr.classList.toggle('exited', !r.alive);
      ordered.push(tr);
    }
    for (const [pid, v] of this.rowsByPid) {
      if (keep.has(pid)) continue;
      v.tr.remove();
      this.rowsByPid.delete(pid);
    }
    // Re-append only when the order changed: moving nodes is what costs.
    const current = this.tbody.children;
    let same = current.length === ordered.length;
    for (let i = 0; same && i < ordered.length; i++) same = current[i] === ordered[i];
    if (!same) this.tbody.replaceChildren(...ordered);
    const b = this.body;
    const all = b?.rows ?? [];
    const exited = all.filter((r) => !r.alive).length;
    const button = byId('proc-exited', HTMLButtonElement);
    setText(button, this.showExited ? `hide ${countText(exited)} exited` : `show ${countText(exited)} exited`);
    button.setAttribute('aria-pressed', String(this.showExited));
    button.title =
      'Processes that have exited, which the tracer still accounts for: their /proc figures are gone (n/a).';
    setText(
      byId('proc-count'),
      `${countText(rows.length)} of ${countText(all.length - (this.showExited ? 0 : exited))} ${this.showExited ? 'processes' : 'live processes'}`,
    );
    setText(
      byId('proc-total'),
      b?.remote === true
        ? 'Remote host: only the stored per-process totals exist here; /proc figures are n/a.'
        : `% of total = requested \u00f7 (MemTotal + SwapTotal) = \u00f7 ${bytesText(b?.totalVirtualBytes)}. Point at a column\u2019s heading for what it means.`,
    );
    this.reportNaCounts(rows);
  }

  /** The status strip counts what these rows show (whether the tab is open or not). */
  private reportNaCounts(rows: readonly ProcessRow[]): void {
    const counts: PssNaCounts = { shown: rows.length, na: 0, byReason: {} };
    for (const r of rows) {
      if (r.pssBytes !== null) continue;
      counts.na++;
      const why = r.unavailable.pss;
      if (why !== undefined) counts.byReason[why] = (counts.byReason[why] ?? 0) + 1;
    }
    this.onNaCounts(counts);
  }

  /** Legend beside the ring when the chart is wide enough for both, else below it. */
  private pieLayout(): 'side' | 'below' {
    return this.pie.getWidth() >= 560 || this.pie.getWidth() > this.pie.getHeight() ? 'side' : 'below';
  }

  // The pie shows PSS by default, with a picker for requested memory. PSS answers "who holds my
  // memory now": its slices add up to memory in use (each shared page once), so the pie is a
  // true part-of-a-whole. Requested memory answers "who asked for memory": a promise the kernel
  // backs only when pages are touched, whose total can exceed RAM + swap many times over (a
  // browser's requests alone can), so its pie is kept as the second choice, over accessible
  // requests of live processes only. Exited processes take part only when the table shows them.
  private renderPie(): void {
    this.stalePie = !this.shown;
    if (!this.shown) return;
    const p = this.pieBody;
    const c = themeColours();
    const choice = this.pieChoice();
    // An answer for another choice (the subscription is changing) is not drawn.
    const stale = p !== null && (p.figure !== choice.figure || p.exitedIncluded !== choice.exited);
    const slices = p === null || stale ? [] : p.slices;
    const what = this.figure === 'pss' ? 'PSS' : 'requested memory';
    setText(byId('pie-title'), this.figure === 'pss' ? 'PSS by process' : 'Requested memory by process');
    byId('pie').setAttribute(
      'aria-label',
      slices.length === 0
        ? `no ${what}`
        : slices.map((x) => `${x.pid === null ? x.label : `${x.label} (${x.pid})`}: ${bytesText(x.bytes)}`).join('; '),
    );
    const who = choice.exited ? 'processes, exited ones included' : 'live processes';
    setText(
      byId('pie-note'),
      p === null || stale
        ? 'Loading\u2026'
        : slices.length === 0
          ? this.figure === 'pss'
            ? 'No PSS read yet.'
            : 'No requested memory recorded yet (this pie needs the tracer).'
          : `Top 10 of ${what} among ${who}, then the ${countText(p.othersCount)} others \u00b7 total ${bytesText(p.totalRequestedBytes)}`,
    );
    const palette = pieColours();
    const layout = this.pieLayout();
    this.laidOut = layout;
    const w = this.pie.getWidth();
    const h = this.pie.getHeight();
    const legendRows = slices.length * 20 + 12;
    const ring =
      layout === 'side'
        ? { cx: w * 0.27, cy: h / 2, r: Math.max(30, Math.min(w * 0.24, h / 2 - 16)) }
        : { cx: w / 2, cy: 0, r: Math.max(30, Math.min(w / 2 - 16, (h - legendRows) / 2 - 16)) };
    if (layout === 'below') ring.cy = ring.r + 12;
    const total = slices.reduce((s, x) => s + x.bytes, 0);
    const data = slices.map((s, i) => {
      const colour = (s.pid === null ? palette.others : palette.slices[i % palette.slices.length]) ?? palette.others;
      return {
        name: s.pid === null ? `others (${countText(p?.othersCount)})` : `${s.label} (${s.pid})`,
        value: s.bytes,
        pid: s.pid,
        rank: s.pid === null ? '' : String(i + 1),
        share: total > 0 ? s.bytes / total : 0,
        // The remainder is grey: it is not one process.
        itemStyle: { color: colour },
        label: { color: inkOn(colour) },
      };
    });
    this.pie.setOption(
      {
        animation: false,
        tooltip: {
          ...tooltipBase(),
          trigger: 'item',
          formatter: (params: unknown) => {
            const q = params as { name: string; value: number; percent: number; data: { pid: number | null } };
            const whose = q.data.pid === null ? `${countText(p?.othersCount)} other processes` : `pid ${q.data.pid}`;
            return `<b>${esc(q.name)}</b> (${esc(whose)})<br/>${esc(what)}: ${esc(bytesText(q.value))} \u00b7 ${q.percent.toFixed(1)} %`;
          },
        },
        // Names go in the legend, in full (a comm is at most 15 bytes, and legend text is never
        // cut), numbered by rank; a slice carries its number, inside it. Names on the ring, outside,
        // did not fit: ten slices of one browser's processes left labels on top of one another
        // and cut at the chart's edge. Numbers also name the slices for whoever cannot tell the
        // colours apart.
        legend: {
          type: 'scroll',
          orient: 'vertical',
          ...(layout === 'side'
            ? { left: ring.cx + ring.r + 24, top: 'middle' }
            : { left: 'center', top: ring.cy + ring.r + 12, bottom: 4 }),
          icon: 'circle',
          itemWidth: 10,
          itemHeight: 10,
          textStyle: { color: c.text, overflow: 'none' },
          pageTextStyle: { color: c.muted },
          formatter: (name: string) => {
            const d = data.find((x) => x.name === name);
            return d === undefined
              ? name
              : `${d.rank === '' ? '  ' : d.rank}  ${name}  ${bytesText(d.value)} · ${(d.share * 100).toFixed(0)} %`;
          },
        },
        series: [
          {
            type: 'pie',
            radius: [ring.r * 0.55, ring.r],
            center: [ring.cx, ring.cy],
            // 12 degrees (3 %): a narrower slice is too thin for its number, found in the legend and the tooltip.
            minShowLabelAngle: 12,
            label: { position: 'inside', fontWeight: 600, formatter: (q: { data: { rank: string } }) => q.data.rank },
            labelLine: { show: false },
            data,
          },
        ],
      },
      { notMerge: true },
    );
  }
}

/** Black or white, whichever reads better on `hex` (WCAG relative luminance). */
function inkOn(hex: string): string {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (m === null) return '#000000';
  const lin = (h: string | undefined): number => {
    const c = parseInt(h ?? '0', 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(m[1]) + 0.7152 * lin(m[2]) + 0.0722 * lin(m[3]);
  // Contrast with black (l + 0.05) / 0.05 against white 1.05 / (l + 0.05): equal at l ≈ 0.179.
  return l > 0.179 ? '#000000' : '#ffffff';
}

/** How many of the shown rows have PSS n/a, and why. */
export interface PssNaCounts {
  shown: number;
  na: number;
  byReason: Partial<Record<Unavailable, number>>;
}

export const NA_REASON_TEXT: Record<Unavailable, string> = Object.fromEntries(
  Object.entries(REASONS).map(([k, v]) => [k, v.short]),
) as Record<Unavailable, string>;
