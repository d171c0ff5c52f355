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

export function addRetentionFlags(command: Command): Command {
  return command
    .option('--max-age <duration>', 'retention: delete stored events older than this (30d, 12h)', durationFlag)
    .option('--max-rows <n>', 'retention: keep only the newest N stored events', integerFlag(1));
}

/** undefined when neither flag was given. */
export function parseRetention(flags: RetentionFlags): Retention | undefined {
  if (flags.maxAge === undefined && flags.maxRows === undefined) return undefined;
  return { ...(flags.maxAge === undefined ? {} : { maxAgeMs: flags.maxAge }), ...(flags.maxRows === undefined ? {} : { maxRows: flags.maxRows }) };
}
