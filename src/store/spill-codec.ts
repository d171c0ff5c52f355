// The spill file's line format: one JSON object per batch (NDJSON), lossless.
//
// Version 2 (written now): the batch's calls are the bytes the store's worker holds them in
// (event-batch-codec.ts, whose own header carries that layout's magic and version), base64 in the
// line's "records", so that spilling and reading back a batch makes no object per call (issue 13
// §2) and takes about 140 bytes a call. Starts and lost counts stay JSON, 64-bit values as decimal
// strings.
// Version 1 (read, for the spill files of earlier memlens runs): the calls as JSON tuples, every
// 64-bit value a decimal string.
// A batch's layout that changes needs a new version here and a reader of the old one: a spill file
// outlives the run that wrote it (BufferedWriter adopts a dead run's leftovers).
import type { LostCounts, MemCall, MemEvent } from '../wire/events.js';
import { MEM_CALLS } from '../wire/events.js';
import type { QueuedBatch } from './buffered-writer.js';
import { EventRecords } from './event-batch-codec.js';
import type { LostDelta } from './event-store.js';
import type { ProcessStart } from './totals.js';

export const SPILL_FORMAT_VERSION = 2;

type EventTuple = [
  timeMs: number,
  ktimeNs: string,
  host: string,
  pid: number,
  tid: number,
  name: string,
  thread: string,
  call: MemCall,
  addr: string,
  lengthBytes: string,
  prot: number | null,
  flags: number | null,
  fd: number | null,
  result: string,
  error: string | null,
  newLengthBytes: string | null,
  newAddr: string | null,
];

interface SpillLine {
  v: number;
  id: string;
  /** Version 2: the calls, base64 of an event batch. */
  records?: string;
  /** Version 1: the calls as tuples. */
  events?: EventTuple[];
  starts?: { host: string; pid: number; startNs: string; name: string; timeMs: number }[];
  lost?: { host: string; counts: LostCounts }[];
}

export function encodeBatch(b: QueuedBatch): string {
  const r = b.events.bytes;
  const line: SpillLine = {
    v: SPILL_FORMAT_VERSION,
    id: b.id,
    records: Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64'),
  };
  if (b.starts && b.starts.length > 0) line.starts = b.starts.map((s) => ({ ...s, startNs: s.startNs.toString() }));
  if (b.lost && b.lost.length > 0) line.lost = b.lost.map((l) => ({ host: l.host, counts: { ...l.counts } }));
  return `${JSON.stringify(line)}\n`;
}

/** Version 1's calls, as earlier memlens runs wrote them (encoded with Version 2's layout for the writer). */
function eventsV1(tuples: unknown): EventRecords {
  if (!Array.isArray(tuples)) throw new Error('not a memlens spill batch');
  const bigOrNull = (v: string | null): bigint | null => (v === null ? null : BigInt(v));
  const events = (tuples as EventTuple[]).map((t): MemEvent => {
    if (!MEM_CALLS.includes(t[7])) throw new Error(`bad call ${t[7]}`);
    return {
      timeMs: t[0],
      ktimeNs: BigInt(t[1]),
      host: t[2],
      pid: t[3],
      tid: t[4],
      name: t[5],
      thread: t[6],
      call: t[7],
      addr: BigInt(t[8]),
      lengthBytes: BigInt(t[9]),
      prot: t[10],
      flags: t[11],
      fd: t[12],
      result: BigInt(t[13]),
      error: t[14],
      newLengthBytes: bigOrNull(t[15]),
      newAddr: bigOrNull(t[16]),
    };
  });
  return EventRecords.of(events);
}

/** Decodes one line; throws on a line that is not a spill batch (the caller counts and skips it). */
export function decodeBatch(text: string): QueuedBatch {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not a memlens spill batch');
  const line = parsed as SpillLine;
  if (typeof line.id !== 'string') throw new Error('not a memlens spill batch');
  let events: EventRecords;
  if (line.v === SPILL_FORMAT_VERSION && typeof line.records === 'string')
    // Base64 that is not (Buffer.from skips what is not base64) fails the batch's own checks.
    events = EventRecords.read(Buffer.from(line.records, 'base64'));
  else if (line.v === 1) events = eventsV1(line.events);
  else throw new Error('not a memlens spill batch');
  const starts: ProcessStart[] = (line.starts ?? []).map((s) => ({ ...s, startNs: BigInt(s.startNs) }));
  const lost: LostDelta[] = (line.lost ?? []).map((l) => ({ host: l.host, counts: { ...l.counts } }));
  return { id: line.id, events, starts, lost };
}
