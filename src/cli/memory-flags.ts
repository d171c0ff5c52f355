// The output flags shared by `memlens snapshot` and `memlens process`.
import type { Command } from 'commander';
import { UsageError } from '../base/errors.js';
import { integerFlag } from './flag-values.js';

export const SORT_KEYS = ['pss', 'rss', 'uss', 'swap', 'name'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface MemoryFlags {
  json?: boolean;
  csv?: boolean;
  sort: SortKey;
  limit?: number;
  bytes?: boolean;
  from?: string;
}

export function addMemoryFlags(cmd: Command): Command {
  return cmd
    .option('--json', 'machine output: JSON (schema 1), sizes in bytes')
    .option('--csv', 'machine output: CSV table, sizes in bytes')
    .option('--sort <key>', `sort by ${SORT_KEYS.join('|')}`, 'pss')
    .option('--limit <n>', 'show at most N rows (human output: 20 by default)', integerFlag(0))
    .option('--bytes', 'human output with exact byte counts instead of KiB/MiB/GiB')
    .option('--from <file>', 'read an archive written by `memlens capture` instead of the live /proc');
}

/** Validates the raw commander options. */
export function memoryFlags(raw: Record<string, unknown>): MemoryFlags {
  const sort = typeof raw.sort === 'string' ? raw.sort : 'pss';
  if (!(SORT_KEYS as readonly string[]).includes(sort))
    throw new UsageError(`--sort must be one of ${SORT_KEYS.join(', ')} (got ${JSON.stringify(sort)})`);
  // --limit arrives checked by its argParser (flag-values.ts).
  const limit = typeof raw.limit === 'number' ? raw.limit : undefined;
  if (raw.json === true && raw.csv === true) throw new UsageError('--json and --csv cannot be combined');
  const out: MemoryFlags = { sort: sort as SortKey };
  if (raw.json === true) out.json = true;
  if (raw.csv === true) out.csv = true;
  if (raw.bytes === true) out.bytes = true;
  if (limit !== undefined) out.limit = limit;
  if (typeof raw.from === 'string') out.from = raw.from;
  return out;
}

/** The figures a --sort key can name, of a process, a group of processes or a group of mappings. */
export interface SortFigures {
  pssBytes: number | null;
  rssBytes: number | null;
  ussBytes: number | null;
  swapBytes: number | null;
}

/** The figure `key` sorts by; null for 'name', which sorts by name instead. */
export function sortFigure(row: SortFigures, key: SortKey): number | null {
  switch (key) {
    case 'pss':
      return row.pssBytes;
    case 'rss':
      return row.rssBytes;
    case 'uss':
      return row.ussBytes;
    case 'swap':
      return row.swapBytes;
    case 'name':
      return null;
  }
}

/** Compares two sizes for a descending sort with unknown (null) last. */
export function bySizeDesc(a: number | null, b: number | null): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return b - a;
}
