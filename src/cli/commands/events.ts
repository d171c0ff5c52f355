// `memlens events`: what `memlens trace` stored, filtered, as a table or NDJSON.
import { InvalidArgumentError, type Command } from 'commander';
import { addRetentionFlags, parseRetention } from '../retention-flags.js';
import { UsageError } from '../../base/errors.js';
import { formatBytes } from '../../base/units.js';
import { durationMs, integerFlag, nonEmptyFlag, pidFlag } from '../flag-values.js';
import type { StoredEvent } from '../../store/index.js';
import { MEM_CALLS, storedEventToJson, type MemCall } from '../../wire/events.js';
import { printable } from '../../base/terminal-text.js';
import { palette, table } from '../output.js';

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
  throw new InvalidArgumentError('expected an ISO-8601 time (2026-11-23T10:00:00Z) or a duration back from now (10m, 2h)');
}

const timeBoundFlag = (text: string): number => parseTimeBound(text);

export function defineEvents(program: Command): void {
  const command = program
    .command('events')
    .description('query the events stored by `memlens trace` (the newest N, printed oldest first)')
    .option('--db <url>', 'database: a file path, sqlite:///path or mysql://user:pass@host:port/db (default: the SQLite file under the data directory)', nonEmptyFlag)
    .option('--pid <n>', 'only this process id', pidFlag)
    .option('--name <name>', 'only processes of this name')
    .option('--call <call>', `only this call (${MEM_CALLS.join(', ')})`)
    .option('--since <time>', 'only events at or after: ISO-8601 or a duration back from now (10m, 2h)', timeBoundFlag)
    .option('--until <time>', 'only events before: ISO-8601 or a duration back from now', timeBoundFlag)
    .option('--host <host>', 'only events of this host')
    .option('--limit <n>', `at most this many events (the newest), 1 to ${MAX_LIMIT}`, integerFlag(1, MAX_LIMIT), 50)
    .option('--before <id>', 'only events with a smaller id (the next page back in time)', integerFlag(1))
    .option('--json', 'NDJSON: one event per line, with the field names of `memlens trace --json` and the id that --before takes')
    .option('--prune', 'apply the retention limit (--max-age, --max-rows) to the store instead of listing');
  addRetentionFlags(command);
  command.action(async (flags: EventsFlags) => {
      if (flags.prune === true) {
        await prune(flags);
        return;
      }
      const call = flags.call;
      if (call !== undefined && !MEM_CALLS.includes(call as MemCall)) throw new UsageError(`--call ${call}: expected one of ${MEM_CALLS.join(', ')}`);
      const query = {
        ...(flags.host === undefined ? {} : { host: flags.host }),
        ...(flags.pid === undefined ? {} : { pid: flags.pid }),
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(call === undefined ? {} : { call: call as MemCall }),
        ...(flags.since === undefined ? {} : { sinceMs: flags.since }),
        ...(flags.until === undefined ? {} : { untilMs: flags.until }),
        ...(flags.before === undefined ? {} : { beforeId: flags.before }),
        limit: flags.limit,
      };
      const { openStore } = await import('../../store/index.js');
      // A read: a store that is not there is an error, never a new empty one.
      const store = await openStore(flags.db, { mustExist: true });
      try {
        const events = await store.queryEvents(query);
        printEvents(events.reverse(), flags.json === true);
      } finally {
        await store.close();
      }
    });
}

/** `memlens events --prune`: one pass of retention, e.g. from cron. */
async function prune(flags: EventsFlags): Promise<void> {
  const retention = parseRetention(flags);
  if (retention === undefined) throw new UsageError('--prune needs --max-age and/or --max-rows');
  const { openStore } = await import('../../store/index.js');
  const store = await openStore(flags.db, { mustExist: true });
  try {
    const r = await store.applyRetention(retention);
    process.stdout.write(`pruned ${r.deletedEvents} events, ${r.deletedProcesses} process records, ${r.deletedBatches} batch ids\n`);
  } finally {
    await store.close();
  }
}

/** PROT_READ, PROT_WRITE, PROT_EXEC as r, w, x (include/uapi/asm-generic/mman-common.h); "---" is PROT_NONE. */
function protText(p: number): string {
  return ['r', 'w', 'x'].map((c, i) => ((p & (1 << i)) !== 0 ? c : '-')).join('');
}

/** NDJSON in the wire form (wire/events.ts), or an aligned table. */
export function printEvents(events: readonly StoredEvent[], json: boolean): void {
  if (json) {
    process.stdout.write(events.map((e) => `${JSON.stringify(storedEventToJson(e))}\n`).join(''));
    return;
  }
  if (events.length === 0) {
    process.stderr.write('no stored events match\n');
    return;
  }
  const p = palette();
  const manyHosts = new Set(events.map((e) => e.host)).size > 1;
  const header = ['ID', 'TIME (UTC)', ...(manyHosts ? ['HOST'] : []), 'PID', 'TID', 'NAME', 'THREAD', 'CALL', 'ADDR', 'LENGTH', 'PROT', 'RESULT'];
  const rows = events.map((e) => {
    const result = e.error !== null ? p.red(`${e.result} ${e.error}`) : e.call === 'munmap' || e.call === 'mprotect' ? '0' : `0x${e.result.toString(16)}`;
    const length = e.call === 'brk' ? '' : e.call === 'mremap' && e.newLengthBytes !== null ? `${formatBytes(Number(e.lengthBytes))} → ${formatBytes(Number(e.newLengthBytes))}` : formatBytes(Number(e.lengthBytes));
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
      e.prot === null ? '' : protText(e.prot),
      result,
    ];
  });
  const align: ('left' | 'right')[] = header.map((h) => (['ID', 'PID', 'TID', 'LENGTH'].includes(h) ? 'right' : 'left'));
  process.stdout.write(`${table([header.map((h) => p.bold(h)), ...rows], align)}\n`);
}
