// The address-space model: hand-made cases for each call's semantics, and property tests against
// a deliberately naive reference that keeps a set of page numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { AddressSpace } from '../../src/analyses/trace/address-space.js';
import { MAP_FIXED, MAP_HUGETLB, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../src/base/linux-flags.js';
import { ProcessMemoryModel } from '../../src/analyses/trace/memory-model.js';
import type { MemCall, MemEvent } from '../../src/wire/events.js';

const PAGE = 4096n;
const BASE = 0x7f0000000000n;
const pg = (n: number) => BASE + BigInt(n) * PAGE;

function ev(call: MemCall, fields: Partial<MemEvent>): MemEvent {
  return {
    timeMs: 0,
    ktimeNs: 0n,
    host: 'h',
    pid: 1,
    tid: 1,
    name: 'p',
    thread: 'p',
    call,
    addr: 0n,
    lengthBytes: 0n,
    prot: null,
    flags: null,
    fd: null,
    result: 0n,
    error: null,
    newLengthBytes: null,
    newAddr: null,
    ...fields,
  };
}

/** The naive reference: a set of page numbers. */
class PageSet {
  pages = new Set<bigint>();
  add(s: bigint, e: bigint) {
    for (let a = s; a < e; a += PAGE) this.pages.add(a / PAGE);
  }
  remove(s: bigint, e: bigint) {
    for (let a = s; a < e; a += PAGE) this.pages.delete(a / PAGE);
  }
  get bytes() {
    return BigInt(this.pages.size) * PAGE;
  }
  ranges(): [bigint, bigint][] {
    const sorted = [...this.pages].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const out: [bigint, bigint][] = [];
    for (const p of sorted) {
      const last = out[out.length - 1];
      if (last && last[1] === p * PAGE) last[1] = (p + 1n) * PAGE;
      else out.push([p * PAGE, (p + 1n) * PAGE]);
    }
    return out;
  }
}

test('ranges: add merges overlapping and touching ranges, remove splits', () => {
  const s = new AddressSpace(PAGE);
  s.add(pg(0), pg(4));
  s.add(pg(8), pg(10));
  s.add(pg(4), pg(5)); // touches the first
  assert.deepEqual(s.ranges(), [
    [pg(0), pg(5)],
    [pg(8), pg(10)],
  ]);
  s.add(pg(3), pg(9)); // bridges both
  assert.deepEqual(s.ranges(), [[pg(0), pg(10)]]);
  assert.equal(s.mappedBytes, 10n * PAGE);
  s.remove(pg(2), pg(3));
  s.remove(pg(9), pg(20));
  assert.deepEqual(s.ranges(), [
    [pg(0), pg(2)],
    [pg(3), pg(9)],
  ]);
  assert.equal(s.mappedBytes, 8n * PAGE);
  assert.equal(s.mappedWithin(pg(1), pg(4)), 2n * PAGE);
  s.remove(pg(0), pg(100));
  assert.equal(s.mappedBytes, 0n);
  assert.equal(s.rangeCount, 0);
});

test('property: random adds and removes agree with a page set (5 seeds × 400 operations)', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const rng = new SeededRandom(seed);
    const s = new AddressSpace(PAGE);
    const ref = new PageSet();
    for (let i = 0; i < 400; i++) {
      const a = rng.int(0, 60);
      const b = a + rng.int(0, 12);
      if (rng.next() < 0.55) {
        s.add(pg(a), pg(b));
        ref.add(pg(a), pg(b));
      } else {
        s.remove(pg(a), pg(b));
        ref.remove(pg(a), pg(b));
      }
      assert.equal(s.mappedBytes, ref.bytes, `seed ${seed} op ${i}`);
      assert.deepEqual(s.ranges(), ref.ranges(), `seed ${seed} op ${i}`);
    }
  }
});

