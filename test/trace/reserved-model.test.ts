// Reserved (PROT_NONE) and requested (accessible) bytes of the address-space model: hand-made
// event sequences whose figures are worked out by hand, a property test against a naive model that
// keeps the kind of every page, and the /proc seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { MAP_FIXED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../src/base/linux-flags.js';
import { ProcessMemoryModel } from '../../src/analyses/trace/memory-model.js';
import { ProcessAccounts } from '../../src/analyses/trace/process-accounts.js';
import { parseMapsRanges } from '../../src/parsers/trace/seed.js';
import type { MemCall, MemEvent } from '../../src/wire/events.js';

const PAGE = 4096n;
const MIB = 1024n * 1024n;
const GIB = 1024n * MIB;
const BASE = 0x7f0000000000n;
const pg = (n: number) => BASE + BigInt(n) * PAGE;
const NONE = 0;
const RW = 3;
const MAP_ANON_PRIVATE = 0x22;
const MAP_NORESERVE = 0x4000;

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

const mmap = (at: bigint, len: bigint, prot: number, flags = MAP_ANON_PRIVATE) =>
  ev('mmap', { addr: 0n, lengthBytes: len, prot, flags, fd: -1, result: at });
const mprotect = (at: bigint, len: bigint, prot: number) =>
  ev('mprotect', { addr: at, lengthBytes: len, prot, result: 0n });
const munmap = (at: bigint, len: bigint) => ev('munmap', { addr: at, lengthBytes: len, result: 0n });
const mremap = (at: bigint, oldLen: bigint, newLen: bigint, flags: number, result: bigint) =>
  ev('mremap', { addr: at, lengthBytes: oldLen, newLengthBytes: newLen, flags, result });

function figures(m: ProcessMemoryModel): { reserved: bigint; requested: bigint; mapped: bigint } {
  return { reserved: m.reservedBytes, requested: m.requestedBytes, mapped: m.space.mappedBytes };
}

test('a V8-style reservation: 64 GiB PROT_NONE, 8 MiB made read-write, 2 MiB back to PROT_NONE', () => {
  const m = new ProcessMemoryModel(PAGE);
  const at = 0x7e0000000000n;
  m.apply(mmap(at, 64n * GIB, NONE, MAP_ANON_PRIVATE | MAP_NORESERVE));
  assert.deepEqual(figures(m), { reserved: 64n * GIB, requested: 0n, mapped: 64n * GIB });
  m.apply(mprotect(at + 4n * MIB, 8n * MIB, RW));
  assert.deepEqual(figures(m), { reserved: 64n * GIB - 8n * MIB, requested: 8n * MIB, mapped: 64n * GIB });
  m.apply(mprotect(at + 10n * MIB, 2n * MIB, NONE));
  assert.deepEqual(figures(m), { reserved: 64n * GIB - 6n * MIB, requested: 6n * MIB, mapped: 64n * GIB });
  assert.deepEqual(m.reserved.ranges(), [
    [at, at + 4n * MIB],
    [at + 10n * MIB, at + 64n * GIB],
  ]);
  // A failed mprotect changes nothing.
  m.apply(ev('mprotect', { addr: at, lengthBytes: 64n * GIB, prot: RW, result: -12n, error: 'ENOMEM' }));
  assert.deepEqual(figures(m), { reserved: 64n * GIB - 6n * MIB, requested: 6n * MIB, mapped: 64n * GIB });
});

test('mprotect: partial overlaps with what is already of that kind count once; lengths round up to pages', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.apply(mmap(pg(0), 20n * PAGE, NONE));
  m.apply(mprotect(pg(2), 4n * PAGE, RW)); // pages 2..5
  m.apply(mprotect(pg(4), 4n * PAGE, RW)); // 4..7: 4, 5 already accessible
  assert.deepEqual(figures(m), { reserved: 14n * PAGE, requested: 6n * PAGE, mapped: 20n * PAGE });
  m.apply(mprotect(pg(1), 2n * PAGE, NONE)); // 1..2: 1 already reserved
  assert.deepEqual(figures(m), { reserved: 15n * PAGE, requested: 5n * PAGE, mapped: 20n * PAGE });
  m.apply(mprotect(pg(10), 1n, 5)); // PROT_READ|PROT_EXEC on one byte: the whole page 10
  assert.deepEqual(figures(m), { reserved: 14n * PAGE, requested: 6n * PAGE, mapped: 20n * PAGE });
  // PROT_GROWSDOWN alone grants no access.
  m.apply(mprotect(pg(10), PAGE, 0x01000000));
  assert.deepEqual(figures(m), { reserved: 15n * PAGE, requested: 5n * PAGE, mapped: 20n * PAGE });
});

