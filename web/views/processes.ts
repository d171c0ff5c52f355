// The processes view: a sortable, filterable table of every process with requested, mapped-now,
// RSS and PSS side by side, and the pie of requested memory (top 10 + others, from the server).
import type { PieBody, ProcessRow, ProcessesBody } from '../../src/wire/messages.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { ageText, bytesText, countText, percentText } from '../format.js';

type SortKey = 'pid' | 'name' | 'requestedBytes' | 'requestedRatio' | 'mappedNowBytes' | 'rssBytes' | 'pssBytes' | 'swapBytes' | 'calls' | 'age';

interface Column {
  key: SortKey;
  title: string;
  help: string;
  numeric: boolean;
  cell: (r: ProcessRow, now: number) => string;
}

const COLUMNS: Column[] = [
  { key: 'pid', title: 'PID', help: 'Process id', numeric: true, cell: (r) => String(r.pid) },
  { key: 'name', title: 'Name', help: 'comm (chosen by the process; at most 15 bytes)', numeric: false, cell: (r) => r.name },
  { key: 'requestedBytes', title: 'Requested', help: 'mmap − munmap (with brk and mremap growth) seen by the tracer since it started; never below 0', numeric: true, cell: (r) => bytesText(r.requestedBytes) },
  { key: 'requestedRatio', title: '% of virtual', help: 'Requested as a share of the total virtual memory = MemTotal + SwapTotal', numeric: true, cell: (r) => percentText(r.requestedRatio) },
  { key: 'mappedNowBytes', title: 'Mapped now', help: 'Virtual memory mapped right now (tracer model, else VmSize)', numeric: true, cell: (r) => bytesText(r.mappedNowBytes) },
  { key: 'rssBytes', title: 'RSS', help: 'Resident set size (counts shared pages in full in every process)', numeric: true, cell: (r) => bytesText(r.rssBytes) },
  { key: 'pssBytes', title: 'PSS', help: 'Proportional set size (shared pages divided among their users); n/a without permission', numeric: true, cell: (r) => bytesText(r.pssBytes) },
  { key: 'swapBytes', title: 'Swap', help: 'Swapped-out memory (VmSwap)', numeric: true, cell: (r) => bytesText(r.swapBytes) },
  { key: 'calls', title: 'Calls', help: 'mmap/munmap/brk/mremap calls traced', numeric: true, cell: (r) => countText(r.calls) },
  { key: 'age', title: 'Age', help: 'How old the /proc figures of this row are', numeric: true, cell: (r, now) => (r.sampledAtMs === null ? 'n/a' : ageText(now - r.sampledAtMs)) },
];

function sortValue(r: ProcessRow, key: SortKey): number | string | null {
  if (key === 'age') return r.sampledAtMs === null ? null : -r.sampledAtMs;
  return r[key];
}

export class ProcessesView {
  private body: ProcessesBody | null = null;
  private sortKey: SortKey = 'requestedBytes';
  private sortDesc = true;
  private filter = '';
  private readonly tbody: HTMLTableSectionElement;
  private readonly rowsByPid = new Map<number, HTMLTableRowElement>();
  private readonly pie: Chart;
  private readonly headers = new Map<SortKey, HTMLTableCellElement>();
  private pieBody: PieBody | null = null;

  constructor(private readonly onOpen: (pid: number) => void) {
    const thead = byId('proc-head', HTMLTableSectionElement);
    const tr = el('tr');
    for (const c of COLUMNS) {
      const th = el('th', { class: c.numeric ? 'num sortable' : 'sortable', title: c.help, 'data-key': c.key }, c.title);
      th.addEventListener('click', () => {
        if (this.sortKey === c.key) this.sortDesc = !this.sortDesc;
        else {
          this.sortKey = c.key;
          this.sortDesc = c.numeric;
        }
        this.render();
      });
      this.headers.set(c.key, th);
      tr.append(th);
    }
    thead.append(tr);
    this.tbody = byId('proc-body', HTMLTableSectionElement);
    this.tbody.addEventListener('click', (ev) => {
      const row = (ev.target as HTMLElement).closest('tr');
      const pid = Number(row?.dataset.pid);
      if (Number.isInteger(pid) && pid > 0) this.onOpen(pid);
    });
    byId('proc-filter', HTMLInputElement).addEventListener('input', (ev) => {
      this.filter = (ev.target as HTMLInputElement).value.trim().toLowerCase();
      this.render();
    });
    this.pie = makeChart(byId('pie'));
    this.pie.on('click', (p) => {
      const d = p.data as { pid?: number | null } | undefined;
      if (typeof d?.pid === 'number') this.onOpen(d.pid);
    });
  }

