// Loads the backend fixtures and the report of the workload they were recorded from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TracerLineRecord } from '../../src/parsers/trace-records.js';
import type { LifecycleEvent, MemEvent } from '../../src/wire/events.js';
import { fixturesDir } from '../helpers/paths.js';
import type { KnownReport } from './known-workload.js';

export function fixture(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(join(fixturesDir, ...parts)));
}

export function knownReport(): KnownReport {
  const j = JSON.parse(readFileSync(join(fixturesDir, 'bpftrace', 'known-workload.report.json'), 'utf8')) as Record<
    string,
    string | number
  >;
  const big = (k: string): bigint => BigInt(String(j[k]));
  return {
    pid: Number(j.pid),
    worker: Number(j.worker),
    child: Number(j.child),
    markBegin: big('markBegin'),
    markEnd: big('markEnd'),
    a: big('a'),
    b: big('b'),
    c: big('c'),
    m: big('m'),
    k: big('k'),
    d: big('d'),
    e: big('e'),
  };
}

export function callsOf(records: readonly TracerLineRecord[]): MemEvent[] {
  return records.flatMap((r) => (r.kind === 'call' ? [r.event] : []));
}

export function lifecycleOf(records: readonly TracerLineRecord[]): LifecycleEvent[] {
  return records.flatMap((r) => (r.kind === 'lifecycle' ? [r.event] : []));
}