test('mprotect across two mappings, one accessible and one reserved, both ways', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.apply(mmap(pg(0), 8n * PAGE, RW));
  m.apply(mmap(pg(8), 8n * PAGE, NONE));
  assert.deepEqual(figures(m), { reserved: 8n * PAGE, requested: 8n * PAGE, mapped: 16n * PAGE });
  m.apply(mprotect(pg(6), 4n * PAGE, NONE)); // 6, 7 of the first; 8, 9 already reserved
  assert.deepEqual(figures(m), { reserved: 10n * PAGE, requested: 6n * PAGE, mapped: 16n * PAGE });
  m.apply(mprotect(pg(4), 8n * PAGE, 1)); // 4..11 readable
  assert.deepEqual(figures(m), { reserved: 4n * PAGE, requested: 12n * PAGE, mapped: 16n * PAGE });
  assert.deepEqual(m.reserved.ranges(), [[pg(12), pg(16)]]);
});

test('mprotect that succeeds proves its range mapped: a model that missed it (after exec) learns it', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.reset();
  m.apply(mprotect(pg(0), 2n * PAGE, 1));
  m.apply(mprotect(pg(4), 2n * PAGE, NONE));
  assert.deepEqual(figures(m), { reserved: 2n * PAGE, requested: 2n * PAGE, mapped: 4n * PAGE });
});

test('munmap of a partly accessible range takes from both totals; mmap over a reservation replaces it', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.apply(mmap(pg(0), 16n * PAGE, NONE));
  m.apply(mprotect(pg(4), 4n * PAGE, RW)); // 4..7 accessible
  m.apply(munmap(pg(2), 4n * PAGE)); // 2, 3 reserved and 4, 5 accessible go
  assert.deepEqual(figures(m), { reserved: 10n * PAGE, requested: 2n * PAGE, mapped: 12n * PAGE });
  // V8 also commits by mapping MAP_FIXED read-write over its reservation.
  m.apply(mmap(pg(8), 4n * PAGE, RW, MAP_ANON_PRIVATE | MAP_FIXED));
  assert.deepEqual(figures(m), { reserved: 6n * PAGE, requested: 6n * PAGE, mapped: 12n * PAGE });
  // And gives memory back by mapping PROT_NONE over it again.
  m.apply(mmap(pg(6), 4n * PAGE, NONE, MAP_ANON_PRIVATE | MAP_FIXED));
  assert.deepEqual(figures(m), { reserved: 10n * PAGE, requested: 2n * PAGE, mapped: 12n * PAGE });
  m.apply(munmap(pg(0), 16n * PAGE));
  assert.deepEqual(figures(m), { reserved: 0n, requested: 0n, mapped: 0n });
});

