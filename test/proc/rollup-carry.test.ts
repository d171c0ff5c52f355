// When a sample may keep a process's smaps_rollup reading instead of reading it again
// (src/analyses/rollup-carry.ts). Hand-made status figures, no kernel involved.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RollupCarry } from '../../src/analyses/rollup-carry.js';
import type { Bytes } from '../../src/base/units.js';
import type { SmapsCounters } from '../../src/parsers/proc/smaps.js';
import type { ProcStatus } from '../../src/parsers/proc/status.js';

const kB = (n: number): Bytes => (n * 1024) as Bytes;

const status = (pid: number, rssKb: number, ppid = 1, name = `p${pid}`): ProcStatus => ({
  name,
  tgid: pid,
  pid,
  ppid,
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

/** A process of a pass: its resident kB, and optionally its parent and name. */
type Proc = number | { rss: number; ppid?: number; name?: string };

/** One pass over `procs` at `nowMs`: which pids got a carried reading (the rest are read and kept). */
function pass(carry: RollupCarry, nowMs: number, procs: Record<number, Proc>): number[] {
  carry.begin(nowMs);
  const carried: number[] = [];
  for (const [pidText, p] of Object.entries(procs)) {
    const pid = Number(pidText);
    const q = typeof p === 'number' ? { rss: p } : p;
    const st = status(pid, q.rss, q.ppid ?? 1, q.name);
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

test("a fork makes the next pass read the parent's and the siblings' rollups, nobody else's", () => {
  const carry = new RollupCarry(30_000);
  // 10 and 20 are unrelated; 11 and 12 are children of 10.
  const base = { 10: 100, 11: { rss: 50, ppid: 10 }, 12: { rss: 60, ppid: 10 }, 20: 300 };
  pass(carry, 0, base);
  assert.deepEqual(pass(carry, 1000, base), [10, 11, 12, 20]);
  // 10 forks 13: 13 is read; the others' readings are still kept in the pass that lists it (they
  // were read before the fork), and the next pass reads 10's, 11's and 12's again, not 20's.
  const forked = { ...base, 13: { rss: 50, ppid: 10 } };
  assert.deepEqual(pass(carry, 2000, forked), [10, 11, 12, 20]);
  assert.equal(carry.deferred, 4);
  assert.deepEqual(pass(carry, 3000, forked), [13, 20]);
  assert.equal(carry.readForRelative, 3);
  assert.deepEqual(pass(carry, 4000, forked), [10, 11, 12, 13, 20]);
  // A new child of init (pid 1) makes nobody but init read again: 10 and 20, init's other
  // children, keep their readings (rule 2).
  const more = { ...forked, 30: 7 };
  assert.deepEqual(pass(carry, 5000, more), [10, 11, 12, 13, 20]);
  assert.deepEqual(pass(carry, 6000, more), [10, 11, 12, 13, 20, 30]);
});

test("an exit or an exec makes the next pass read the relatives' rollups", () => {
  const carry = new RollupCarry(30_000);
  const base = { 10: 100, 11: { rss: 50, ppid: 10 }, 12: { rss: 60, ppid: 10 }, 20: 300, 21: { rss: 5, ppid: 20 } };
  pass(carry, 0, base);
  assert.deepEqual(pass(carry, 1000, base), [10, 11, 12, 20, 21]);
  // 11 exits: its parent 10 and its sibling 12 are read again in the pass after.
  const exited = { 10: 100, 12: { rss: 60, ppid: 10 }, 20: 300, 21: { rss: 5, ppid: 20 } };
  assert.deepEqual(pass(carry, 2000, exited), [10, 12, 20, 21]);
  assert.deepEqual(pass(carry, 3000, exited), [20, 21]);
  // 21 execs another program (its name changes, so it is read); its parent 20 is read after.
  const execd = { ...exited, 21: { rss: 5, ppid: 20, name: 'other' } };
  assert.deepEqual(pass(carry, 4000, execd), [10, 12, 20]);
  assert.deepEqual(pass(carry, 5000, execd), [10, 12, 21]);
  assert.deepEqual(pass(carry, 6000, execd), [10, 12, 20, 21]);
});

test('a carried reading is never older than the limit: the slow full refresh', () => {
  const carry = new RollupCarry(30_000);
  pass(carry, 0, { 10: 100 });
  assert.deepEqual(pass(carry, 30_000, { 10: 100 }), [10]);
  assert.deepEqual(pass(carry, 30_001, { 10: 100 }), []);
  assert.deepEqual(pass(carry, 31_000, { 10: 100 }), [10]);
  // Every reading is refreshed once it is older than the limit, each on its own clock.
  const other = new RollupCarry(30_000);
  const procs = { 10: 100, 11: { rss: 5, ppid: 50 } };
  pass(other, 0, { 10: 100 });
  assert.deepEqual(pass(other, 10_000, procs), [10]);
  assert.deepEqual(pass(other, 20_000, procs), [10, 11]);
  assert.deepEqual(pass(other, 30_500, procs), [11]);
  assert.equal(other.readForAge, 1);
  assert.deepEqual(pass(other, 40_500, procs), [10]);
  assert.equal(other.readForAge, 1);
});
