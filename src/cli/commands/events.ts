// `memlens events`: what `memlens trace` stored, filtered, as a table, NDJSON or CSV; the newest N,
// or with --all every matching event, streamed from the store page by page.
import { once } from 'node:events';
import { InvalidArgumentError, type Command } from 'commander';
import { addRetentionFlags, parseRetention } from '../retention-flags.js';
import { UsageError } from '../../base/errors.js';
import { formatBytes } from '../../base/units.js';
import { durationMs, integerFlag, nonEmptyFlag, pidFlag } from '../flag-values.js';
import type { EventStore, StoredEvent } from '../../store/index.js';
import { MEM_CALLS, storedEventToJson, type MemCall, type StoredEventJson } from '../../wire/events.js';
import { protText } from '../../wire/events-text.js';
import { printable } from '../../base/terminal-text.js';
import { palette, table } from '../../render/text.js';

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
      await prune(flags);
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
    const { openStore } = await import('../../store/index.js');
    // A read: a store that is not there is an error, never a new empty one.
    const store = await openStore(flags.db, { mustExist: true, notice: sayOnStderr });
    try {
      if (flags.all === true && format !== 'table') await printAll(store, filter, format);
      else {
        // One row more than asked says whether the listing is cut, without counting every match.
        const events = await store.queryEvents({ ...filter, limit: flags.limit + 1 });
        const cut = events.length > flags.limit;
        if (cut) events.length = flags.limit;
        await printEvents(events.reverse(), format);
        if (cut) {
          const more = flags.limit < MAX_LIMIT ? `--limit up to ${MAX_LIMIT}, ` : '';
          process.stderr.write(
            `memlens: showing the newest ${flags.limit} matching events; more match (${more}--before ${events[0]?.id ?? ''} for the page before, or --all --json/--csv for every one)\n`,
          );
        }
      }
    } finally {
      await store.close();
    }
  });
}

export type OutputFormat = 'table' | 'json' | 'csv';

/** What the store says while it opens (a long migration), as memlens's other notes. */
const sayOnStderr = (line: string): void => void process.stderr.write(`memlens: ${line}\n`);

/** Writes to stdout and waits while the pipe is full, so that a slow reader bounds memory instead of a growing buffer. */
async function emit(text: string): Promise<void> {
  if (text === '' || process.stdout.write(text)) return;
  await once(process.stdout, 'drain');
}

/** `--all`: every matching event, page by page; memory holds one page whatever the store holds. */
async function printAll(
  store: EventStore,
  filter: Parameters<EventStore['streamEvents']>[0],
  format: 'json' | 'csv',
): Promise<void> {
  if (format === 'csv') await emit(csvHeader());
  let n = 0;
  for await (const page of store.streamEvents(filter)) {
    n += page.length;
    await emit(format === 'json' ? jsonLines(page) : csvLines(page));
  }
  if (n === 0) process.stderr.write('no stored events match\n');
}

/** `memlens events --prune`: one pass of retention, e.g. from cron. */
async function prune(flags: EventsFlags): Promise<void> {
  const retention = parseRetention(flags);
  if (retention === undefined) throw new UsageError('--prune needs --max-age and/or --max-rows');
  const { openStore } = await import('../../store/index.js');
  const store = await openStore(flags.db, { mustExist: true, notice: sayOnStderr });
  try {
    const r = await store.applyRetention(retention);
    process.stdout.write(
      `pruned ${r.deletedEvents} events, ${r.deletedProcesses} process records, ${r.deletedBatches} batch ids\n`,
    );
  } finally {
    await store.close();
  }
}

const jsonLines = (events: readonly StoredEvent[]): string =>
  events.map((e) => `${JSON.stringify(storedEventToJson(e))}\n`).join('');

/** The CSV columns: the --json fields, in their order. */
const CSV_FIELDS = [
  'time',
  'ktime',
  'host',
  'pid',
  'tid',
  'name',
  'thread',
  'call',
  'addr',
  'length',
  'prot',
  'flags',
  'fd',
  'result',
  'error',
  'new_length',
  'new_addr',
  'id',
] as const satisfies readonly (keyof StoredEventJson)[];

/**
 * One CSV field (RFC 4180, section 2): quoted when it holds a comma, a double quote, CR or LF, with
 * each double quote doubled; null is the empty field. Names are written as they are (a process
 * chooses its own name; quoting keeps any name in its field, and a reader gets it back exactly).
 */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 ends each record with CRLF (a bare LF inside a quoted name stays as it is). */
const csvHeader = (): string => `${CSV_FIELDS.join(',')}\r\n`;

const csvLines = (events: readonly StoredEvent[]): string =>
  events
    .map((e) => {
      const j = storedEventToJson(e);
      return `${CSV_FIELDS.map((f) => csvField(j[f])).join(',')}\r\n`;
    })
    .join('');

/** NDJSON in the wire form (wire/events.ts), CSV with the same fields, or an aligned table. */
export async function printEvents(events: readonly StoredEvent[], format: OutputFormat): Promise<void> {
  if (format === 'json') return emit(jsonLines(events));
  if (format === 'csv') return emit(csvHeader() + csvLines(events));
  if (events.length === 0) {
    process.stderr.write('no stored events match\n');
    return;
  }
  const p = palette();
  const manyHosts = new Set(events.map((e) => e.host)).size > 1;
  const header = [
    'ID',
    'TIME (UTC)',
    ...(manyHosts ? ['HOST'] : []),
    'PID',
    'TID',
    'NAME',
    'THREAD',
    'CALL',
    'ADDR',
    'LENGTH',
    'PROT',
    'RESULT',
  ];
  const rows = events.map((e) => {
    const result =
      e.error !== null
        ? p.red(`${e.result} ${e.error}`)
        : e.call === 'munmap' || e.call === 'mprotect'
          ? '0'
          : `0x${e.result.toString(16)}`;
    const length =
      e.call === 'brk'
        ? ''
        : e.call === 'mremap' && e.newLengthBytes !== null
          ? `${formatBytes(Number(e.lengthBytes))} → ${formatBytes(Number(e.newLengthBytes))}`
          : formatBytes(Number(e.lengthBytes));
    return [
      String(e.id),
      new Date(e.timeMs).toISOString().replace('T', ' ').replace('Z', ''),
      ...(manyHosts ? [printable(e.host)] : []),
      String(e.pid),
      String(e.tid),
      printable(e.name),
      printable(e.thread),
      e.call,
      `0x${e.addr.toString(16)}`,
      length,
      protText(e.prot),
      result,
    ];
  });
  const align: ('left' | 'right')[] = header.map((h) =>
    ['ID', 'PID', 'TID', 'LENGTH'].includes(h) ? 'right' : 'left',
  );
  process.stdout.write(`${table([header.map((h) => p.bold(h)), ...rows], align)}\n`);
}
