// The work of `memlens events` (commands/events.ts holds its flags): reading the store and
// printing. A module of its own so that the build can bundle it with the store and Kysely inside
// (scripts/build.mjs): a command run by hand to look at a few calls should not load Kysely's some
// 470 modules one by one, which took about 100 ms of its start.
import { once } from 'node:events';
import { formatBytes } from '../base/units.js';
import { printable } from '../base/terminal-text.js';
import { openStore, type EventStore, type StoredEvent } from '../store/index.js';
import { storedEventToJson, type StoredEventJson } from '../wire/events.js';
import { protText } from '../wire/events-text.js';
import { csvField, palette, table } from '../render/text.js';

export type OutputFormat = 'table' | 'json' | 'csv';
export type EventsFilter = Parameters<EventStore['streamEvents']>[0];

export interface ListOptions {
  format: OutputFormat;
  /** The newest this many, unless `all`. */
  limit: number;
  /** Every matching event, page by page (json or csv only: the command checked). */
  all: boolean;
  /** The largest --limit the command takes, named in the line that says a listing is cut. */
  maxLimit: number;
}

/** The newest `limit` matching events oldest first, or with `all` every one, from the store at `db`. */
export async function listEvents(db: string | undefined, filter: EventsFilter, o: ListOptions): Promise<void> {
  // A read: a store that is not there is an error, never a new empty one.
  const store = await openStore(db, { mustExist: true, notice: sayOnStderr });
  try {
    if (o.all && o.format !== 'table') await printAll(store, filter, o.format);
    else {
      // One row more than asked says whether the listing is cut, without counting every match.
      const events = await store.queryEvents({ ...filter, limit: o.limit + 1 });
      const cut = events.length > o.limit;
      if (cut) events.length = o.limit;
      await printEvents(events.reverse(), o.format);
      if (cut) {
        const more = o.limit < o.maxLimit ? `--limit up to ${o.maxLimit}, ` : '';
        process.stderr.write(
          `memlens: showing the newest ${o.limit} matching events; more match (${more}--before ${events[0]?.id ?? ''} for the page before, or --all --json/--csv for every one)\n`,
        );
      }
    }
  } finally {
    await store.close();
  }
}

/** `memlens events --prune`: one pass of retention, e.g. from cron. */
export async function pruneEvents(
  db: string | undefined,
  retention: { maxAgeMs?: number; maxRows?: number },
): Promise<void> {
  const store = await openStore(db, { mustExist: true, notice: sayOnStderr });
  try {
    const r = await store.applyRetention(retention);
    process.stdout.write(
      `pruned ${r.deletedEvents} events, ${r.deletedProcesses} process records, ${r.deletedBatches} batch ids\n`,
    );
  } finally {
    await store.close();
  }
}

/** What the store says while it opens (a long migration), as memlens's other notes. */
const sayOnStderr = (line: string): void => void process.stderr.write(`memlens: ${line}\n`);

/** Writes to stdout and waits while the pipe is full, so that a slow reader bounds memory instead of a growing buffer. */
async function emit(text: string): Promise<void> {
  if (text === '' || process.stdout.write(text)) return;
  await once(process.stdout, 'drain');
}

/** `--all`: every matching event, page by page; memory holds one page whatever the store holds. */
async function printAll(store: EventStore, filter: EventsFilter, format: 'json' | 'csv'): Promise<void> {
  if (format === 'csv') await emit(csvHeader());
  let n = 0;
  for await (const page of store.streamEvents(filter)) {
    n += page.length;
    await emit(format === 'json' ? jsonLines(page) : csvLines(page));
  }
  if (n === 0) process.stderr.write('no stored events match\n');
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
