// The text `memlens dirty` prints: the tables of pages by mapping, the ranges, the note on
// transparent huge pages and the line of each watch round. Each function returns the lines; the
// command writes them.
import { formatBytes, type Address } from '../base/units.js';
import { printable } from '../base/terminal-text.js';
import type { TouchedSnapshot } from '../analyses/dirty/accessed.js';
import type { DirtySnapshot } from '../analyses/dirty/snapshot.js';
import type { Round } from '../analyses/dirty/watch.js';
import { DIRTY_MEANING, hexAddress, type DirtyJsonBase } from '../wire/dirty.js';
import { sparkline } from './sparkline.js';
import { table, type Palette } from './text.js';

export const WRITTEN = DIRTY_MEANING['soft-dirty'];
export const TOUCHED = DIRTY_MEANING.accessed;
/** Human output lists at most this many ranges; --json has them all. */
const MAX_PRINTED_RANGES = 40;

export const fmtInt = (n: number): string => n.toLocaleString('en-US');
const hex = (a: Address): string => hexAddress(a);

export interface AreaRow {
  mapping: string;
  pages: number;
  extra: string;
}

/** The areas of a soft-dirty snapshot with pages written or newly mapped, as table rows. */
export function writtenAreaRows(snap: DirtySnapshot): AreaRow[] {
  return snap.areas
    .filter((a) => a.writtenPages > 0 || a.newMappingPages > 0)
    .map((a) => ({
      mapping: a.mapping,
      pages: a.writtenPages,
      extra: a.newMappingPages > 0 ? `${fmtInt(a.newMappingPages)} new mapping` : '',
    }));
}

/** The pages a referenced-bits reading found touched, by mapping (areaTableLines). */
export function touchedAreaLines(snap: TouchedSnapshot, pageSize: number): string[] {
  return areaTableLines(
    snap.areas.map((a) => ({ mapping: a.mapping, pages: a.pages, extra: '' })),
    pageSize,
    TOUCHED,
  );
}

/** One line per mapping name (areas of the same file or kind are summed), largest first. */
export function areaTableLines(rows: readonly AreaRow[], pageSize: number, what: string): string[] {
  const byName = new Map<string, { pages: number; extra: string[] }>();
  for (const r of rows) {
    const e = byName.get(r.mapping) ?? { pages: 0, extra: [] };
    e.pages += r.pages;
    if (r.extra) e.extra.push(r.extra);
    byName.set(r.mapping, e);
  }
  const sorted = [...byName.entries()].sort((a, b) => b[1].pages - a[1].pages);
  if (sorted.length === 0) return [];
  return [
    '',
    table(
      [
        ['mapping', what, 'bytes', ''],
        ...sorted.map(([m, e]) => [printable(m), fmtInt(e.pages), formatBytes(e.pages * pageSize), e.extra.join(', ')]),
      ],
      ['left', 'right', 'right', 'left'],
    ),
  ];
}

/** The areas of a snapshot, then its ranges (at most MAX_PRINTED_RANGES of them). */
export function snapshotLines(snap: DirtySnapshot, pageSize: number): string[] {
  const lines = areaTableLines(writtenAreaRows(snap), pageSize, WRITTEN);
  if (snap.ranges.length === 0) return lines;
  lines.push('');
  const shown = snap.ranges.slice(0, MAX_PRINTED_RANGES);
  lines.push(
    table(
      [
        ['start', 'end', 'pages', 'mapping'],
        ...shown.map((r) => [hex(r.start), hex(r.end), fmtInt(r.pages), printable(r.mapping)]),
      ],
      ['left', 'left', 'right', 'left'],
    ),
  );
  if (snap.ranges.length > shown.length)
    lines.push(`… ${fmtInt(snap.ranges.length - shown.length)} more ranges (--json lists them all)`);
  return lines;
}

export function hugeAreaLines(areas: DirtyJsonBase['hugePageAreas']): string[] {
  if (areas.length === 0) return [];
  const total = areas.reduce((s, a) => s + a.anonHugeBytes, 0);
  return [
    '',
    `note: ${formatBytes(total)} in ${areas.length} areas is in transparent huge pages: one write there marks a whole 2 MiB page.`,
  ];
}

/** The line of one watch round; series holds the counts so far, this round's last. */
export function roundLine(r: Round, series: readonly number[], what: string, pageSize: number, c: Palette): string {
  const change =
    r.round === 1 ? '' : `${r.pages >= (series[series.length - 2] ?? 0) ? '+' : '-'}${(r.change * 100).toFixed(1)} %`;
  const extra = r.newMappingPages > 0 ? c.dim(`  + ${fmtInt(r.newMappingPages)} new mapping`) : '';
  return `round ${String(r.round).padStart(3)}  ${fmtInt(r.pages).padStart(10)} ${what}  ${formatBytes(r.pages * pageSize).padStart(10)}  ${change.padStart(8)}  ${sparkline(series)}${extra}`;
}
