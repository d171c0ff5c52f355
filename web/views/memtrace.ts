// The OCaml view: a memtrace trace from the server's --memtrace-dir, analysed by the server
// (src/server/memtrace-routes.ts): live memory over time, the findings (growth windows), the top sites
// with their Lwt/application owner, the findings, and the allocations as a flame graph that can
// hide Lwt's frames. Text from the trace reaches the page through textContent only.
import { axisText, byteAxis, secondsAxis, secondsText } from '../../src/base/axis.js';
import { HUE } from '../../src/base/palette.js';
import {
  PROMISES_BELOW_NOTE,
  type MemtraceReportBody,
  type MemtraceWireReport,
  type MemtraceWireSite,
} from '../../src/wire/memtrace.js';
import type { FlameTreeNode } from '../../src/wire/memtrace-flame.js';
import { buildFlameTree, flameFind, flamePath, layoutFlame } from '../../src/wire/memtrace-flame.js';
import { api } from '../api.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, scaleAxis, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { bytesText } from '../format.js';

const SVG = 'http://www.w3.org/2000/svg';
/** Ancestors of the zoomed frame drawn as grey bars; above that many, the middle ones fold into one bar. */
const TRAIL_MAX = 12;

export class MemtraceView {
  private readonly chart: Chart;
  private body: MemtraceReportBody | null = null;
  private zoom: number[] = [];
  private loaded = false;
  /** Counts loads: an answer for an earlier choice of trace is dropped, never drawn. */
  private generation = 0;
  private tree: { root: FlameTreeNode; hideLwt: boolean } | null = null;