test('mmap: lengths round up to pages; MAP_FIXED replaces what it overlaps; failures change nothing', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.apply(ev('mmap', { lengthBytes: 5000n, flags: 0x22, result: pg(0) }));
  assert.equal(m.space.mappedBytes, 2n * PAGE);
  m.apply(ev('mmap', { lengthBytes: 4n * PAGE, flags: 0x22, result: pg(10) }));
  m.apply(ev('mmap', { addr: pg(11), lengthBytes: 4n * PAGE, flags: 0x22 | MAP_FIXED, result: pg(11) }));
  assert.deepEqual(m.space.ranges(), [
    [pg(0), pg(2)],
    [pg(10), pg(15)],
  ]);
  m.apply(ev('mmap', { lengthBytes: 100n * PAGE, flags: 0x22, result: -12n, error: 'ENOMEM' }));
  assert.equal(m.space.mappedBytes, 7n * PAGE);
  // MAP_HUGETLB rounds to the huge page size (2 MiB by default, or the size in the flags' top bits).
  m.apply(ev('mmap', { lengthBytes: 1n, flags: 0x22 | MAP_HUGETLB, result: BASE + 0x40000000n }));
  assert.equal(m.space.mappedBytes, 7n * PAGE + 2n * 1024n * 1024n);
  m.apply(ev('mmap', { lengthBytes: 1n, flags: 0x22 | MAP_HUGETLB | (30 << 26), result: BASE + 0x80000000n }));
  assert.equal(m.space.mappedBytes, 7n * PAGE + 2n * 1024n * 1024n + (1n << 30n));
});

test('munmap: partial, spanning, and of nothing', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.apply(ev('mmap', { lengthBytes: 9n * PAGE, result: pg(0) }));
  m.apply(ev('munmap', { addr: pg(2), lengthBytes: 3n * PAGE }));
  assert.deepEqual(m.space.ranges(), [
    [pg(0), pg(2)],
    [pg(5), pg(9)],
  ]);
  m.apply(ev('munmap', { addr: pg(1), lengthBytes: 5n * PAGE - 1n })); // rounds up: pages 1..5
  assert.deepEqual(m.space.ranges(), [
    [pg(0), pg(1)],
    [pg(6), pg(9)],
  ]);
  m.apply(ev('munmap', { addr: pg(50), lengthBytes: PAGE }));
  m.apply(ev('munmap', { addr: pg(0), lengthBytes: PAGE, result: -22n, error: 'EINVAL' }));
  assert.equal(m.space.mappedBytes, 4n * PAGE);
});

test('mremap: grow and shrink in place, move, MREMAP_FIXED over a mapping, DONTUNMAP, old_len 0', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.apply(ev('mmap', { lengthBytes: 2n * PAGE, result: pg(0) }));
  m.apply(ev('mremap', { addr: pg(0), lengthBytes: 2n * PAGE, newLengthBytes: 5n * PAGE, flags: 0, result: pg(0) }));
  assert.deepEqual(m.space.ranges(), [[pg(0), pg(5)]]);
  m.apply(ev('mremap', { addr: pg(0), lengthBytes: 5n * PAGE, newLengthBytes: 3n * PAGE, flags: 0, result: pg(0) }));
  assert.deepEqual(m.space.ranges(), [[pg(0), pg(3)]]);
  m.apply(
    ev('mremap', {
      addr: pg(0),
      lengthBytes: 3n * PAGE,
      newLengthBytes: 6n * PAGE,
      flags: MREMAP_MAYMOVE,
      result: pg(20),
    }),
  );
  assert.deepEqual(m.space.ranges(), [[pg(20), pg(26)]]);
  m.apply(ev('mmap', { lengthBytes: 4n * PAGE, result: pg(40) }));
  m.apply(
    ev('mremap', {
      addr: pg(20),
      lengthBytes: 6n * PAGE,
      newLengthBytes: 2n * PAGE,
      flags: MREMAP_MAYMOVE | MREMAP_FIXED,
      newAddr: pg(41),
      result: pg(41),
    }),
  );
  assert.deepEqual(m.space.ranges(), [[pg(40), pg(44)]]);
  m.apply(
    ev('mremap', {
      addr: pg(40),
      lengthBytes: PAGE,
      newLengthBytes: PAGE,
      flags: MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
      result: pg(60),
    }),
  );
  assert.deepEqual(m.space.ranges(), [
    [pg(40), pg(44)],
    [pg(60), pg(61)],
  ]);
  m.apply(ev('mremap', { addr: pg(60), lengthBytes: 0n, newLengthBytes: PAGE, flags: MREMAP_MAYMOVE, result: pg(70) }));
  assert.equal(m.space.mappedBytes, 6n * PAGE);
  m.apply(
    ev('mremap', {
      addr: pg(40),
      lengthBytes: PAGE,
      newLengthBytes: 90n * PAGE,
      flags: 0,
      result: -12n,
      error: 'ENOMEM',
    }),
  );
  assert.equal(m.space.mappedBytes, 6n * PAGE);
});

