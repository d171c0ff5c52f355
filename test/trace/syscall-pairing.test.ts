// Pairing entries with exits: what cannot be paired is counted, and threads that come back after a
// pair (their key kept as null) pair again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyscallPairer } from '../../src/parsers/trace/syscall-pairing.js';
import type { EnterRecord, ExitRecord } from '../../src/parsers/tracefs/trace-records.js';
import type { MemCall } from '../../src/wire/events.js';

const enter = (tid: number, call: MemCall = 'mmap'): EnterRecord => ({
  kind: 'enter',
  ktimeNs: 1n,
  tid,
  call,
  addr: 0n,
  lengthBytes: 4096n,
  prot: null,
  flags: null,
  fd: null,
  newLengthBytes: null,
  newAddr: null,
});
const exit = (tid: number, call: MemCall = 'mmap'): ExitRecord => ({ kind: 'exit', ktimeNs: 2n, tid, call, ret: 0n });

test('pairs, unpaired entries and exits, ended threads and lost events are counted', () => {
  const p = new SyscallPairer<string>();
  for (let k = 0; k < 3; k++) {
    p.enter(enter(1), `a${k}`);
    assert.equal(p.waiting, 1);
    assert.equal(p.exit(exit(1))?.attached, `a${k}`);
    assert.equal(p.waiting, 0);
  }
  assert.equal(p.exit(exit(1)), undefined, 'an exit after its pair');
  assert.equal(p.unpaired, 1);
  p.enter(enter(2), 'b');
  p.enter(enter(2), 'c'); // the first entry's exit was lost
  assert.equal(p.unpaired, 2);
  assert.equal(p.waiting, 1);
  assert.equal(p.exit(exit(2, 'munmap')), undefined, 'another call’s exit');
  assert.equal(p.unpaired, 3);
  assert.equal(p.exit(exit(2))?.attached, 'c');
  p.enter(enter(3), 'd');
  p.endThread(3);
  p.endThread(1); // ended with nothing waiting
  assert.equal(p.unpaired, 4);
  assert.equal(p.waiting, 0);
  p.enter(enter(4), 'e');
  p.enter(enter(5), 'f');
  p.dropAll();
  assert.equal(p.unpaired, 6);
  assert.equal(p.waiting, 0);
  assert.equal(p.exit(exit(4)), undefined);
});
