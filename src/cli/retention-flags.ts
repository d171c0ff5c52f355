// The retention limit of the event store, as flags: --max-age (a duration such as 30d) and
// --max-rows (keep the newest N events). Used by `memlens events --prune` and `memlens serve`.
import type { Command } from 'commander';
import { durationFlag, integerFlag } from './flag-values.js';

/** As the argParsers leave them: milliseconds and a count. */
export interface RetentionFlags {
  maxAge?: number;
  maxRows?: number;
}

export interface Retention {
  maxAgeMs?: number;
  maxRows?: number;
}

/** As the argParsers leave them: milliseconds. */
export interface HistoryRetentionFlags {
  historyRaw?: number;
  historyMinutes?: number;
  historyHours?: number;
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
    .option(
      '--history-raw <duration>',
      `history: keep every /proc sample of the memory categories this long (default ${HISTORY_RETENTION_DEFAULTS.raw})`,
      durationFlag,
    )
    .option(
      '--history-minutes <duration>',
      `history: keep the per-minute buckets (categories and processes) this long (default ${HISTORY_RETENTION_DEFAULTS.minutes})`,
      durationFlag,
    )
    .option(
      '--history-hours <duration>',
      `history: keep the per-hour buckets this long (default ${HISTORY_RETENTION_DEFAULTS.hours})`,
      durationFlag,
    );
}

export function parseHistoryRetention(flags: HistoryRetentionFlags): HistoryRetentionMs {
  return {
    rawMs: flags.historyRaw ?? durationFlag(HISTORY_RETENTION_DEFAULTS.raw),
    minuteMs: flags.historyMinutes ?? durationFlag(HISTORY_RETENTION_DEFAULTS.minutes),
    hourMs: flags.historyHours ?? durationFlag(HISTORY_RETENTION_DEFAULTS.hours),
  };
}

export function addRetentionFlags(command: Command): Command {
  return command
    .option('--max-age <duration>', 'retention: delete stored events older than this (30d, 12h)', durationFlag)
    .option('--max-rows <n>', 'retention: keep only the newest N stored events', integerFlag(1));
}

/** undefined when neither flag was given. */
export function parseRetention(flags: RetentionFlags): Retention | undefined {
  if (flags.maxAge === undefined && flags.maxRows === undefined) return undefined;
  return {
    ...(flags.maxAge === undefined ? {} : { maxAgeMs: flags.maxAge }),
    ...(flags.maxRows === undefined ? {} : { maxRows: flags.maxRows }),
  };
}
