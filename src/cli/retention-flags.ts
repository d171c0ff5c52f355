// The retention limit of the event store, as flags: --max-age (a duration such as 30d) and
// --max-rows (keep the newest N events). Used by `memlens events --prune` and `memlens serve`.
import type { Command } from 'commander';
import { UsageError } from '../base/errors.js';
import { parseDurationMs } from '../base/units.js';

export interface RetentionFlags {
  maxAge?: string;
  maxRows?: string;
}

export interface Retention {
  maxAgeMs?: number;
  maxRows?: number;
}

export interface HistoryRetentionFlags {
  historyRaw?: string;
  historyMinutes?: string;
  historyHours?: string;
}

/** How long `memlens serve` keeps each tier of its /proc history (src/store/history.ts). */
export interface HistoryRetentionMs {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}

export const HISTORY_RETENTION_DEFAULTS = { raw: '1d', minutes: '30d', hours: '400d' } as const;

export function addHistoryRetentionFlags(command: Command): Command {
  return command
    .option('--history-raw <duration>', `history: keep every /proc sample of the memory categories this long (default ${HISTORY_RETENTION_DEFAULTS.raw})`)
    .option('--history-minutes <duration>', `history: keep the per-minute buckets (categories and processes) this long (default ${HISTORY_RETENTION_DEFAULTS.minutes})`)
    .option('--history-hours <duration>', `history: keep the per-hour buckets this long (default ${HISTORY_RETENTION_DEFAULTS.hours})`);
}

export function parseHistoryRetention(flags: HistoryRetentionFlags): HistoryRetentionMs {
  const one = (name: string, value: string): number => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms <= 0) throw new UsageError(`--history-${name} ${value}: expected a duration such as 30d, 12h or 90m`);
    return ms;
  };
  return {
    rawMs: one('raw', flags.historyRaw ?? HISTORY_RETENTION_DEFAULTS.raw),
    minuteMs: one('minutes', flags.historyMinutes ?? HISTORY_RETENTION_DEFAULTS.minutes),
    hourMs: one('hours', flags.historyHours ?? HISTORY_RETENTION_DEFAULTS.hours),
  };
}

export function addRetentionFlags(command: Command): Command {
  return command
    .option('--max-age <duration>', 'retention: delete stored events older than this (30d, 12h)')
    .option('--max-rows <n>', 'retention: keep only the newest N stored events');
}

/** undefined when neither flag was given. */
export function parseRetention(flags: RetentionFlags): Retention | undefined {
  const out: Retention = {};
  if (flags.maxAge !== undefined) {
    const ms = parseDurationMs(flags.maxAge);
    if (ms === undefined || ms <= 0) throw new UsageError(`--max-age ${flags.maxAge}: expected a duration such as 30d, 12h or 90m`);
    out.maxAgeMs = ms;
  }
  if (flags.maxRows !== undefined) {
    const n = Number(flags.maxRows);
    if (!/^\d+$/.test(flags.maxRows) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--max-rows ${flags.maxRows}: expected a whole number of at least 1`);
    out.maxRows = n;
  }
  return out.maxAgeMs === undefined && out.maxRows === undefined ? undefined : out;
}
