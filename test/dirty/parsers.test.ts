import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cursor } from '../../src/base/cursor.js';
import { SeededRandom, randomChunks } from '../../src/base/random.js';
import { SoftDirtyScanner, encodePagemapEntry, readPagemapEntry, type PageRange } from '../../src/parsers/pagemap.js';
import { mappingLabel, scannableAreas } from '../../src/analyses/dirty/areas.js';
import { parseMaps } from '../../src/parsers/proc/maps.js';
import { parseSmaps } from '../../src/parsers/proc/smaps.js';
import { fixturesDir } from '../helpers/paths.js';

const dir = join(fixturesDir, 'dirty');
const PAGE = 4096;

function entries(values: bigint[]): Uint8Array {
  const b = new Uint8Array(values.length * 8);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setBigUint64(i * 8, x, true));
  return b;
}

function scan(
  bytes: Uint8Array,
  start: bigint,
  chunks?: Uint8Array[],
): { ranges: PageRange[]; tally: SoftDirtyScanner['tally'] } {
  const s = new SoftDirtyScanner(PAGE, start);
  for (const c of chunks ?? [bytes]) s.feed(c);
  return s.finish();
}

test('pagemap entries: every bit where pagemap.rst puts it', () => {
  const raw = (1n << 63n) | (1n << 61n) | (1n << 56n) | (1n << 55n) | 0x123456789n;
  const e = readPagemapEntry(new Cursor(entries([raw]), true));
  assert.deepEqual(e, {
    present: true,
    swapped: false,
    fileOrSharedAnon: true,
    exclusive: true,
    softDirty: true,
    uffdWriteProtected: false,
    guard: false,
    pfn: 0x123456789n,
  });
  const swapped = readPagemapEntry(new Cursor(entries([(1n << 62n) | (1n << 57n) | 0x1fn]), true));
  assert.equal(swapped.present, false);
  assert.equal(swapped.swapped, true);
  assert.equal(swapped.uffdWriteProtected, true);
  assert.equal(swapped.pfn, undefined);
  assert.equal(readPagemapEntry(new Cursor(entries([1n << 58n]), true)).guard, true);
  for (const e2 of [
    { present: true, softDirty: true, pfn: 42n },
    { swapped: true, exclusive: true },
    { guard: true },
  ]) {
    const back = readPagemapEntry(new Cursor(entries([encodePagemapEntry(e2)]), true));
    for (const [k, v] of Object.entries(e2)) assert.equal(back[k as keyof typeof back], v);
  }
});

test('real pagemap of a soft-dirty kernel (6.1.0-56-amd64): exactly the 80 written pages, compacted', () => {
  const bytes = new Uint8Array(readFileSync(join(dir, 'pagemap-6.1.0-56-amd64-after-clear.bin')));
  const start = 0x7f607313b000n;
  const { ranges, tally } = scan(bytes, start);
  assert.equal(tally.pages, 2000);
  assert.equal(tally.present, 2000);
  assert.equal(tally.swapped, 0);
  assert.equal(tally.softDirty, 80);
  assert.equal(tally.softDirtyHoles, 0);
  const expected: [bigint, bigint, number][] = [];
  for (let i = 0; i < 50; i++)
    expected.push([start + BigInt((10 + 7 * i) * PAGE), start + BigInt((11 + 7 * i) * PAGE), 1]);
  expected.push([start + 1500n * BigInt(PAGE), start + 1530n * BigInt(PAGE), 30]);
  assert.deepEqual(
    ranges.map((r) => [r.start, r.end, r.pages]),
    expected,
  );
  // Every entry is present and exclusive; bit 55 only on the written ones.
  const c = new Cursor(bytes, true);
  const dirty = new Set(
    expected.flatMap(([s, e]) =>
      Array.from({ length: Number((e - s) / BigInt(PAGE)) }, (_, k) => Number((s - start) / BigInt(PAGE)) + k),
    ),
  );
  for (let i = 0; i < 2000; i++) {
    const e = readPagemapEntry(c);
    assert.equal(e.present && e.exclusive, true);
    assert.equal(e.softDirty, dirty.has(i), `page ${i}`);
  }
});

