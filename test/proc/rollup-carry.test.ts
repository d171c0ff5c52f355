// When a sample may keep a process's smaps_rollup reading instead of reading it again
// (src/analyses/rollup-carry.ts). Hand-made status figures, no kernel involved.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RollupCarry } from '../../src/analyses/rollup-carry.js';
import type { Bytes } from '../../src/base/units.js';
import type { SmapsCounters } from '../../src/parsers/proc/smaps.js';
import type { ProcStatus } from '../../src/parsers/proc/status.js';

const kB = (n: number): Bytes => (n * 1024) as Bytes;

const status = (pid: number, rssKb: number): ProcStatus => ({
  name: `p${pid}`,
  tgid: pid,
  pid,
  ppid: 1,
  uids: [0, 0, 0, 0],
  threads: 1,
  kthread: false,
  vmSizeBytes: kB(10_000),
  vmRssBytes: kB(rssKb),
  rssAnonBytes: kB(rssKb),
  rssFileBytes: kB(0),
  rssShmemBytes: kB(0),
  vmSwapBytes: kB(0),
  vmPteBytes: kB(4),
  hugetlbBytes: kB(0),
});

const counters = { pssBytes: kB(100) } as unknown as SmapsCounters;

/** One pass over `pids` at `nowMs`: which pids got a carried reading (the rest are read and kept). */
function pass(carry: RollupCarry, nowMs: number, rss: Record<number, number>): number[] {
  carry.begin(nowMs);
  const carried: number[] = [];
  for (const [pidText, rssKb] of Object.entries(rss)) {
    const pid = Number(pidText);
    const st = status(pid, rssKb);
    if (carry.reuse(pid, st) !== undefined) carried.push(pid);
    else carry.keep(pid, st, counters, 2);
  }
  carry.end();
  return carried;
}

test('a rollup is kept while the process, and the set of processes, stay the same', () => {
  const carry = new RollupCarry(30_000);
  assert.deepEqual(pass(carry, 0, { 10: 100, 11: 200 }), []);
  assert.deepEqual(pass(carry, 1000, { 10: 100, 11: 200 }), [10, 11]);
  assert.equal(carry.deferred, 2);
  assert.equal(carry.savedCostMs, 4, 'what the kept readings cost when they were read');
  // 11's own resident memory moved: its rollup is read again, 10's is kept.
  assert.deepEqual(pass(carry, 2000, { 10: 100, 11: 204 }), [10]);
  const r = (carry.reuse(10, status(10, 100)) ?? { readAtMs: -1 }).readAtMs;
  assert.equal(r, 0, 'a carried reading keeps the time it was read');
});

test('a fork or an exit makes the next pass read every rollup again', () => {
  const carry = new RollupCarry(30_000);
  pass(carry, 0, { 10: 100, 11: 200 });
  pass(carry, 1000, { 10: 100, 11: 200 });
  // 12 appears: 12 is read, the others' older readings are kept this once; the next pass reads
  // them again, and then everything is carried.
  assert.deepEqual(pass(carry, 2000, { 10: 100, 11: 200, 12: 50 }), [10, 11]);
  assert.deepEqual(pass(carry, 3000, { 10: 100, 11: 200, 12: 50 }), [12]);
  assert.deepEqual(pass(carry, 4000, { 10: 100, 11: 200, 12: 50 }), [10, 11, 12]);
  // 11 exits.
  assert.deepEqual(pass(carry, 5000, { 10: 100, 12: 50 }), [10, 12]);
  assert.deepEqual(pass(carry, 6000, { 10: 100, 12: 50 }), []);
});

test('a carried reading is never older than the limit', () => {
  const carry = new RollupCarry(30_000);
  pass(carry, 0, { 10: 100 });
  assert.deepEqual(pass(carry, 30_000, { 10: 100 }), [10]);
  assert.deepEqual(pass(carry, 30_001, { 10: 100 }), []);
  assert.deepEqual(pass(carry, 31_000, { 10: 100 }), [10]);
});
