// `memlens trace --json` writes its lines with EventLineWriter, a fast path that must give exactly
// JSON.stringify(eventToJson(e)): same fields, same order, same escaping, for any event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { EventLineWriter, eventToJson, MEM_CALLS, type MemEvent } from '../../src/wire/events.js';

const NAMES = [
  'mmap-known',
  'web server',
  'quote"d',
  'back\\slash',
  'new\nline',
  'tab\tand\u0001ctl',
  'ünïcödé',
  '😀 emoji',
  '<i id=pwn>x',
  '',
  '\u2028sep',
];

function randomEvent(rng: SeededRandom): MemEvent {
  const call = MEM_CALLS[rng.int(0, 3)] ?? 'mmap';
  const failed = rng.next() < 0.2;
  const big = (bits: number): bigint => BigInt(rng.int(0, 2 ** 20)) << BigInt(rng.int(0, bits));
  return {
    // Fractional milliseconds, as wall clocks derived from kernel nanoseconds are.
    timeMs: 1_764_990_000_000 + rng.int(0, 5_000_000) / 7,
    ktimeNs: big(40) + BigInt(rng.int(0, 999)),
    host: NAMES[rng.int(0, NAMES.length - 1)] ?? 'h',
    pid: rng.int(1, 4_194_304),
    tid: rng.int(1, 4_194_304),
    name: NAMES[rng.int(0, NAMES.length - 1)] ?? 'p',
    thread: NAMES[rng.int(0, NAMES.length - 1)] ?? 't',
    call,
    // Up to 2^64 - 1: addresses and nonsense arguments past 2^53 are kept exactly.
    addr: BigInt.asUintN(64, big(44) * BigInt(rng.int(1, 1 << 20))),
    lengthBytes: rng.next() < 0.05 ? (1n << 64n) - 1n : big(30),
    prot: call === 'mmap' ? rng.int(0, 7) : null,
    flags: call === 'mmap' || call === 'mremap' ? rng.int(0, 0x7fffffff) : null,
    fd: call === 'mmap' ? rng.int(-1, 1000) : null,
    result: failed ? -BigInt(rng.int(1, 4095)) : big(46),
    error: failed ? 'EBADF' : null,
    newLengthBytes: call === 'mremap' ? big(30) : null,
    newAddr: call === 'mremap' && rng.next() < 0.5 ? big(46) : null,
  };
}

test('EventLineWriter writes exactly the generic JSON of 20,000 random events', () => {
  const rng = new SeededRandom(2026);
  const writer = new EventLineWriter();
  for (let i = 0; i < 20_000; i++) {
    const e = randomEvent(rng);
    const line = writer.line(e);
    assert.equal(line, JSON.stringify(eventToJson(e)));
    // And it parses back to the same document.
    assert.deepEqual(JSON.parse(line), eventToJson(e));
  }
});

test('the time memo keys on whole milliseconds', () => {
  const writer = new EventLineWriter();
  const base = randomEvent(new SeededRandom(1));
  for (const timeMs of [1_764_990_000_000.2, 1_764_990_000_000.9, 1_764_990_000_001.0, 1_764_990_000_000.5]) {
    const e = { ...base, timeMs };
    assert.equal(writer.line(e), JSON.stringify(eventToJson(e)));
  }
});