test('the scanner gives the same answer at hostile chunk boundaries (entries split anywhere)', () => {
  const real = new Uint8Array(readFileSync(join(dir, 'pagemap-6.1.0-56-amd64-after-clear.bin')));
  const whole = scan(real, 0x7f607313b000n);
  for (let seed = 1; seed <= 25; seed++) {
    const rng = new SeededRandom(seed);
    const got = scan(real, 0x7f607313b000n, randomChunks(real, rng, seed % 3 === 0 ? 7 : 300));
    assert.deepEqual(got, whole, `seed ${seed}`);
  }
});

test('only present or swapped pages count; soft-dirty holes are counted apart; ranges end where they should', () => {
  const sd = 1n << 55n;
  const p = 1n << 63n;
  const s = 1n << 62n;
  const bytes = entries([p | sd, s | sd, sd, p | sd, p, p | sd, p | sd]);
  const { ranges, tally } = scan(bytes, 0x1000n);
  assert.deepEqual(
    ranges.map((r) => [r.start, r.end, r.pages]),
    [
      [0x1000n, 0x3000n, 2],
      [0x4000n, 0x5000n, 1],
      [0x6000n, 0x8000n, 2],
    ],
  );
  assert.deepEqual(tally, { pages: 7, present: 5, swapped: 1, softDirty: 5, softDirtyHoles: 1 });
  // A short read: the rest of the interval has no pages and closes the open range.
  const sc = new SoftDirtyScanner(PAGE, 0n);
  sc.feed(entries([p | sd, p | sd]));
  sc.skipPages(3);
  const r = sc.finish();
  assert.deepEqual(
    r.ranges.map((x) => [x.start, x.end]),
    [[0n, 0x2000n]],
  );
  assert.equal(r.tally.pages, 5);
});

test('the maps and smaps that memlens dirty needs: labels, VmFlags, Referenced and AnonHugePages', () => {
  const { vmas, badLines } = parseMaps(readFileSync(join(dir, 'maps-6.18.44-sleep.txt'), 'utf8'));
  assert.equal(badLines, 0);
  assert.equal(vmas.length, 37);
  for (let i = 1; i < vmas.length; i++)
    assert.ok((vmas[i]?.start ?? 0n) >= (vmas[i - 1]?.end ?? 0n), 'sorted, not overlapping');
  const odd = parseMaps(
    [
      '7f00000000-7f00001000 rw-s 00000000 00:01 1234                       /dev/shm/a name with spaces (deleted)',
      '7f00001000-7f00002000 rw-p 00000000 00:00 0 ',
      '7f00002000-7f00003000 rw-p 00000000 00:00 0                          [anon:v8 heap]',
      '7f00003000-7f00004000 rw-s 00000000 00:01 99',
      '7f00004000-7f00005000 ---p 00000000 00:00 0',
      'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
      '',
    ].join('\n'),
  ).vmas;
  assert.deepEqual(
    odd.map((a) => mappingLabel(a)),
    ['/dev/shm/a name with spaces (deleted)', '[anon]', '[anon:v8 heap]', '[anon shared]', '[anon]', '[vsyscall]'],
  );
  // PROT_NONE and [vsyscall] are never scanned.
  assert.equal(scannableAreas(odd).length, 4);
  const smaps = parseSmaps(readFileSync(join(dir, 'smaps-6.18.44-sleep.txt'), 'utf8')) ?? assert.fail('not smaps');
  assert.equal(smaps.length, 37);
  const stack = smaps.find((e) => e.name === '[stack]') ?? assert.fail('no stack');
  assert.ok((stack.counters.referencedBytes ?? 0) > 0 && (stack.counters.referencedBytes ?? 0) % 4096 === 0);
  assert.equal(stack.counters.anonHugePagesBytes, 0);
  // This kernel has no soft-dirty: no area carries "sd".
  assert.ok(smaps.every((e) => !e.vmFlags.includes('sd')));
  const made =
    parseSmaps(
      '1000-3000 rw-p 00000000 00:00 0\nRss:                   8 kB\nReferenced:            4 kB\nAnonHugePages:      2048 kB\nVmFlags: rd wr mr mw me ac sd \n',
    ) ?? assert.fail('not smaps');
  const one = made[0] ?? assert.fail('no area');
  assert.equal(one.counters.referencedBytes, 4096);
  assert.equal(one.counters.anonHugePagesBytes, 2 * 1024 * 1024);
  assert.deepEqual(one.vmFlags, ['rd', 'wr', 'mr', 'mw', 'me', 'ac', 'sd']);
});
