// The system view: the ledger as a sunburst from MemTotal to categories, processes (PSS) and
// their mapping kinds, with the several definitions of "used" side by side.
import type { LedgerBody, LedgerNode } from '../../src/wire/messages.js';
import type { Chart } from '../charts.js';
import { esc, makeChart, themeColours, tooltipBase } from '../charts.js';
import { byId, el, setText } from '../dom.js';
import { ageText, bytesText, percentText } from '../format.js';

interface SunNode {
  name: string;
  value?: number;
  note?: string;
  known: boolean;
  children?: SunNode[];
}

function toSun(n: LedgerNode): SunNode {
  const out: SunNode = { name: n.name, known: n.bytes !== null };
  // An unknown size is drawn as an empty slot, never as a made-up 0 with a label.
  if (n.bytes !== null) out.value = n.bytes;
  if (n.note !== undefined) out.note = n.note;
  if (n.children !== undefined && n.children.length > 0) out.children = n.children.map(toSun);
  return out;
}

export class SystemView {
  private body: LedgerBody | null = null;
  private readonly chart: Chart;

  constructor() {
    this.chart = makeChart(byId('ledger'));
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
    const b = this.body;
    const c = themeColours();
    const root = b?.root ?? null;
    const total = root?.bytes ?? null;
    byId('ledger').setAttribute('aria-label', root === null ? 'no ledger' : `${root.name} ${bytesText(root.bytes)}: ${(root.children ?? []).map((n) => `${n.name} ${bytesText(n.bytes)}`).join('; ')}`);
    setText(byId('ledger-note'), root === null ? 'The ledger is not available (no /proc sample yet, or a remote host).' : `${root.name} = ${bytesText(total)}: categories that do not overlap, then the processes (PSS) and their mapping kinds.`);
    this.chart.setOption(
      {
        color: c.palette,
        animation: false,
        tooltip: {
          ...tooltipBase(),
          trigger: 'item',
          formatter: (params: unknown) => {
            const p = params as { name: string; value: number | undefined; data: SunNode; treePathInfo?: { name: string }[] };
            const path = (p.treePathInfo ?? []).map((t) => t.name).filter((t) => t !== '');
            const size = p.data.known ? bytesText(p.value) : 'n/a';
            const share = p.data.known && total !== null && p.value !== undefined ? ` · ${percentText(p.value / total)} of ${esc(root?.name ?? '')}` : '';
            const note = p.data.note === undefined ? '' : `<br/><span style="opacity:.75">${esc(p.data.note)}</span>`;
            return `${esc(path.join(' › '))}<br/><b>${esc(size)}</b>${share}${note}`;
          },
        },
        series: [
          {
            type: 'sunburst',
            data: root === null ? [] : (toSun(root).children ?? []),
            radius: ['12%', '95%'],
            sort: undefined,
            nodeClick: 'rootToNode',
            itemStyle: { borderColor: getComputedStyle(document.documentElement).getPropertyValue('--bg').trim(), borderWidth: 1 },
            label: { color: c.text, minAngle: 8, formatter: (q: { name: string }) => q.name, overflow: 'truncate', width: 90 },
            levels: [{}, { label: { rotate: 'tangential' } }, { label: { rotate: 'radial' } }, { label: { show: false } }],
          },
        ],
      },
      { notMerge: true },
    );
    const tbody = byId('used-body');
    tbody.replaceChildren(
      ...(b?.used ?? []).map((u) =>
        el('tr', {}, el('td', {}, u.name), el('td', { class: 'num' }, bytesText(u.bytes)), el('td', { class: 'num' }, total === null || u.bytes === null ? 'n/a' : percentText(u.bytes / total)), el('td', { class: 'formula' }, u.formula)),
      ),
    );
  }
}
