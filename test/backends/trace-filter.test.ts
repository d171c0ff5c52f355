// Which processes a backend passes on, followed through forks, and how records are put back in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TracerLineRecord } from '../../src/parsers/trace-records.js';
import { ReorderQueue } from '../../src/sources/reorder-queue.js';
import { TraceFilter } from '../../src/sources/trace-filter.js';
import type { LifecycleEvent, MemEvent } from '../../src/wire/events.js';

const ev = (pid: number, ktimeNs: bigint): MemEvent => ({
  timeMs: 0,
  ktimeNs,
  host: 'h',
  pid,
  tid: pid,
  name: 'n',
  thread: 'n',
  call: 'munmap',
  addr: 0n,
  lengthBytes: 4096n,
  prot: null,
  flags: null,
  fd: null,
  result: 0n,
  error: null,
  newLengthBytes: null,
  newAddr: null,
});
const fork = (parentPid: number, childPid: number, ktimeNs = 0n): LifecycleEvent => ({
  kind: 'fork',
  ktimeNs,
  parentPid,
  childPid,
  childTid: childPid,
  isThread: false,
  name: 'n',
});
const exit = (pid: number, ktimeNs = 0n): LifecycleEvent => ({ kind: 'exit', ktimeNs, pid, tid: pid, name: 'n' });

test('filter: descendants of an excluded process are excluded, and a reused pid is not', () => {
  const f = new TraceFilter(undefined, [100]);
  assert.equal(f.event(ev(100, 0n)), false);
  assert.equal(f.lifecycle(fork(100, 200)), false);
  assert.equal(f.lifecycle(fork(200, 300)), false);
  assert.equal(f.event(ev(300, 0n)), false);
  assert.equal(f.lifecycle(exit(200)), false);
  // pid 200 comes back as the child of an unrelated process
  assert.equal(f.lifecycle(fork(1, 200)), true);
  assert.equal(f.event(ev(200, 0n)), true);
  // the seed stays excluded even after an exit record
  f.lifecycle(exit(100));
  assert.equal(f.event(ev(100, 0n)), false);
});

test('filter: --pid keeps those processes and their own lifecycle', () => {
  const f = new TraceFilter([42], []);
  assert.equal(f.event(ev(42, 0n)), true);
  assert.equal(f.event(ev(43, 0n)), false);
  assert.equal(f.lifecycle(fork(42, 50)), true, 'a child of 42 is forked by 42');
  assert.equal(f.event(ev(50, 0n)), false, 'but its calls are its own process');
  assert.equal(f.lifecycle(exit(43)), false);
});

test('assembler: records come out in kernel-time order, once older than the window or when idle', async () => {
  const a = new ReorderQueue({
    filter: new TraceFilter(undefined, []),
    reorderWindowNs: 100n,
    maxHeldEvents: 1000,
    onPressure: () => undefined,
  });
  const call = (pid: number, t: bigint): TracerLineRecord => ({ kind: 'call', event: ev(pid, t) });
  a.add([call(1, 500n), call(2, 300n), { kind: 'lifecycle', event: fork(1, 9, 400n) }, call(3, 1000n)]);
  a.tick(); // not idle: only what is older than 1000 - 100 goes out
  a.add([call(4, 950n)]);
  a.tick();
  a.tick(); // idle: the rest
  a.add([
    { kind: 'lost', count: 3 },
    { kind: 'unpaired', count: 2 },
  ]);
  a.finish();
  const got: string[] = [];
  for await (const b of a.batches())
    got.push(
      `${b.events.map((e) => `${e.pid}@${e.ktimeNs}`).join(',')}|${b.lifecycle.map((l) => l.ktimeNs).join(',')}`,
    );
  assert.deepEqual(got, ['2@300,1@500|400', '4@950,3@1000|']);
  assert.deepEqual(a.lost(5), { lostEvents: 3, unpaired: 2, malformed: 5 });
});

test('filter: --pid with --follow keeps the forks of a selected process, transitively, until they exit', () => {
  const f = new TraceFilter([42], [], true);
  assert.equal(f.lifecycle(fork(42, 43)), true);
  assert.equal(f.lifecycle(fork(43, 44)), true);
  assert.equal(f.event(ev(43, 0n)), true);
  assert.equal(f.event(ev(44, 0n)), true);
  assert.equal(f.event(ev(45, 0n)), false);
  assert.equal(f.lifecycle(exit(44)), true);
  assert.equal(f.event(ev(44, 0n)), false, 'a pid that exited may be reused by an unrelated process');
  assert.equal(f.lifecycle(exit(42)), true);
  assert.equal(f.event(ev(42, 0n)), true, 'a pid given on the command line stays selected, as without --follow');
});