test('mremap: a reservation grows reserved, an accessible mapping grows requested; a move keeps each page its kind', () => {
  const m = new ProcessMemoryModel(PAGE);
  m.apply(mmap(pg(0), 4n * PAGE, NONE));
  m.apply(mremap(pg(0), 4n * PAGE, 6n * PAGE, 0, pg(0))); // in place, grows: reserved
  assert.deepEqual(figures(m), { reserved: 6n * PAGE, requested: 0n, mapped: 6n * PAGE });
  m.apply(mmap(pg(20), 4n * PAGE, RW));
  m.apply(mremap(pg(20), 4n * PAGE, 8n * PAGE, MREMAP_MAYMOVE, pg(40))); // moves and grows: requested
  assert.deepEqual(figures(m), { reserved: 6n * PAGE, requested: 8n * PAGE, mapped: 14n * PAGE });
  // A reservation with an accessible hole moves as it is: pages 1, 2 of the six stay accessible.
  m.apply(mprotect(pg(1), 2n * PAGE, RW));
  m.apply(mremap(pg(0), 6n * PAGE, 6n * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, pg(60)));
  assert.deepEqual(m.reserved.ranges(), [
    [pg(60), pg(61)],
    [pg(63), pg(66)],
  ]);
  assert.deepEqual(figures(m), { reserved: 4n * PAGE, requested: 10n * PAGE, mapped: 14n * PAGE });
  // Shrinking in place drops the tail, of whichever kind.
  m.apply(mremap(pg(60), 6n * PAGE, 2n * PAGE, 0, pg(60)));
  assert.deepEqual(figures(m), { reserved: PAGE, requested: 9n * PAGE, mapped: 10n * PAGE });
  // MREMAP_DONTUNMAP leaves the old range mapped with its protection, and maps the new one too.
  m.apply(mremap(pg(60), 2n * PAGE, 2n * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, pg(80)));
  assert.deepEqual(figures(m), { reserved: 2n * PAGE, requested: 10n * PAGE, mapped: 12n * PAGE });
  // old_len 0 duplicates a shared mapping: the copy has the protection of the original.
  m.apply(mremap(pg(80), 0n, 3n * PAGE, MREMAP_MAYMOVE, pg(90)));
  assert.deepEqual(figures(m), { reserved: 5n * PAGE, requested: 10n * PAGE, mapped: 15n * PAGE });
});

/** The naive reference: the kind of every mapped page. */
function naiveApply(pages: Map<bigint, 'reserved' | 'requested'>, e: MemEvent): void {
  const up = (n: bigint) => ((n + PAGE - 1n) / PAGE) * PAGE;
  const set = (s: bigint, t: bigint, kind: 'reserved' | 'requested' | null) => {
    for (let p = s; p < t; p += PAGE) {
      if (kind === null) pages.delete(p);
      else pages.set(p, kind);
    }
  };
  if (e.error !== null) return;
  const kindOf = (prot: number | null) => (((prot ?? 7) & 7) === 0 ? 'reserved' : 'requested');
  if (e.call === 'mmap') set(e.result, e.result + up(e.lengthBytes), kindOf(e.prot));
  if (e.call === 'munmap') set(e.addr, e.addr + up(e.lengthBytes), null);
  if (e.call === 'mprotect') set(e.addr, e.addr + up(e.lengthBytes), kindOf(e.prot));
  if (e.call === 'mremap') {
    const oldLen = up(e.lengthBytes);
    const newLen = up(e.newLengthBytes ?? 0n);
    const grown = pages.get(e.addr) === 'reserved' ? 'reserved' : 'requested';
    const old = new Map<bigint, 'reserved' | 'requested'>();
    for (let off = 0n; off < oldLen; off += PAGE) {
      const k = pages.get(e.addr + off);
      if (k !== undefined) old.set(off, k);
    }
    set(e.addr, e.addr + oldLen, null);
    for (let off = 0n; off < newLen; off += PAGE)
      pages.set(e.result + off, off < oldLen ? (old.get(off) ?? 'requested') : grown);
  }
}

test('property: random mmap/munmap/mprotect/mremap sequences agree with a naive page-kind model (10 seeds × 300 calls)', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const rng = new SeededRandom(7000 + seed);
    const m = new ProcessMemoryModel(PAGE);
    const pages = new Map<bigint, 'reserved' | 'requested'>();
    for (let i = 0; i < 300; i++) {
      const at = pg(rng.int(0, 150));
      const len = BigInt(rng.int(1, 10 * 4096));
      const prot = rng.next() < 0.5 ? NONE : rng.int(1, 7);
      const fails = rng.next() < 0.1;
      let e: MemEvent;
      switch (rng.int(0, 3)) {
        case 0:
          e = ev('mmap', {
            addr: at,
            lengthBytes: len,
            prot,
            flags: MAP_ANON_PRIVATE | MAP_FIXED,
            result: fails ? -12n : at,
            error: fails ? 'ENOMEM' : null,
          });
          break;
        case 1:
          e = ev('munmap', { addr: at, lengthBytes: len, result: fails ? -22n : 0n, error: fails ? 'EINVAL' : null });
          break;
        case 2:
          e = ev('mprotect', {
            addr: at,
            lengthBytes: len,
            prot,
            result: fails ? -12n : 0n,
            error: fails ? 'ENOMEM' : null,
          });
          break;
        default: {
          const moves = rng.next() < 0.5;
          const target = moves ? at + len + PAGE * BigInt(rng.int(1, 20)) - ((at + len) % PAGE) : at;
          e = ev('mremap', {
            addr: at,
            lengthBytes: len,
            newLengthBytes: BigInt(rng.int(1, 12 * 4096)),
            flags: moves ? MREMAP_MAYMOVE : 0,
            result: fails ? -12n : target,
            error: fails ? 'ENOMEM' : null,
          });
        }
      }
      m.apply(e);
      naiveApply(pages, e);
      const reserved = BigInt([...pages.values()].filter((k) => k === 'reserved').length) * PAGE;
      const requested = BigInt([...pages.values()].filter((k) => k === 'requested').length) * PAGE;
      assert.deepEqual(
        figures(m),
        { reserved, requested, mapped: reserved + requested },
        `seed ${seed} call ${i} (${e.call})`,
      );
    }
  }
});

