// The building blocks of every text rendering: colour only on a terminal and never with NO_COLOR
// (https://no-color.org), JSON with bigint support, aligned text tables, sizes and CSV fields.
import { formatBytes } from '../base/units.js';

export function useColour(stream: NodeJS.WriteStream = process.stdout): boolean {
  const noColor = process.env.NO_COLOR;
  if (noColor !== undefined && noColor !== '') return false;
  return stream.isTTY;
}

export interface Palette {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  cyan(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const identity = (s: string): string => s;

export function palette(enabled: boolean = useColour()): Palette {
  if (!enabled)
    return { bold: identity, dim: identity, red: identity, yellow: identity, green: identity, cyan: identity };
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    green: wrap(32, 39),
    cyan: wrap(36, 39),
  };
}

/** JSON.stringify that writes bigints as decimal numbers when safe, strings otherwise. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === 'bigint')
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
      return v;
    },
    indent,
  );
}

export type Align = 'left' | 'right';

/** Formats rows as aligned columns; the header row is the first. */
export function table(rows: string[][], align: Align[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          const pad = ' '.repeat((widths[i] ?? 0) - visibleLength(cell));
          return (align[i] ?? 'left') === 'right' ? pad + cell : cell + pad;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
/** Display width in code points, colour codes left out (memlens's own characters are all single-width). */
function visibleLength(s: string): number {
  let n = 0;
  for (const _ of s.replace(ANSI, '')) n++;
  return n;
}

/** Human size: binary units, or exact bytes with --bytes; null is "n/a". */
export function sizeText(b: number | null, exactBytes: boolean | undefined): string {
  if (b === null) return 'n/a';
  return exactBytes ? String(b) : formatBytes(b);
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(fields: (string | number | null)[]): string {
  return fields.map(csvField).join(',');
}
