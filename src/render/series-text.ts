// The human rendering of `memlens snapshot --from SERIES`: the change between the first and the
// last snapshot of a series.
import { printable } from '../base/terminal-text.js';
import type { ProcessAtEndJson, SeriesDiffJson, SizeChangeJson } from '../wire/series.js';
import { sizeText, table, type Palette } from './text.js';

/** A signed size: "+1.50 MiB", "-12.0 KiB", "0 B"; n/a for null. */
export function changeText(b: number | null, exact: boolean | undefined): string {
  if (b === null) return 'n/a';
  const text = sizeText(Math.abs(b), exact);
  return b > 0 ? `+${text}` : b < 0 ? `-${text}` : text;
}

/** "1h 2m 3s", "4m 5s", "6.5s". */
export function spanText(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  const whole = Math.round(s);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const sec = whole % 60;
  return h > 0 ? `${h}h ${m}m ${sec}s` : `${m}m ${sec}s`;
}

function ends(c: SizeChangeJson, exact: boolean | undefined): string[] {
  return [sizeText(c.firstBytes, exact), sizeText(c.lastBytes, exact), changeText(c.changeBytes, exact)];
}

function atEndRows(ps: readonly ProcessAtEndJson[], exact: boolean | undefined): string {
  return table(
    [
      ['PID', 'NAME', 'PSS', 'RSS', 'SWAP'],
      ...ps.map((p) => [
        String(p.pid),
        printable(p.name),
        sizeText(p.pssBytes, exact),
        sizeText(p.rssBytes, exact),
        sizeText(p.swapBytes, exact),
      ]),
    ],
    ['right', 'left', 'right', 'right', 'right'],
  );
}

export function renderSeriesDiff(
  d: SeriesDiffJson,
  view: { limit: number | undefined; sort: string },
  exact: boolean | undefined,
  c: Palette,
): string {
  const cut = <T>(xs: readonly T[]): readonly T[] => (view.limit === undefined ? xs : xs.slice(0, view.limit));
  const more = (shown: number, all: number): string[] =>
    shown < all ? [c.dim(`(${all - shown} more; --limit N shows more)`)] : [];
  const out: string[] = [];
  out.push(
    c.bold(
      `memlens series ${printable(d.source)} of ${printable(d.host)}: ${d.snapshots} snapshots over ${spanText(d.spanMs)}, ` +
        `${new Date(d.first.timeMs).toISOString()} to ${new Date(d.last.timeMs).toISOString()}`,
    ),
  );
  if (d.truncated > 0)
    out.push(c.yellow(`note: the archive ends inside a snapshot (the capture was cut short): ${d.truncated} skipped`));
  out.push('');
  out.push(c.bold('The ledger, first → last snapshot'));
  out.push(
    table(
      [
        ['', 'first', 'last', 'change'],
        ...d.ledger.map((l) => [printable(l.label), ...ends(l, exact)]),
        [c.bold('MemAvailable'), ...ends(d.memAvailableBytes, exact)],
      ],
      ['left', 'right', 'right', 'right'],
    ),
  );
  out.push('');
  const sortName = view.sort === 'name' ? 'by name' : `by change of ${view.sort.toUpperCase()}, largest growth first`;
  out.push(c.bold(`Processes in both snapshots (same pid and start time), ${sortName}`));
  const shown = cut(d.processes);
  out.push(
    table(
      [
        ['PID', 'NAME', 'PSS first', 'PSS last', 'PSS change', 'RSS change', 'SWAP change'],
        ...shown.map((p) => [
          String(p.pid),
          printable(p.name),
          sizeText(p.pss.firstBytes, exact),
          sizeText(p.pss.lastBytes, exact),
          changeText(p.pss.changeBytes, exact),
          changeText(p.rss.changeBytes, exact),
          changeText(p.swap.changeBytes, exact),
        ]),
      ],
      ['right', 'left', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  out.push(...more(shown.length, d.processes.length));
  for (const [title, list] of [
    ['Started during the series (in the last snapshot only)', d.started],
    ['Exited during the series (in the first snapshot only)', d.exited],
  ] as const) {
    out.push('');
    out.push(c.bold(`${title}: ${list.length}`));
    if (list.length === 0) continue;
    const part = cut(list);
    out.push(atEndRows(part, exact));
    out.push(...more(part.length, list.length));
  }
  return `${out.join('\n')}\n`;
}