  constructor() {
    this.chart = makeChart(byId('mt-chart'));
    byId('mt-file', HTMLSelectElement).addEventListener(
      'change',
      (ev) => void this.load((ev.target as HTMLSelectElement).value),
    );
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
        byId('mt-empty').hidden = true;
        setText(
          byId('mt-note'),
          'No trace directory: start memlens serve with --memtrace-dir DIR to open memtrace traces here.',
        );
        return;
      }
      select.replaceChildren(
        el('option', { value: '' }, files.files.length === 0 ? '(no .ctf file)' : 'choose a trace…'),
        ...files.files.map((f) => el('option', { value: f.name }, `${f.name} (${bytesText(f.sizeBytes)})`)),
      );
      setText(byId('mt-note'), `${files.files.length} trace(s) in ${files.dir}`);
    } catch (e) {
      setText(byId('mt-note'), e instanceof Error ? e.message : String(e));
    }
  }

  private async load(name: string): Promise<void> {
    const gen = ++this.generation;
    // The previous trace's charts go before anything of the new one is drawn, and stay gone when
    // the new one fails: no figure on screen may belong to another trace than the one chosen.
    this.clear();
    if (name === '') {
      setText(byId('mt-note'), '');
      return;
    }
    const note = byId('mt-note');
    note.classList.remove('error');
    setText(note, `analysing ${name}…`);
    try {
      const body = await api.memtraceReport(name);
      if (gen !== this.generation) return;
      this.body = body;
      this.zoom = [];
      this.render();
    } catch (e) {
      if (gen !== this.generation) return;
      this.clear();
      note.classList.add('error');
      // The server's message names the file already.
      setText(note, e instanceof Error ? e.message : String(e));
    }
  }

  /** Empties every part of the view that shows a trace. */
  private clear(): void {
    this.body = null;
    this.tree = null;
    this.zoom = [];
    this.chart.clear();
    byId('mt-chart').setAttribute('aria-label', 'no trace');
    byId('mt-findings').replaceChildren();
    byId('mt-sites').replaceChildren();
    byId('mt-promises').replaceChildren();
    setText(byId('mt-promises-info'), '');
    byId('mt-flame').replaceChildren();
    setText(byId('mt-flame-info'), '');
    // Until a trace is drawn, one line says what the view will show instead of empty headings.
    byId('mt-report').hidden = true;
    byId('mt-empty').hidden = false;
  }

  refreshTheme(): void {
    if (this.body === null) return;
    this.drawChart(this.body.report);
    this.drawFlame();
  }

  private render(): void {
    const b = this.body;
    if (b === null) return;
    const r = b.report;
    const t = r.trace;
    byId('mt-note').classList.remove('error');
    byId('mt-empty').hidden = true;
    byId('mt-report').hidden = false;
    setText(
      byId('mt-note'),
      `${t.executable} (pid ${t.pid} on ${t.host}) · format v${t.formatVersion} · rate ${t.sampleRate} · ${secondsText(t.durationS)} · ${r.events.allocations} allocations, ${r.events.promotions} promotions, ${r.events.collections} collections · integrity ${r.integrity.ok ? 'ok' : 'problems'}`,
    );
    this.drawChart(r);
    this.drawFindings(r);
    this.drawSites(r);
    this.drawPromises(r);
    this.drawFlame();
  }

  /** Lwt's promises by creation site (estimates ± standard error) and the exact task counts. */
  private drawPromises(r: MemtraceWireReport): void {
    const p = r.lwtPromises;
    const n = (x: number | null): string => (x === null ? '?' : Math.round(x).toLocaleString('en-US'));
    const pc = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
    const counts = r.taskCounts.map((c) => `${c.name}: ${n(c.started)} started, ${n(c.finished)} finished`).join('; ');
    // A trace without Lwt says so in the heading; an empty table under it would say nothing more.
    byId('mt-promises-table').hidden = p.sites.length === 0;
    setText(
      byId('mt-promises-info'),
      p.sites.length === 0
        ? 'no Lwt call in this trace'
        : `Lwt's own machinery: ${pc(p.overhead.allocatedShare)} of the bytes allocated, ${pc(p.overhead.livePeakShare)} of the live peak, ${pc(p.overhead.liveEndShare)} of the end` +
            (p.promises === null ? '' : ` · ${n(p.promises)} ± ${n(p.promisesStdErr)} pending promises (estimated)`) +
            (counts === '' ? '' : ` · tasks (exact): ${counts}`) +
            (p.sites.some((s) => s.promisesBelow95 !== null) ? ` · ${PROMISES_BELOW_NOTE}` : ''),
    );
    byId('mt-promises').replaceChildren(
      ...p.sites.map((s) =>
        el(
          'tr',
          {},
          s.promisesBelow95 === null
            ? el('td', { class: 'num' }, n(s.promises))
            : el('td', { class: 'num', title: PROMISES_BELOW_NOTE }, `< ${n(s.promisesBelow95)}`),
          el('td', { class: 'num' }, s.promisesBelow95 === null ? n(s.promisesStdErr) : ''),
          el('td', { class: 'num' }, s.meanPromiseLifetimeS === null ? '' : secondsText(s.meanPromiseLifetimeS)),
          el('td', { class: 'num' }, bytesText(s.allocatedBytes)),
          el('td', { class: 'num' }, bytesText(s.livePeakBytes)),
          el('td', { class: 'num' }, bytesText(s.liveEndBytes)),
          el('td', {}, s.label),
          el('td', {}, s.via),
        ),
      ),
    );
  }

  private drawChart(r: MemtraceWireReport): void {
    const c = themeColours();
    const w = r.timeline.binWidthS;
    const bins = r.timeline.bins;
    // Axes in the unit of their range (a 13 ms trace in ms), on round steps of that unit.
    const xa = secondsAxis(Math.max(w * bins.length, 1e-9));
    const ya = byteAxis(Math.max(1, ...bins.map((b) => b.liveBytes)));
    byId('mt-chart').setAttribute(
      'aria-label',
      `live memory over ${secondsText(w * bins.length)}, peak ${bytesText(r.totals.livePeak.totalBytes)}`,
    );
    this.chart.setOption(
      {
        color: c.palette,
        animation: false,
        // containLabel: the grid leaves room for the widest label, so none is clipped.
        grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
        tooltip: {
          ...tooltipBase(),
          trigger: 'axis',
          formatter: (params: unknown) => {
            const ps = params as { value: [number, number] }[];
            const p = ps[0];
            return p === undefined ? '' : esc(`${axisText(p.value[0], xa)}: ${bytesText(p.value[1])} live`);
          },
        },
        xAxis: scaleAxis(xa),
        yAxis: scaleAxis(ya),
        series: [
          {
            type: 'line',
            name: 'live',
            showSymbol: true,
            symbolSize: 4,
            areaStyle: { opacity: 0.3 },
            data: bins.map((bin) => [bin.tS + w, bin.liveBytes]),
          },
        ],
      },
      true,
    );
  }

  private drawFindings(r: MemtraceWireReport): void {
    const items: HTMLElement[] = [];
    items.push(el('li', {}, `${r.steadyState.steady ? 'Steady' : 'Not steady'}: ${r.steadyState.reason}`));
    for (const l of r.leaks)
      items.push(
        el(
          'li',
          { class: 'error' },
          `Leak suspect: ${l.label}, ${bytesText(l.liveEndBytes)} live at the end (${(l.shareOfEndLive * 100).toFixed(0)}%), growing ${bytesText(l.growthBytesPerS)}/s${(() => {
            const why = r.leakVerdicts.find((v) => v.siteId === l.siteId);
            return why === undefined ? '' : `: ${why.reason}`;
          })()}`,
        ),
      );
    for (const v of r.leakVerdicts)
      if (!v.suspect)
        items.push(
          el(
            'li',
            { class: 'muted' },
            `Not a leak suspect: ${v.label}, ${bytesText(v.liveEndBytes)} at the end: ${v.reason}`,
          ),
        );
    for (const w of r.growthWindows)
      items.push(
        el(
          'li',
          w.kind === 'race' ? { class: 'warn-text' } : {},
          `${w.kind === 'race' ? 'Allocation race' : 'Not a race'}: ${w.explanation}`,
        ),
      );
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
    byId('mt-sites').replaceChildren(
      ...ids
        .map((id) => byId_.get(id))
        .filter((s): s is MemtraceWireSite => s !== undefined)
        .map(row),
    );
  }

  private flameTree(b: MemtraceReportBody, hideLwt: boolean): FlameTreeNode {
    if (this.tree?.hideLwt !== hideLwt) this.tree = { root: buildFlameTree(b.flame, hideLwt), hideLwt };
    return this.tree.root;
  }

  private drawFlame(): void {
    const b = this.body;
    const holder = byId('mt-flame');
    const info = byId('mt-flame-info');
    if (b === null) return;
    try {
      this.drawFlameOf(b, holder, info);
      info.classList.remove('error');
    } catch (e) {
      // Never an empty section without a word.
      holder.replaceChildren();
      info.classList.add('error');
      setText(info, `The flame graph could not be drawn: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private drawFlameOf(b: MemtraceReportBody, holder: HTMLElement, info: HTMLElement): void {
    const root = this.flameTree(b, byId('mt-hide-lwt', HTMLInputElement).checked);
    const focus = flameFind(root, this.zoom);
    this.zoom = flamePath(focus);
    const ancestors: FlameTreeNode[] = [];
    for (let a = focus.parent; a !== null; a = a.parent) ancestors.push(a);
    ancestors.reverse();
    // Deep zooms keep the root, one folded bar for the middle and the nearest ancestors.
    let trail = ancestors.map((node) => ({ node, folded: 0 }));
    if (trail.length > TRAIL_MAX) {
      const keep = TRAIL_MAX - 2;
      const folded = trail.length - 1 - keep;
      trail = [...trail.slice(0, 1), { node: ancestors[folded] ?? root, folded }, ...trail.slice(trail.length - keep)];
    }
    const W = 1200;
    const ROW = 18;
    const rects = layoutFlame(focus, W, 0.3);
    const rows = trail.length + focus.height;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${rows * ROW}`);
    svg.setAttribute('width', '100%');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `flame graph, ${focus.height} frames deep`);
    const c = themeColours();
    // Application frames orange, Lwt's sky blue, two shades each so that neighbours part; black
    // text reads on all four.
    const app = [c.palette[HUE.orange] ?? '#E69F00', '#F3CF80'];
    const lwt = [c.palette[HUE.sky] ?? '#56B4E9', '#A9D8F3'];
    const shade = (name: string): number => {
      let h = 0;
      for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
      return h % 2;
    };
    const total = root.value;
    const rect = (n: FlameTreeNode, x: number, w: number, r: number, grey: boolean, label: string): void => {
      const g = document.createElementNS(SVG, 'g');
      const box = document.createElementNS(SVG, 'rect');
      box.setAttribute('x', String(x));
      box.setAttribute('y', String(r * ROW));
      box.setAttribute('width', String(Math.max(w - 0.5, 0.3)));
      box.setAttribute('height', String(ROW - 1));
      box.setAttribute('fill', grey ? c.grid : ((n.lwt ? lwt : app)[shade(n.name)] ?? '#E69F00'));
      g.appendChild(box);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${label}: ${bytesText(n.value)} (${total > 0 ? ((100 * n.value) / total).toFixed(1) : '0'} % of all)${n.lwt ? ' [Lwt]' : ''}`;
      g.appendChild(title);
      if (w > 40) {
        const text = document.createElementNS(SVG, 'text');
        text.setAttribute('x', String(x + 3));
        text.setAttribute('y', String(r * ROW + 13));
        text.setAttribute('font-size', '11');
        text.setAttribute('fill', grey ? c.text : '#000000');
        const chars = Math.floor((w - 6) / 6.7);
        text.textContent = label.length > chars ? `${label.slice(0, Math.max(chars - 1, 1))}…` : label;
        g.appendChild(text);
      }
      g.addEventListener('click', () => {
        this.zoom = flamePath(n);
        this.drawFlame();
      });
      svg.appendChild(g);
    };
    trail.forEach((e, i) =>
      rect(
        e.node,
        0,
        W,
        i,
        true,
        e.folded > 0 ? `… ${e.folded} frames (click to go up to ${e.node.name})` : e.node.name,
      ),
    );
    for (const r of rects) rect(r.node, r.x, r.width, trail.length + r.row, false, r.node.name);
    holder.replaceChildren(svg);
    setText(
      info,
      `Showing ${bytesText(focus.value)} of ${bytesText(total)} allocated, ${root.height - 1} frames deep at most${this.zoom.length > 0 ? ' (click a grey bar to zoom out)' : ' (click a frame to zoom in)'}`,
    );
  }
}
