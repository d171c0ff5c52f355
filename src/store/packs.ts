// Events → event_packs rows (schema.ts, migration 0006; event-store.ts reads them back): the calls
// of one id block, grouped by process (host, pid, name), each group one row whose body is an event
// pack (event-pack-codec.ts) and whose columns are what queries select packs by.
import { MEM_CALLS, type MemCall, type MemEvent } from '../wire/events.js';
import { encodePack } from './event-pack-codec.js';
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

/**
 * Cuts strings to their column widths, as the events table's columns did, so that a hostile or
 * overlong name can never make a batch fail; the event itself when nothing is cut (the common case).
 */
function stored(e: MemEvent): MemEvent {
  if (
    e.host.length <= NAME_WIDTH &&
    e.name.length <= NAME_WIDTH &&
    e.thread.length <= NAME_WIDTH &&
    (e.error === null || e.error.length <= ERROR_WIDTH)
  )
    return e;
  return {
    ...e,
    host: clip(e.host, NAME_WIDTH),
    name: clip(e.name, NAME_WIDTH),
    thread: clip(e.thread, NAME_WIDTH),
    error: e.error === null ? null : clip(e.error, ERROR_WIDTH),
  };
}

interface Group {
  events: MemEvent[];
  ids: number[];
  calls: number;
  minMs: number;
  maxMs: number;
}

/**
 * The packs of one id block: `events[i]` has id `idOf(i)`, increasing, all within
 * [baseId, baseId + ID_BLOCK). Packs come out in the order of their last ids.
 */
export function packBlock(events: readonly MemEvent[], idOf: (i: number) => number, baseId: number): PackRow[] {
  const groups = new Map<string, Group>();
  // Calls come in runs of one process: the previous event's group is reused while it matches.
  let last: Group | undefined;
  let lastHost = '';
  let lastPid = -1;
  let lastName = '';
  for (let i = 0; i < events.length; i++) {
    const raw = events[i];
    if (raw === undefined) continue;
    const e = stored(raw);
    let g: Group;
    if (last !== undefined && e.pid === lastPid && e.host === lastHost && e.name === lastName) g = last;
    else {
      const key = `${e.host}\u0000${e.pid}\u0000${e.name}`;
      let found = groups.get(key);
      if (found === undefined) {
        found = { events: [], ids: [], calls: 0, minMs: Infinity, maxMs: -Infinity };
        groups.set(key, found);
      }
      g = found;
      last = g;
      lastHost = e.host;
      lastPid = e.pid;
      lastName = e.name;
    }
    const ms = Math.trunc(e.timeMs);
    g.events.push(e);
    g.ids.push(idOf(i));
    g.calls |= callBit(e.call);
    if (ms < g.minMs) g.minMs = ms;
    if (ms > g.maxMs) g.maxMs = ms;
  }
  const rows: PackRow[] = [];
  for (const g of groups.values()) {
    const first = g.ids[0];
    const lastId = g.ids[g.ids.length - 1];
    const e = g.events[0];
    if (first === undefined || lastId === undefined || e === undefined) continue;
    rows.push({
      last_id: lastId,
      first_id: first,
      base_id: baseId,
      host: e.host,
      pid: e.pid,
      name: e.name,
      event_count: g.events.length,
      calls: g.calls,
      min_time_ms: g.minMs,
      max_time_ms: g.maxMs,
      body: encodePack(
        g.events,
        g.ids.map((id) => id - first),
      ),
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
