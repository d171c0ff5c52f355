// The OCaml view: a memtrace trace from the server's --memtrace-dir, analysed by the server
// (src/server/memtrace-routes.ts): live memory over time, the findings (growth windows), the top sites
// with their Lwt/application owner, the findings, and the allocations as a flame graph that can
// hide Lwt's frames. Text from the trace reaches the page through textContent only.
import type { MemtraceReportBody, MemtraceWireFlame, MemtraceWireReport, MemtraceWireSite } from '../../src/wire/memtrace.js';
import { api } from '../api.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { bytesText } from '../format.js';

const SVG = 'http://www.w3.org/2000/svg';

interface FlameNode {
  name: string;
  lwt: boolean;
  value: number;
  children: Map<string, FlameNode>;
}

export class MemtraceView {
  private readonly chart: Chart;
  private body: MemtraceReportBody | null = null;
  private zoom: string[] = [];
  private loaded = false;

  constructor() {
    this.chart = makeChart(byId('mt-chart'));
    byId('mt-file', HTMLSelectElement).addEventListener('change', (ev) => void this.load((ev.target as HTMLSelectElement).value));
    byId('mt-hide-lwt', HTMLInputElement).addEventListener('change', () => this.drawFlame());
  }

  /** Lists the traces the first time the view is shown. */
  async open(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    try {
      const files = await api.memtraceFiles();
      const select = byId('mt-file', HTMLSelectElement);
      if (files.dir === null) {
        setText(byId('mt-note'), 'No trace directory: start memlens serve with --memtrace-dir DIR to open memtrace traces here.');
        return;
      }
      select.replaceChildren(el('option', { value: '' }, files.files.length === 0 ? '(no .ctf file)' : 'choose a trace…'), ...files.files.map((f) => el('option', { value: f.name }, `${f.name} (${bytesText(f.sizeBytes)})`)));
      setText(byId('mt-note'), `${files.files.length} trace(s) in ${files.dir}`);
    } catch (e) {
      setText(byId('mt-note'), e instanceof Error ? e.message : String(e));
    }
  }

  private async load(name: string): Promise<void> {
    if (name === '') return;
    setText(byId('mt-note'), `analysing ${name}…`);
    try {
      this.body = await api.memtraceReport(name);
      this.zoom = [];
      this.render();
    } catch (e) {
      this.body = null;
      setText(byId('mt-note'), e instanceof Error ? e.message : String(e));
    }
  }

  refreshTheme(): void {
    if (this.body !== null) this.drawChart(this.body.report);
  }

  private render(): void {
    const b = this.body;
    if (b === null) return;
    const r = b.report;
    const t = r.trace;
    setText(
      byId('mt-note'),
      `${t.executable} (pid ${t.pid} on ${t.host}) · format v${t.formatVersion} · rate ${t.sampleRate} · ${t.durationS.toFixed(2)} s · ${r.events.allocations} allocations, ${r.events.promotions} promotions, ${r.events.collections} collections · integrity ${r.integrity.ok ? 'ok' : 'problems'}`,
    );
    this.drawChart(r);
    this.drawFindings(r);
    this.drawSites(r);
    this.drawFlame();
  }

  private drawChart(r: MemtraceWireReport): void {
    const c = themeColours();
    const w = r.timeline.binWidthS;
    this.chart.setOption(
      {
        color: c.palette,
        animation: false,
        grid: { left: 80, right: 20, top: 20, bottom: 40 },
        tooltip: {
          ...tooltipBase(),
          trigger: 'axis',
          formatter: (params: unknown) => {
            const ps = params as { value: [number, number] }[];
            const p = ps[0];
            return p === undefined ? '' : esc(`${p.value[0].toFixed(2)} s: ${bytesText(p.value[1])} live`);
          },
        },
        xAxis: { type: 'value', name: 's', axisLabel: { color: c.muted }, splitLine: { lineStyle: { color: c.grid } } },
        yAxis: { type: 'value', axisLabel: { color: c.muted, formatter: (v: number) => bytesText(v) }, splitLine: { lineStyle: { color: c.grid } } },
        series: [
          {
            type: 'line',
            name: 'live',
            showSymbol: false,
            areaStyle: { opacity: 0.3 },
            data: r.timeline.bins.map((bin) => [bin.tS + w, bin.liveBytes]),
          },
        ],
      },
      true,
    );
  }

  private drawFindings(r: MemtraceWireReport): void {
    const items: HTMLElement[] = [];
    items.push(el('li', {}, `${r.steadyState.steady ? 'Steady' : 'Not steady'}: ${r.steadyState.reason}`));
    for (const l of r.leaks) items.push(el('li', { class: 'error' }, `Leak suspect: ${l.label}, ${bytesText(l.liveEndBytes)} live at the end (${(l.shareOfEndLive * 100).toFixed(0)}%), growing ${bytesText(l.growthBytesPerS)}/s`));
    for (const w of r.growthWindows) items.push(el('li', w.kind === 'race' ? { class: 'warn-text' } : {}, `${w.kind === 'race' ? 'Allocation race' : 'Not a race'}: ${w.explanation}`));
    for (const warning of r.integrity.warnings) items.push(el('li', { class: 'muted' }, `warning: ${warning}`));
    byId('mt-findings').replaceChildren(...items);
  }

