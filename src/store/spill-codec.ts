// The spill file's line format: one JSON object per batch (NDJSON), lossless. Unlike the public
// event JSON (wire/events.ts, where lengths are numbers), every 64-bit value is a decimal string
// here, so a batch read back is bit-for-bit the batch written. Version 1.
import type { LostCounts, MemCall, MemEvent } from '../wire/events.js';
import { MEM_CALLS } from '../wire/events.js';
import type { LostDelta, StoreBatch } from './event-store.js';
import type { ProcessStart } from './totals.js';

export const SPILL_FORMAT_VERSION = 1;

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
  events: EventTuple[];
  starts?: { host: string; pid: number; startNs: string; name: string; timeMs: number }[];
  lost?: { host: string; counts: LostCounts }[];
}

const big = (v: bigint | null): string | null => (v === null ? null : v.toString());

export function encodeBatch(b: StoreBatch): string {
  const line: SpillLine = {
    v: SPILL_FORMAT_VERSION,
    id: b.id,
    events: b.events.map((e): EventTuple => [
      e.timeMs,
      e.ktimeNs.toString(),
      e.host,
      e.pid,
      e.tid,
      e.name,
      e.thread,
      e.call,
      e.addr.toString(),
      e.lengthBytes.toString(),
      e.prot,
      e.flags,
      e.fd,
      e.result.toString(),
      e.error,
      big(e.newLengthBytes),
      big(e.newAddr),
    ]),
  };
  if (b.starts && b.starts.length > 0) line.starts = b.starts.map((s) => ({ ...s, startNs: s.startNs.toString() }));
  if (b.lost && b.lost.length > 0) line.lost = b.lost.map((l) => ({ host: l.host, counts: { ...l.counts } }));
  return `${JSON.stringify(line)}\n`;
}

const bigOrNull = (v: string | null): bigint | null => (v === null ? null : BigInt(v));

/** Decodes one line; throws on a line that is not a spill batch (the caller counts and skips it). */
export function decodeBatch(text: string): StoreBatch {
  const line = JSON.parse(text) as SpillLine;
  if (line.v !== SPILL_FORMAT_VERSION || typeof line.id !== 'string' || !Array.isArray(line.events))
    throw new Error('not a memlens spill batch');
  const events = line.events.map((t): MemEvent => {
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
  const starts: ProcessStart[] = (line.starts ?? []).map((s) => ({ ...s, startNs: BigInt(s.startNs) }));
  const lost: LostDelta[] = (line.lost ?? []).map((l) => ({ host: l.host, counts: { ...l.counts } }));
  return { id: line.id, events, starts, lost };
}
