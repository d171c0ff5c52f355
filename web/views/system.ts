// The system view, "where did my RAM go?": the ledger (MemTotal split into categories that do not
// overlap) as a table with a colour per category, and what is used as a treemap of categories →
// processes (PSS) → mapping kinds, in the same colours. Free memory is a row of the table and stays
// out of the picture unless asked for: drawn in, it is most of the area on an idle machine and
// squeezes the used parts until their labels cannot be read. The picture is SVG so that each
// label is an element (the browser test reads their boxes); ECharts clips every treemap label to
// its own rectangle and drops the ones that do not fit, so labels cannot overlap, and every part
// has a tooltip with its bytes, shares and the counters it comes from.
import { PALETTE_NEUTRAL, textOn } from '../../src/base/palette.js';
import type { LedgerBody, LedgerNode } from '../../src/wire/messages.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { ageText, bytesText, percentText } from '../format.js';

/** The ledger's own name for memory nothing uses. */
const FREE = 'free';

interface TreeNode {
  name: string;
  value: number;
  note?: string;
  /** The byte figure is unknown: drawn with no area, said "n/a" in the tooltip. */
  unknown?: boolean;
  itemStyle: { color: string };
  label: { color: string };
  children?: TreeNode[];
}

/** `inherited`: the nearest ancestor's note, for parts (mapping kinds) that carry none of their own. */
function toTree(n: LedgerNode, colour: string, inherited?: string): TreeNode {
  // Inside a box the text is black or white for its colour; a parent's heading is drawn on the
  // page's background between the boxes, in the page's text colour (the series' upperLabel).
  const out: TreeNode = {
    name: n.name,
    value: Math.max(0, n.bytes ?? 0),
    itemStyle: { color: colour },
    label: { color: textOn(colour) },
  };
  if (n.bytes === null) out.unknown = true;
  const note = n.note ?? inherited;
  if (note !== undefined) out.note = note;
  const kids = (n.children ?? []).filter((c) => (c.bytes ?? 0) > 0);
  if (kids.length > 0) out.children = kids.map((c) => toTree(c, colour, note));
  return out;
}

/**
 * Colour of each top-level category with bytes, by its place in the ledger (stable between
 * samples); free is grey. Empty categories take no colour, so that the seven hues go round the
 * categories there are (six on a usual machine) without repeating.
 */
export function categoryColours(root: LedgerNode, palette: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const hues = palette.filter((_, i) => i !== PALETTE_NEUTRAL);
  let i = 0;
  for (const c of root.children ?? []) {
    if (c.name === FREE) out.set(c.name, palette[PALETTE_NEUTRAL] ?? '#8C8C8C');
    else if ((c.bytes ?? 0) > 0) out.set(c.name, hues[i++ % hues.length] ?? '#0072B2');
  }
  return out;
}

export class SystemView {
  private body: LedgerBody | null = null;
  private readonly chart: Chart;
  private readonly showFree: HTMLInputElement;
  /** Drawn only while its tab is open (see ProcessesView.setShown). */
  private shown = true;
  private stale = false;

  constructor() {
    this.chart = makeChart(byId('ledger'), 'svg');
    this.showFree = byId('ledger-free', HTMLInputElement);
    this.showFree.addEventListener('change', () => this.render());
  }

  setShown(shown: boolean): void {
    this.shown = shown;
    if (shown && this.stale) this.render();
  }

  set(body: LedgerBody): void {
    this.body = body;
    this.render();
  }

  refreshTheme(): void {
    this.render();
  }

  tick(now: number): void {
    const b = this.body;
    setText(byId('ledger-age'), b?.atMs == null ? 'no sample yet' : `sampled ${ageText(now - b.atMs)} ago`);
  }

