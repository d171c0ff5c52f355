// The binary hand-over of events to the store's worker gives back exactly the events it was given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { decodeEventBatch, encodeEventBatch } from '../../src/store/event-batch-codec.js';
import type { MemEvent } from '../../src/wire/events.js';
import { event, randomEvents } from './events-fixture.js';

test('random events, several hosts, survive the round trip exactly', () => {
  const events = randomEvents(new SeededRandom(5), 5000, 123_456_789n);
  assert.deepEqual(decodeEventBatch(encodeEventBatch(events)), events);
});

test('edge cases: every nullable field null or set, 64-bit extremes, hostile names, no events', () => {
  const max = (1n << 64n) - 1n;
  const cases: MemEvent[] = [
    event({ call: 'munmap', prot: null, flags: null, fd: null, result: 0n }),
    event({
      call: 'mmap',
      addr: max,
      lengthBytes: max,
      result: -9n,
      error: 'EBADF',
      fd: -1,
      flags: 0xffffffff,
      prot: 7,
    }),
    event({ call: 'mremap', flags: 3, newLengthBytes: 1n << 40n, newAddr: 0x7fff_ffff_f000n, result: -(1n << 63n) }),
    event({
      call: 'brk',
      addr: 0n,
      lengthBytes: 0n,
      prot: null,
      flags: null,
      fd: null,
      result: 0x5555_5555_0000n,
      ktimeNs: max,
      timeMs: 1_764_990_000_000.123,
    }),
    event({ name: 'quote"\\ tab\t nl\n', thread: '😀 ünï', host: '' }),
    event({ name: 'a'.repeat(300) }),
  ];
  assert.deepEqual(decodeEventBatch(encodeEventBatch(cases)), cases);
  assert.deepEqual(decodeEventBatch(encodeEventBatch([])), []);
});

test('a buffer that is not a batch of this build fails loudly', () => {
  assert.throws(() => decodeEventBatch(new ArrayBuffer(16)));
  assert.throws(() => decodeEventBatch(new ArrayBuffer(3)));
});