test('brk: grows and shrinks relative to the known break; a failure or a query only teaches the break', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.seed([[pg(0), pg(1)]], pg(100)); // no heap yet: the break is start_brk
  m.apply(ev('brk', { addr: pg(103) + 16n, result: pg(103) + 16n }));
  assert.equal(m.space.mappedWithin(pg(100), pg(200)), 4n * PAGE);
  m.apply(ev('brk', { addr: pg(101), result: pg(101) }));
  assert.equal(m.space.mappedWithin(pg(100), pg(200)), PAGE);
  m.apply(ev('brk', { addr: 1n, result: pg(101), error: 'ENOMEM' }));
  assert.equal(m.space.mappedWithin(pg(100), pg(200)), PAGE);
  // After exec the break is unknown until a brk tells it; growth before that is not guessed.
  m.reset();
  assert.equal(m.complete, false);
  m.apply(ev('brk', { addr: 0n, result: pg(300) }));
  m.apply(ev('brk', { addr: pg(302), result: pg(302) }));
  assert.deepEqual(m.space.ranges(), [[pg(300), pg(302)]]);
});

/** The same call semantics written the simplest way, on a page set. */
function naiveApply(ref: PageSet, brk: { end: bigint | undefined }, e: MemEvent): void {
  const up = (n: bigint) => ((n + PAGE - 1n) / PAGE) * PAGE;
  if (e.call === 'brk') {
    const end = up(e.result);
    if (brk.end !== undefined && e.error === null) {
      ref.remove(end, brk.end);
      ref.add(brk.end, end);
    }
    brk.end = end;
    return;
  }
  if (e.error !== null) return;
  if (e.call === 'mmap') ref.add(e.result, e.result + up(e.lengthBytes));
  if (e.call === 'munmap') ref.remove(e.addr, e.addr + up(e.lengthBytes));
  if (e.call === 'mremap') {
    const oldLen = up(e.lengthBytes);
    const newLen = up(e.newLengthBytes ?? 0n);
    if (e.result === e.addr) {
      ref.remove(e.addr, e.addr + oldLen);
      ref.add(e.addr, e.addr + newLen);
    } else {
      ref.remove(e.addr, e.addr + oldLen);
      ref.add(e.result, e.result + newLen);
    }
  }
}

test('property: random mmap/munmap/mremap/brk sequences agree with the naive page-set model (10 seeds × 300 calls)', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const rng = new SeededRandom(1000 + seed);
    const m = new ProcessMemoryModel(PAGE);
    const ref = new PageSet();
    const brk: { end: bigint | undefined } = { end: pg(200) };
    m.seed([[pg(5), pg(9)]], pg(200));
    ref.add(pg(5), pg(9));
    for (let i = 0; i < 300; i++) {
      const at = pg(rng.int(0, 150));
      const len = BigInt(rng.int(1, 10 * 4096));
      const fails = rng.next() < 0.1;
      let e: MemEvent;
      switch (rng.int(0, 3)) {
        case 0:
          e = ev('mmap', {
            addr: at,
            lengthBytes: len,
            flags: 0x22 | (rng.next() < 0.5 ? MAP_FIXED : 0),
            result: fails ? -12n : at,
            error: fails ? 'ENOMEM' : null,
          });
          break;
        case 1:
          e = ev('munmap', { addr: at, lengthBytes: len, result: fails ? -22n : 0n, error: fails ? 'EINVAL' : null });
          break;
        case 2: {
          const moves = rng.next() < 0.5;
          // A move goes to a place that does not overlap the old range (the kernel refuses overlaps).
          const target = moves ? at + len + PAGE * BigInt(rng.int(1, 20)) - ((at + len) % PAGE) : at;
          e = ev('mremap', {
            addr: at,
            lengthBytes: len,
            newLengthBytes: BigInt(rng.int(1, 12 * 4096)),
            flags: moves ? MREMAP_MAYMOVE : 0,
            result: fails ? -12n : target,
            error: fails ? 'ENOMEM' : null,
          });
          break;
        }
        default: {
          const to = pg(200 + rng.int(0, 30)) + BigInt(rng.int(0, 4095));
          e = ev('brk', { addr: to, result: fails ? (brk.end ?? 0n) : to, error: fails ? 'ENOMEM' : null });
        }
      }
      m.apply(e);
      naiveApply(ref, brk, e);
      assert.equal(m.space.mappedBytes, ref.bytes, `seed ${seed} call ${i} (${e.call})`);
      assert.deepEqual(m.space.ranges(), ref.ranges(), `seed ${seed} call ${i} (${e.call})`);
    }
  }
});