  private render(): void {
    this.stale = !this.shown;
    if (!this.shown) return;
    const b = this.body;
    const c = themeColours();
    const root = b?.root ?? null;
    const total = root?.bytes ?? null;
    const cats = root?.children ?? [];
    const free = cats.find((n) => n.name === FREE);
    const used = total === null ? null : total - (free?.bytes ?? 0);
    const colours = root === null ? new Map<string, string>() : categoryColours(root, c.palette);
    const withFree = this.showFree.checked;
    const drawn = cats.filter((n) => (n.bytes ?? 0) > 0 && (withFree || n.name !== FREE));
    byId('ledger').setAttribute(
      'aria-label',
      root === null
        ? 'no ledger'
        : `${root.name} ${bytesText(root.bytes)}: ${cats.map((n) => `${n.name} ${bytesText(n.bytes)}`).join('; ')}`,
    );
    setText(
      byId('ledger-note'),
      root === null
        ? 'The ledger is not available (no /proc sample yet, or a remote host).'
        : `In use: ${bytesText(used)} of ${root.name} ${bytesText(total)} (${percentText(used !== null && total !== null && total > 0 ? used / total : null)}); free: ${bytesText(free?.bytes)}${withFree ? '' : ', not drawn'}. Each box is a category, then the processes in it (PSS), then their mapping kinds. Click a box to zoom in.`,
    );
    const bg = getComputedStyle(document.documentElement).getPropertyValue('--bg').trim();
    this.chart.setOption(
      {
        animation: false,
        tooltip: {
          ...tooltipBase(),
          trigger: 'item',
          formatter: (params: unknown) => {
            const p = params as {
              value: number | undefined;
              data: TreeNode | undefined;
              treePathInfo?: { name: string; value: number }[];
            };
            const path = (p.treePathInfo ?? []).map((t) => t.name).filter((t) => t !== '');
            const node = p.data;
            if (node === undefined) return esc(path.join(' › '));
            const v = p.value ?? 0;
            const parent =
              p.treePathInfo !== undefined && p.treePathInfo.length >= 3
                ? p.treePathInfo[p.treePathInfo.length - 2]
                : undefined;
            const shares = [
              total !== null && total > 0 ? `${percentText(v / total)} of MemTotal` : '',
              used !== null && used > 0 && node.name !== FREE ? `${percentText(v / used)} of what is used` : '',
              // A process's mapping kinds are read apart from its category figure, which the server
              // may scale: a share above 100 % would say more than the figures can.
              parent !== undefined && parent.value > 0 && v <= parent.value
                ? `${percentText(v / parent.value)} of ${esc(parent.name)}`
                : '',
            ].filter((t) => t !== '');
            const note = node.note === undefined ? '' : `<br/><span style="opacity:.8">from: ${esc(node.note)}</span>`;
            return `${esc(path.join(' › '))}<br/><b>${esc(node.unknown === true ? 'n/a' : bytesText(v))}</b> · ${shares.join(' · ')}${note}`;
          },
        },
        series: [
          {
            type: 'treemap',
            name: root?.name ?? 'MemTotal',
            data: drawn.map((n) => toTree(n, colours.get(n.name) ?? '#0072B2')),
            top: 4,
            left: 4,
            right: 4,
            bottom: 30,
            roam: false,
            // The treemap reads its own `animation` (true by default), not the chart's: left on, every
            // sample (about one a second) started a 900 ms move of every box, so the picture was
            // caught mid-way, boxes and labels over one another, most of the time.
            animation: false,
            nodeClick: 'zoomToNode',
            sort: 'desc',
            // Boxes under 300 px² are not drawn alone: they stay part of their parent's area.
            visibleMin: 300,
            breadcrumb: {
              show: true,
              bottom: 4,
              height: 20,
              itemStyle: { color: c.grid, borderColor: c.grid, textStyle: { color: c.text } },
              emphasis: { itemStyle: { color: c.muted } },
            },
            label: { show: true, fontSize: 11, overflow: 'truncate', padding: [3, 4] },
            upperLabel: {
              show: true,
              height: 18,
              fontSize: 11,
              fontWeight: 'bold',
              color: c.text,
              overflow: 'truncate',
              padding: [0, 4],
            },
            itemStyle: { borderColor: bg, borderWidth: 1, gapWidth: 1 },
            levels: [
              { itemStyle: { borderColor: bg, borderWidth: 3, gapWidth: 3 } },
              { itemStyle: { borderColor: bg, borderWidth: 2, gapWidth: 2 } },
              { itemStyle: { borderColor: bg, borderWidth: 1, gapWidth: 1 } },
            ],
          },
        ],
      },
      { notMerge: true },
    );
    this.renderLedger(cats, colours, total, used);
    const tbody = byId('used-body');
    tbody.replaceChildren(
      ...(b?.used ?? []).map((u) =>
        el(
          'tr',
          {},
          el('td', {}, u.name),
          el('td', { class: 'num' }, bytesText(u.bytes)),
          el('td', { class: 'num' }, total === null || u.bytes === null ? 'n/a' : percentText(u.bytes / total)),
          el('td', { class: 'formula' }, u.formula),
        ),
      ),
    );
  }

  /** The ledger table: one row per category in the picture's colours, free last, then the total. */
  private renderLedger(
    cats: LedgerNode[],
    colours: Map<string, string>,
    total: number | null,
    used: number | null,
  ): void {
    const ordered = [
      ...cats.filter((n) => n.name !== FREE).sort((x, y) => (y.bytes ?? -1) - (x.bytes ?? -1)),
      ...cats.filter((n) => n.name === FREE),
    ];
    const row = (
      name: string,
      bytes: number | null,
      colour: string | null,
      note: string | undefined,
      cls = '',
    ): HTMLElement => {
      const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      if (colour !== null) swatch.style.background = colour;
      return el(
        'tr',
        { class: cls, ...(note === undefined ? {} : { title: note }) },
        el('td', {}, colour === null ? '' : swatch),
        el('td', {}, name),
        el('td', { class: 'num' }, bytesText(bytes)),
        el('td', { class: 'num' }, total === null || total <= 0 || bytes === null ? 'n/a' : percentText(bytes / total)),
      );
    };
    byId('ledger-body').replaceChildren(
      ...ordered.map((n) =>
        row(n.name, n.bytes, colours.get(n.name) ?? null, n.note, n.name === FREE ? 'free-row' : ''),
      ),
      row('in use (all but free)', used, null, 'MemTotal − MemFree', 'total-row'),
      row('MemTotal', total, null, 'MemTotal of /proc/meminfo', 'total-row'),
    );
  }
}