  private drawSites(r: MemtraceWireReport): void {
    const byId_ = new Map(r.sites.map((s) => [s.id, s]));
    const row = (s: MemtraceWireSite): HTMLElement =>
      el(
        'tr',
        {},
        el('td', { class: 'num' }, bytesText(s.allocatedBytes)),
        el('td', { class: 'num' }, bytesText(s.livePeakBytes)),
        el('td', { class: 'num' }, bytesText(s.liveEndBytes)),
        el('td', {}, s.owner === 'lwt' ? 'Lwt' : 'app'),
        el('td', {}, s.label),
      );
    const ids = [...new Set([...r.rankings.byAllocated, ...r.rankings.byLivePeak, ...r.rankings.byLiveEnd])];
    byId('mt-sites').replaceChildren(...ids.map((id) => byId_.get(id)).filter((s): s is MemtraceWireSite => s !== undefined).map(row));
  }

  private tree(flame: MemtraceWireFlame, hideLwt: boolean): FlameNode {
    const root: FlameNode = { name: 'all', lwt: false, value: 0, children: new Map() };
    for (const [frames, bytes] of flame.stacks) {
      root.value += bytes;
      let node = root;
      let kept = frames.filter((f) => !(hideLwt && flame.frames[f]?.[1] === 1));
      if (kept.length === 0) kept = [-1];
      for (const f of kept) {
        const key = String(f);
        let child = node.children.get(key);
        if (child === undefined) {
          const fr = flame.frames[f];
          child = { name: fr?.[0] ?? '[Lwt]', lwt: fr === undefined || fr[1] === 1, value: 0, children: new Map() };
          node.children.set(key, child);
        }
        child.value += bytes;
        node = child;
      }
    }
    return root;
  }

  private drawFlame(): void {
    const b = this.body;
    const holder = byId('mt-flame');
    if (b === null) return;
    const root = this.tree(b.flame, byId('mt-hide-lwt', HTMLInputElement).checked);
    let focus = root;
    const trail: FlameNode[] = [root];
    for (const k of this.zoom) {
      const next = focus.children.get(k);
      if (next === undefined) break;
      focus = next;
      trail.push(next);
    }
    const depth = (n: FlameNode): number => 1 + Math.max(0, ...[...n.children.values()].map(depth));
    const W = 1200;
    const ROW = 18;
    const rows = trail.length + depth(focus) - 1;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${rows * ROW}`);
    svg.setAttribute('width', '100%');
    const c = themeColours();
    const rect = (n: FlameNode, x: number, w: number, r: number, path: string[], grey: boolean): void => {
      if (w < 0.3) return;
      const g = document.createElementNS(SVG, 'g');
      const box = document.createElementNS(SVG, 'rect');
      box.setAttribute('x', String(x));
      box.setAttribute('y', String(r * ROW));
      box.setAttribute('width', String(Math.max(w - 0.5, 0.3)));
      box.setAttribute('height', String(ROW - 1));
      box.setAttribute('fill', grey ? c.grid : n.lwt ? (c.palette[0] ?? '#6ea2ff') : (c.palette[1] ?? '#e07b39'));
      g.appendChild(box);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${n.name}: ${bytesText(n.value)}${n.lwt ? ' [Lwt]' : ''}`;
      g.appendChild(title);
      if (w > 40) {
        const text = document.createElementNS(SVG, 'text');
        text.setAttribute('x', String(x + 3));
        text.setAttribute('y', String(r * ROW + 13));
        text.setAttribute('font-size', '11');
        text.setAttribute('fill', c.text);
        const chars = Math.floor((w - 6) / 6.5);
        text.textContent = n.name.length > chars ? `${n.name.slice(0, Math.max(chars - 1, 1))}…` : n.name;
        g.appendChild(text);
      }
      g.addEventListener('click', () => {
        this.zoom = path;
        this.drawFlame();
      });
      svg.appendChild(g);
    };
    trail.forEach((n, i) => rect(n, 0, W, i, this.zoom.slice(0, i), i < trail.length - 1));
    const children = (n: FlameNode, x: number, w: number, r: number, path: string[]): void => {
      let at = x;
      for (const [k, child] of [...n.children.entries()].sort((a, b2) => b2[1].value - a[1].value)) {
        const cw = n.value > 0 ? (w * child.value) / n.value : 0;
        rect(child, at, cw, r, [...path, k], false);
        children(child, at, cw, r + 1, [...path, k]);
        at += cw;
      }
    };
    children(focus, 0, W, trail.length, [...this.zoom]);
    holder.replaceChildren(svg);
  }
}
