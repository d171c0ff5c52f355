// Events → event_packs rows (schema.ts, migration 0006; event-store.ts reads them back): the calls
// of one id block, grouped by process (host, pid, name), each group one row whose body is an event
// pack (event-pack-codec.ts) and whose columns are what queries select packs by.
import { MEM_CALLS, type MemCall, type MemEvent } from '../wire/events.js';
import { EventRecords, type ByteArena } from './event-batch-codec.js';
import { packRecords } from './event-pack-codec.js';
import { clip, NAME_WIDTH } from './rows.js';

/**
 * Ids are given in blocks of at most this many: a batch takes one block per ID_BLOCK events, and
 * every pack lies within one block. So a pack's ids span less than ID_BLOCK, and the packs that may
 * hold an id below a cursor C are those with first_id < C and last_id < C + ID_BLOCK, a range of
 * the index on last_id. Also bounds a pack's body (about 110 bytes a call: at most 1.8 MB).
 */
export const ID_BLOCK = 16_384;

const ERROR_WIDTH = 32;

export interface PackRow {
  last_id: number;
  first_id: number;
  base_id: number;
  host: string;
  pid: number;
  name: string;
  event_count: number;
  calls: number;
  min_time_ms: number;
  max_time_ms: number;
  body: Buffer;
}

/** The bit of a call in event_packs.calls. */
export const callBit = (call: MemCall): number => 1 << MEM_CALLS.indexOf(call);

interface Group {
  /** Indexes of the group's records in the batch, increasing. */
  list: number[];
  ids: number[];
  calls: number;
  minMs: number;
  maxMs: number;
  host: string;
  pid: number;
  name: string;
}

/**
 * The packs of one id block: `events[i]` has id `idOf(i)`, increasing, all within
 * [baseId, baseId + ID_BLOCK). Packs come out in the order of their last ids.
 */
export function packBlock(events: readonly MemEvent[], idOf: (i: number) => number, baseId: number): PackRow[] {
  return packBatch(
    EventRecords.of(events),
    0,
    events.length,
    events.map((_, i) => idOf(i)),
    baseId,
  );
}

/**
 * The packs of records [from, to) of a batch, one id block: record i has id `ids[i]`, or
 * `ids + i - from` when `ids` is a number (a batch's ids are consecutive), increasing, all within
 * [baseId, baseId + ID_BLOCK). Read from the batch's bytes and written as bytes, with no
 * object per call (bench/README.md, issue 13 §2). Strings are cut to their column widths, as the
 * events table's columns did, so that a hostile or overlong name can never make a batch fail; the
 * group of a call is its process as stored (host and name cut). Packs come out in the order of
 * their last ids. The bodies come from `arena` when given (valid until its next reset).
 */
export function packBatch(
  r: EventRecords,
  from: number,
  to: number,
  ids: number | readonly number[],
  baseId: number,
  arena?: ByteArena,
): PackRow[] {
  const cut = r.strings.map((s) => clip(s, NAME_WIDTH));
  const stored = { names: cut, errors: r.strings.map((s) => clip(s, ERROR_WIDTH)) };
  const idList = typeof ids === 'number' ? undefined : ids;
  const idStart = typeof ids === 'number' ? ids - from : 0;
  const groups = new Map<string, Group>();
  // Calls come in runs of one process: the previous call's group is reused while it matches.
  let last: Group | undefined;
  let lastHost = -1;
  let lastPid = -1;
  let lastName = -1;
  for (let i = from; i < to; i++) {
    const host = r.host(i);
    const pid = r.pid(i);
    const name = r.name(i);
    let g: Group;
    if (last !== undefined && pid === lastPid && host === lastHost && name === lastName) g = last;
    else {
      const h = cut[host] ?? '';
      const n = cut[name] ?? '';
      const key = `${h}\u0000${pid}\u0000${n}`;
      let found = groups.get(key);
      if (found === undefined) {
        found = { list: [], ids: [], calls: 0, minMs: Infinity, maxMs: -Infinity, host: h, pid, name: n };
        groups.set(key, found);
      }
      g = found;
      last = g;
      lastHost = host;
      lastPid = pid;
      lastName = name;
    }
    const ms = Math.trunc(r.timeMs(i));
    g.list.push(i);
    g.ids.push(idList === undefined ? idStart + i : (idList[i] ?? 0));
    g.calls |= 1 << r.call(i);
    if (ms < g.minMs) g.minMs = ms;
    if (ms > g.maxMs) g.maxMs = ms;
  }
  const rows: PackRow[] = [];
  for (const g of groups.values()) {
    const first = g.ids[0];
    const lastId = g.ids[g.ids.length - 1];
    if (first === undefined || lastId === undefined) continue;
    rows.push({
      last_id: lastId,
      first_id: first,
      base_id: baseId,
      host: g.host,
      pid: g.pid,
      name: g.name,
      event_count: g.list.length,
      calls: g.calls,
      min_time_ms: g.minMs,
      max_time_ms: g.maxMs,
      body: packRecords(r, g.list, g.ids, stored, arena),
    });
  }
  rows.sort((a, b) => a.last_id - b.last_id);
  return rows;
}

/** A pack row's values in the order of its columns (the INSERT's parameters; checked at first use). */
export function packParams(r: PackRow, out: unknown[]): void {
  out.push(
    r.last_id,
    r.first_id,
    r.base_id,
    r.host,
    r.pid,
    r.name,
    r.event_count,
    r.calls,
    r.min_time_ms,
    r.max_time_ms,
    r.body,
  );
}
