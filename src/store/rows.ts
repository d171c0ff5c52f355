// MemEvent ↔ events row. Strings are cut to their column widths here, so that a hostile or
// overlong name can never make a batch fail (a failed batch would be retried forever).
import type { Insertable, Selectable } from 'kysely';
import { assert } from '../base/assert.js';
import { MEM_CALLS, type MemCall, type MemEvent } from '../wire/events.js';
import { dbToI64, dbToNumber, dbToNumberOrNull, dbToU64, i64ToDb, u64ToDb } from './int64.js';
import type { EventsTable } from './schema.js';

/** A stored event: the event plus its row id, the keyset cursor for paging. */
export interface StoredEvent extends MemEvent {
  id: number;
}

export const NAME_WIDTH = 255;
const ERROR_WIDTH = 32;

/** Cuts to a column width in characters (VARCHAR(n) counts characters in both databases). */
export function clip(s: string, width: number): string {
  if (s.length <= width) return s;
  // Do not cut a surrogate pair in half: MySQL's utf8mb4 would reject the lone half.
  const cut = s.slice(0, width);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** The events columns in the order eventToRow writes them. */
export const EVENT_COLUMNS = [
  'time_ms',
  'ktime_ns',
  'host',
  'pid',
  'tid',
  'name',
  'thread',
  'syscall',
  'addr',
  'length_bytes',
  'prot',
  'flags',
  'fd',
  'result',
  'error',
  'new_length_bytes',
  'new_addr',
] as const satisfies readonly (keyof Insertable<EventsTable>)[];

export function eventToRow(e: MemEvent): Insertable<EventsTable> {
  return {
    time_ms: Math.trunc(e.timeMs),
    ktime_ns: u64ToDb(e.ktimeNs),
    host: clip(e.host, NAME_WIDTH),
    pid: e.pid,
    tid: e.tid,
    name: clip(e.name, NAME_WIDTH),
    thread: clip(e.thread, NAME_WIDTH),
    syscall: e.call,
    addr: u64ToDb(e.addr),
    length_bytes: u64ToDb(e.lengthBytes),
    prot: e.prot,
    flags: e.flags,
    fd: e.fd,
    result: BigInt.asIntN(64, e.result),
    error: e.error === null ? null : clip(e.error, ERROR_WIDTH),
    new_length_bytes: e.newLengthBytes === null ? null : u64ToDb(e.newLengthBytes),
    new_addr: e.newAddr === null ? null : u64ToDb(e.newAddr),
  };
}

/**
 * Appends one event's column values to `params`, in EVENT_COLUMNS order: the same values as
 * eventToRow without building the row object (the store's INSERT path runs this per event).
 * The store checks once per statement shape that both agree.
 */
export function pushEventParams(e: MemEvent, params: unknown[]): void {
  params.push(
    Math.trunc(e.timeMs),
    u64ToDb(e.ktimeNs),
    clip(e.host, NAME_WIDTH),
    e.pid,
    e.tid,
    clip(e.name, NAME_WIDTH),
    clip(e.thread, NAME_WIDTH),
    e.call,
    u64ToDb(e.addr),
    u64ToDb(e.lengthBytes),
    e.prot,
    e.flags,
    e.fd,
    i64ToDb(e.result),
    e.error === null ? null : clip(e.error, ERROR_WIDTH),
    e.newLengthBytes === null ? null : u64ToDb(e.newLengthBytes),
    e.newAddr === null ? null : u64ToDb(e.newAddr),
  );
}

function asCall(s: string): MemCall {
  const call = MEM_CALLS.find((c) => c === s);
  assert(call !== undefined, `unknown call "${s}" in the events table`);
  return call;
}

export function rowToEvent(r: Selectable<EventsTable>): StoredEvent {
  return {
    id: dbToNumber(r.id),
    timeMs: dbToNumber(r.time_ms),
    ktimeNs: dbToU64(r.ktime_ns),
    host: r.host,
    pid: dbToNumber(r.pid),
    tid: dbToNumber(r.tid),
    name: r.name,
    thread: r.thread,
    call: asCall(r.syscall),
    addr: dbToU64(r.addr),
    lengthBytes: dbToU64(r.length_bytes),
    prot: dbToNumberOrNull(r.prot),
    flags: dbToNumberOrNull(r.flags),
    fd: dbToNumberOrNull(r.fd),
    result: dbToI64(r.result),
    error: r.error,
    newLengthBytes: r.new_length_bytes === null ? null : dbToU64(r.new_length_bytes),
    newAddr: r.new_addr === null ? null : dbToU64(r.new_addr),
  };
}
