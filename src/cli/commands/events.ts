// `memlens events`: what `memlens trace` stored, filtered, as a table, NDJSON or CSV; the newest N,
// or with --all every matching event, streamed from the store page by page. The flags are here;
// reading and printing are run-events.ts's, loaded when the command runs.
import { InvalidArgumentError, type Command } from 'commander';
import { addRetentionFlags, parseRetention } from '../retention-flags.js';
import { UsageError } from '../../base/errors.js';
import { durationMs, integerFlag, nonEmptyFlag, pidFlag } from '../flag-values.js';
import { MEM_CALLS, type MemCall } from '../../wire/events.js';
import type { OutputFormat } from '../run-events.js';

/** The flags as commander leaves them, numbers already checked (flag-values.ts). */
interface EventsFlags {
  db?: string;
  pid?: number;
  name?: string;
  call?: string;
  /** Epoch milliseconds. */
  since?: number;
  until?: number;
  host?: string;
  limit: number;
  before?: number;
  json?: boolean;
  csv?: boolean;
  all?: boolean;
  prune?: boolean;
  maxAge?: number;
  maxRows?: number;
}

/** The most events one listing returns: the rows are held in memory to be printed oldest first. */
export const MAX_LIMIT = 10_000;

/** ISO-8601 (a date or a date and time) or a duration back from now ("10m", "2h", "90s"), as epoch ms. */
export function parseTimeBound(text: string, nowMs: number = Date.now()): number {
  const ago = durationMs(text);
  if (ago !== undefined && ago <= nowMs) return nowMs - ago;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return t;
  }
  throw new InvalidArgumentError(
    'expected an ISO-8601 time (2026-11-23T10:00:00Z) or a duration back from now (10m, 2h)',
  );
}

const timeBoundFlag = (text: string): number => parseTimeBound(text);

export function defineEvents(program: Command): void {
  const command = program
    .command('events')
    .description('query the events stored by `memlens trace` (the newest N, printed oldest first)')
    .option(
      '--db <url>',
      'database: a file path, sqlite:///path or mysql://user:pass@host:port/db (default: the SQLite file under the data directory)',
      nonEmptyFlag,
    )
    .option('--pid <n>', 'only this process id', pidFlag)
    .option('--name <name>', 'only processes of this name')
    .option('--call <call>', `only this call (${MEM_CALLS.join(', ')})`)
    .option('--since <time>', 'only events at or after: ISO-8601 or a duration back from now (10m, 2h)', timeBoundFlag)
    .option('--until <time>', 'only events before: ISO-8601 or a duration back from now', timeBoundFlag)
    .option('--host <host>', 'only events of this host')
    .option('--limit <n>', `at most this many events (the newest), 1 to ${MAX_LIMIT}`, integerFlag(1, MAX_LIMIT), 50)
    .option('--before <id>', 'only events with a smaller id (the next page back in time)', integerFlag(1))
    .option(
      '--json',
      'NDJSON: one event per line, with the field names of `memlens trace --json` and the id that --before takes',
    )
    .option('--csv', 'CSV (RFC 4180): a header line with the --json field names, then one event per line')
    .option(
      '--all',
      'every matching event, oldest first, read from the store page by page in bounded memory (with --json or --csv)',
    )
    .option('--prune', 'apply the retention limit (--max-age, --max-rows) to the store instead of listing');
  addRetentionFlags(command);
  command.action(async (flags: EventsFlags) => {
    if (flags.prune === true) {
      const retention = parseRetention(flags);
      if (retention === undefined) throw new UsageError('--prune needs --max-age and/or --max-rows');
      const { pruneEvents } = await import('../run-events.js');
      await pruneEvents(flags.db, retention);
      return;
    }
    const call = flags.call;
    if (call !== undefined && !MEM_CALLS.includes(call as MemCall))
      throw new UsageError(`--call ${call}: expected one of ${MEM_CALLS.join(', ')}`);
    if (flags.json === true && flags.csv === true) throw new UsageError('--json and --csv cannot be used together');
    const format: OutputFormat = flags.json === true ? 'json' : flags.csv === true ? 'csv' : 'table';
    if (flags.all === true) {
      if (command.getOptionValueSource('limit') === 'cli')
        throw new UsageError('--all and --limit cannot be used together (--all prints every matching event)');
      // An aligned table needs every row before its first line: --all keeps to formats that stream.
      if (format === 'table')
        throw new UsageError(
          '--all needs --json or --csv (a table is aligned over all its rows, which --all does not hold)',
        );
    }
    const filter = {
      ...(flags.host === undefined ? {} : { host: flags.host }),
      ...(flags.pid === undefined ? {} : { pid: flags.pid }),
      ...(flags.name === undefined ? {} : { name: flags.name }),
      ...(call === undefined ? {} : { call: call as MemCall }),
      ...(flags.since === undefined ? {} : { sinceMs: flags.since }),
      ...(flags.until === undefined ? {} : { untilMs: flags.until }),
      ...(flags.before === undefined ? {} : { beforeId: flags.before }),
    };
    const { listEvents } = await import('../run-events.js');
    await listEvents(flags.db, filter, { format, limit: flags.limit, all: flags.all === true, maxLimit: MAX_LIMIT });
  });
}