test('seed: ---p and ---s mappings are reserved, the rest requested; fork copies, exit keeps the last figures', () => {
  const maps = [
    '7f0000000000-7f0000004000 r--p 00000000 08:01 12 /usr/lib/libc.so.6',
    '7f0000004000-7f0000010000 ---p 00004000 08:01 12 /usr/lib/libc.so.6',
    '7f0000010000-7f0000012000 rw-p 00000000 00:00 0 ',
    '7f0000012000-7f0000013000 ---s 00000000 00:05 7 /memfd:guard (deleted)',
    '7f0000020000-7f0001020000 ---p 00000000 00:00 0 ',
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
    '',
  ].join('\n');
  const parsed = parseMapsRanges(maps, 'maps');
  assert.deepEqual(parsed.reserved, [
    [0x7f0000004000n, 0x7f0000010000n],
    [0x7f0000012000n, 0x7f0000013000n],
    [0x7f0000020000n, 0x7f0001020000n],
  ]);
  const accounts = new ProcessAccounts(PAGE);
  accounts.seed([{ pid: 10, name: 'chrome', ranges: parsed.ranges, reserved: parsed.reserved, brk: undefined }]);
  accounts.applyEvent({ ...mprotect(0x7f0000020000n, 0x100000n, RW), pid: 10, name: 'chrome' });
  const row = accounts.rows(100n * GIB).find((r) => r.pid === 10);
  const reserved = 0xc000n + 0x1000n + 0x1000000n - 0x100000n;
  const requested = 0x4000n + 0x2000n + 0x100000n;
  assert.equal(row?.reservedBytes, reserved);
  assert.equal(row.requestedBytes, requested);
  assert.equal(row.mappedNowBytes, reserved + requested);
  assert.equal(row.requestedPercent, (Number(requested) * 100) / Number(100n * GIB));
  accounts.applyLifecycle({
    kind: 'fork',
    ktimeNs: 1n,
    parentPid: 10,
    childPid: 11,
    childTid: 11,
    isThread: false,
    name: 'chrome',
  });
  accounts.applyEvent({ ...munmap(0x7f0000020000n, 0x1000000n), pid: 11, name: 'chrome' });
  accounts.applyLifecycle({ kind: 'exit', ktimeNs: 2n, pid: 11, tid: 11, name: 'chrome' });
  const child = accounts.rows(100n * GIB).find((r) => r.pid === 11);
  assert.equal(child?.exited, true);
  assert.equal(child.mappedNowBytes, null);
  assert.equal(child.reservedBytes, 0xc000n + 0x1000n);
  assert.equal(child.requestedBytes, 0x4000n + 0x2000n);
  // A live process that made no call shows up only when asked for (the dashboard asks).
  accounts.seed([{ pid: 12, name: 'quiet', ranges: [[pg(0), pg(3)]], reserved: [[pg(1), pg(2)]], brk: undefined }]);
  assert.equal(
    accounts.rows(100n * GIB).find((r) => r.pid === 12),
    undefined,
  );
  const quiet = accounts.rows(100n * GIB, true).find((r) => r.pid === 12);
  assert.deepEqual([quiet?.reservedBytes, quiet?.requestedBytes, quiet?.calls], [PAGE, 2n * PAGE, 0]);
});