  setProcesses(body: ProcessesBody): void {
    this.body = body;
    this.render();
  }

  setPie(body: PieBody): void {
    this.pieBody = body;
    this.renderPie();
  }

  refreshTheme(): void {
    this.renderPie();
  }

  private visibleRows(): ProcessRow[] {
    const rows = this.body?.rows ?? [];
    const f = this.filter;
    const shown = f === '' ? [...rows] : rows.filter((r) => String(r.pid) === f || r.name.toLowerCase().includes(f) || (r.cmdline ?? '').toLowerCase().includes(f));
    const key = this.sortKey;
    const dir = this.sortDesc ? -1 : 1;
    shown.sort((a, b) => {
      const va = sortValue(a, key);
      const vb = sortValue(b, key);
      // Unknown figures sort last whichever the direction: "n/a" is not "smallest".
      if (va === null || vb === null) return va === vb ? a.pid - b.pid : va === null ? 1 : -1;
      if (va < vb) return -dir;
      if (va > vb) return dir;
      return a.pid - b.pid;
    });
    return shown;
  }

  render(): void {
    const now = Date.now();
    for (const [k, th] of this.headers) th.setAttribute('aria-sort', k === this.sortKey ? (this.sortDesc ? 'descending' : 'ascending') : 'none');
    const rows = this.visibleRows();
    const keep = new Set<number>();
    const ordered: HTMLTableRowElement[] = [];
    for (const r of rows) {
      keep.add(r.pid);
      let tr = this.rowsByPid.get(r.pid);
      if (tr === undefined) {
        tr = el('tr', { 'data-pid': String(r.pid) });
        for (const c of COLUMNS) tr.append(el('td', c.numeric ? { class: 'num' } : {}));
        this.rowsByPid.set(r.pid, tr);
      }
      COLUMNS.forEach((c, i) => {
        const td = tr.children[i];
        if (td !== undefined) setText(td, c.cell(r, now));
      });
      tr.title = r.cmdline ?? '';
      tr.classList.toggle('exited', !r.alive);
      ordered.push(tr);
    }
    for (const [pid, tr] of this.rowsByPid) if (!keep.has(pid)) {
      tr.remove();
      this.rowsByPid.delete(pid);
    }
    // Re-append only when the order changed: moving nodes is what costs.
    const current = this.tbody.children;
    let same = current.length === ordered.length;
    for (let i = 0; same && i < ordered.length; i++) same = current[i] === ordered[i];
    if (!same) this.tbody.replaceChildren(...ordered);
    const b = this.body;
    setText(byId('proc-count'), `${countText(rows.length)} of ${countText(b?.rows.length ?? 0)} processes`);
    setText(
      byId('proc-total'),
      b?.remote === true
        ? 'Remote host: only the stored per-process totals exist here; /proc figures are n/a.'
        : `% of virtual = requested ÷ (MemTotal + SwapTotal) = ÷ ${bytesText(b?.totalVirtualBytes)}`,
    );
  }

  private renderPie(): void {
    const p = this.pieBody;
    const c = themeColours();
    const empty = p === null || p.slices.length === 0;
    // The chart is a canvas: its content is also given as text, for screen readers (and tests).
    byId('pie').setAttribute('aria-label', empty ? 'no requested memory' : p.slices.map((x) => `${x.pid === null ? x.label : `${x.label} (${x.pid})`}: ${bytesText(x.bytes)}`).join('; '));
    setText(byId('pie-note'), empty ? 'No requested memory recorded yet (the pie needs the tracer).' : `Top 10 of requested memory, then the ${countText(p.othersCount)} others · total ${bytesText(p.totalRequestedBytes)}`);
    this.pie.setOption(
      {
        color: c.palette,
        animation: false,
        tooltip: {
          ...tooltipBase(),
          trigger: 'item',
          formatter: (params: unknown) => {
            const q = params as { name: string; value: number; percent: number; data: { pid: number | null } };
            const who = q.data.pid === null ? `${countText(p?.othersCount)} other processes` : `pid ${q.data.pid}`;
            return `<b>${esc(q.name)}</b> (${esc(who)})<br/>${esc(bytesText(q.value))} · ${q.percent.toFixed(1)} %`;
          },
        },
        series: [
          {
            type: 'pie',
            radius: ['35%', '70%'],
            avoidLabelOverlap: true,
            label: { color: c.text, formatter: (q: { name: string }) => q.name },
            data: (p?.slices ?? []).map((s) => ({ name: s.pid === null ? s.label : `${s.label} (${s.pid})`, value: s.bytes, pid: s.pid })),
          },
        ],
      },
      { notMerge: true },
    );
  }
}
