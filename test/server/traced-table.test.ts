// The dashboard's table of traced processes kept from the accounts that changed (TracedTable) lists
// what tracedFromRows builds from every account: random sequences of calls, forks, execs, renames,
// exits and reused pids, with more exited processes than the table keeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { ProcessAccounts } from '../../src/analyses/trace/process-accounts.js';
import { TracedTable, tracedFromRows } from '../../src/server/adapters/tracer-feed.js';
import type { TracedProcess } from '../../src/server/inputs.js';
import type { LifecycleEvent, MemEvent } from '../../src/wire/events.js';

const PAGE = 4096n;
const BASE = 0x7f0000000000n;

function mmap(pid: number, at: bigint, pages: number, prot: number): MemEvent {
  return {
    timeMs: 0,
    ktimeNs: 0n,
    host: 'h',
    pid,
    tid: pid,
    name: `p${pid}`,
    thread: `p${pid}`,
    call: 'mmap',
    addr: 0n,
    lengthBytes: BigInt(pages) * PAGE,
    prot,
    flags: 0x22,
    fd: -1,
    result: at,
    error: null,
    newLengthBytes: null,
    newAddr: null,
  };
}

const byPid = (rows: TracedProcess[]): TracedProcess[] => [...rows].sort((a, b) => a.pid - b.pid);

test('TracedTable lists what tracedFromRows lists, after every batch of a random sequence', () => {
  for (const seed of [1, 2, 3]) {
    const rng = new SeededRandom(seed);
    const accounts = new ProcessAccounts(PAGE);
    // A few processes seeded from /proc before the table exists: listed without a call.
    accounts.seed(
      Array.from({ length: 5 }, (_, i) => ({
        pid: 1 + i,
        name: `seeded${i}`,
        ranges: [[BASE, BASE + 16n * PAGE]] as [bigint, bigint][],
        reserved: [],
        brk: undefined,
      })),
    );
    const table = new TracedTable(accounts);
    const maxPid = 1500;
    for (let step = 0; step < 800; step++) {
      const events: MemEvent[] = [];
      const lifecycle: LifecycleEvent[] = [];
      for (let k = rng.int(1, 20); k > 0; k--) {
        const pid = rng.int(1, maxPid);
        const what = rng.int(0, 19);
        if (what <= 4)
          events.push(mmap(pid, BASE + BigInt(rng.int(0, 1 << 20)) * PAGE, rng.int(1, 64), rng.int(0, 1) * 3));
        else if (what <= 15) lifecycle.push({ kind: 'exit', ktimeNs: 0n, pid, tid: pid, name: `p${pid}` });
        else if (what <= 17)
          lifecycle.push({
            kind: 'fork',
            ktimeNs: 0n,
            parentPid: pid,
            childPid: rng.int(1, maxPid),
            childTid: 0,
            isThread: false,
            name: `c${pid}`,
          });
        else if (what === 18)
          lifecycle.push({ kind: 'exec', ktimeNs: 0n, pid, tid: pid, name: `e${pid}`, filename: '/bin/x' });
        else lifecycle.push({ kind: 'rename', ktimeNs: 0n, pid, tid: pid, oldName: `p${pid}`, newName: `r${pid}` });
      }
      // One kind per batch so that the order within it does not matter to the comparison.
      if (rng.int(0, 1) === 0) accounts.apply({ events, lifecycle: [] });
      else accounts.apply({ events: [], lifecycle });
      const want = tracedFromRows(accounts.rows(1n << 40n, true));
      const got = table.update();
      assert.deepEqual(byPid(got), byPid(want), `seed ${seed}, step ${step}`);
    }
    // The sequence went past the number of exited processes kept.
    const exited = [...accounts.all()].filter((a) => a.exited && a.calls > 0).length;
    assert.ok(exited > 200, `only ${exited} exited processes with calls`);
  }
});

test('a process that did not change keeps its object', () => {
  const accounts = new ProcessAccounts(PAGE);
  accounts.apply({ events: [mmap(10, BASE, 4, 3), mmap(11, BASE, 4, 3)], lifecycle: [] });
  const table = new TracedTable(accounts);
  const first = table.update();
  accounts.apply({ events: [mmap(11, BASE + 64n * PAGE, 4, 3)], lifecycle: [] });
  const second = table.update();
  const of = (rows: TracedProcess[], pid: number) => rows.find((r) => r.pid === pid);
  assert.equal(of(second, 10), of(first, 10));
  assert.notEqual(of(second, 11), of(first, 11));
  assert.equal(of(second, 11)?.calls, 2);
});
