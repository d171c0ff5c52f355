// The body of one event_packs row: the calls of one process (host, pid, name) within one id block
// of a batch, with their ids. The records are the binary layout the store's worker receives from
// the tracer's thread (event-batch-codec.ts), so that a pack is written without a per-event row or
// index entry; in front of them, each call's id as an offset from the pack's first id, because the
// ids of a batch are given in the batch's order and one process's calls are interleaved with the
// others' (event-store.ts, "Ids").
//
// Layout, little-endian:
//   header   u32 magic, u32 version, u32 event count
//   offsets  count × u32: id − first_id, increasing
//   records  encodeEventBatch of the events, in the same order
//
// Unlike the hand-over's layout, this one is stored: a new layout needs a new version and a
// decoder for the old one (or a migration that rewrites the packs).
import { assert } from '../base/assert.js';
import type { MemEvent } from '../wire/events.js';
import { EventRecords, encodeEventBatch, subBatch, type ByteArena, type StoredStrings } from './event-batch-codec.js';
import type { StoredEvent } from './rows.js';

const MAGIC = 0x6b706c6d; // "mlpk"
const VERSION = 1;
const HEADER_BYTES = 12;

/** Encodes `events` with ids firstId + offsets[i]; offsets increase and start at 0. */
export function encodePack(events: readonly MemEvent[], offsets: readonly number[]): Buffer {
  assert(events.length === offsets.length && events.length > 0, 'a pack holds at least one event, each with an id');
  const records = new Uint8Array(encodeEventBatch(events));
  const idsEnd = HEADER_BYTES + 4 * events.length;
  const out = Buffer.allocUnsafe(idsEnd + records.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(events.length, 8);
  let at = HEADER_BYTES;
  for (const o of offsets) {
    out.writeUInt32LE(o, at);
    at += 4;
  }
  out.set(records, idsEnd);
  return out;
}

/**
 * The pack of records `list` of `src` (increasing indexes), record list[i] having id ids[i]
 * (increasing), each string field as `stored` gives it: encodePack's bytes, made from the batch's
 * bytes without an object per call (packs.ts).
 */
export function packRecords(
  src: EventRecords,
  list: readonly number[],
  ids: readonly number[],
  stored: StoredStrings,
  arena?: ByteArena,
): Buffer {
  const count = list.length;
  assert(count > 0 && ids.length === count, 'a pack holds at least one event, each with an id');
  const out = subBatch(src, list, stored, HEADER_BYTES + 4 * count, arena);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(count, 8);
  const first = ids[0] ?? 0;
  for (let i = 0, at = HEADER_BYTES; i < count; i++, at += 4) out.writeUInt32LE((ids[i] ?? 0) - first, at);
  return out;
}

function header(body: Uint8Array): { view: DataView; count: number } {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  assert(
    body.byteLength >= HEADER_BYTES && view.getUint32(0, true) === MAGIC && view.getUint32(4, true) === VERSION,
    'an event pack of an unknown layout',
  );
  const count = view.getUint32(8, true);
  assert(body.byteLength >= HEADER_BYTES + 4 * count, 'a truncated event pack');
  return { view, count };
}

/** The ids of a pack's events, without decoding the events (retention needs only these). */
export function packIds(body: Uint8Array, firstId: number): number[] {
  const { view, count } = header(body);
  const ids: number[] = [];
  for (let i = 0, at = HEADER_BYTES; i < count; i++, at += 4) ids.push(firstId + view.getUint32(at, true));
  return ids;
}

/**
 * The events of a pack with their ids, in id order. Times read back as whole milliseconds, as the
 * events table stored them (the hand-over's layout keeps the tracer's fraction).
 */
export function decodePack(body: Uint8Array, firstId: number): StoredEvent[] {
  const { view, count } = header(body);
  const records = EventRecords.read(body.subarray(HEADER_BYTES + 4 * count));
  assert(records.length === count, 'an event pack whose records and ids disagree');
  const out: StoredEvent[] = [];
  for (let i = 0; i < count; i++) {
    const e = records.event(i);
    out.push({ id: firstId + view.getUint32(HEADER_BYTES + 4 * i, true), ...e, timeMs: Math.trunc(e.timeMs) });
  }
  return out;
}
