import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  FRAME_KINDS,
  KIND_INDEX,
  classifyFrame,
  encodeFlags,
  flagNames,
  type FrameKind,
} from '../../src/parsers/frames/kpageflags.js';
import { buddyFreePages, parseBuddyinfo } from '../../src/parsers/proc/buddyinfo.js';
import { parseIomem, systemRamPfns } from '../../src/parsers/proc/iomem.js';
import { parsePagetypeinfo } from '../../src/parsers/proc/pagetypeinfo.js';
import { parseZoneinfo } from '../../src/parsers/proc/zoneinfo.js';
import { fragmentationIndex, unusableIndex } from '../../src/analyses/pages.js';
import { fixturesDir } from '../helpers/paths.js';

const dir = join(fixturesDir, 'pages', '6.18');
const read = (f: string): string => readFileSync(join(dir, f), 'utf8');

function kindOf(names: Parameters<typeof encodeFlags>[0], mapCount = 0): FrameKind {
  const v = encodeFlags(names);
  const k = classifyFrame(Number(v & 0xffffffffn), Number(v >> 32n), mapCount);
  return FRAME_KINDS[k] ?? 'kernel_other';
}

test('kpageflags: bit numbers as in include/uapi/linux/kernel-page-flags.h', () => {
  assert.equal(encodeFlags(['BUDDY']), 1n << 10n);
  assert.equal(encodeFlags(['PGTABLE']), 1n << 26n);
  assert.equal(encodeFlags(['ZERO_PAGE']), 1n << 24n);
  assert.equal(encodeFlags(['RESERVED']), 1n << 32n);
  assert.equal(encodeFlags(['SOFTDIRTY']), 1n << 40n);
  assert.deepEqual(flagNames((1 << 5) | (1 << 12), 1), ['LRU', 'ANON', 'RESERVED']);
  assert.deepEqual(flagNames(0, 1 << 31), ['BIT63']);
});

test('frame kinds: each flag combination counted once, in the documented order', () => {
  assert.equal(kindOf(['NOPAGE', 'BUDDY']), 'hole');
  assert.equal(kindOf(['HWPOISON', 'LRU']), 'offline');
  assert.equal(kindOf(['OFFLINE']), 'offline');
  assert.equal(kindOf(['BUDDY']), 'free');
  assert.equal(kindOf(['HUGE', 'COMPOUND_HEAD', 'ANON']), 'hugetlb');
  assert.equal(kindOf(['SLAB', 'COMPOUND_TAIL']), 'slab');
  assert.equal(kindOf(['PGTABLE']), 'page_tables');
  assert.equal(kindOf(['ZERO_PAGE', 'RESERVED'], 300), 'zero_page');
  assert.equal(kindOf(['ANON', 'THP', 'LRU', 'SWAPBACKED'], 1), 'thp');
  assert.equal(kindOf(['ANON', 'LRU', 'SWAPBACKED', 'DIRTY'], 1), 'anon');
  assert.equal(kindOf(['ANON', 'KSM'], 2), 'anon');
  assert.equal(kindOf(['SWAPBACKED', 'LRU', 'UPTODATE', 'MMAP'], 1), 'shmem');
  // A large folio of the page cache reads THP but is file cache (fs/proc/page.c).
  assert.equal(kindOf(['THP', 'LRU', 'UPTODATE', 'COMPOUND_TAIL']), 'file_unmapped');
  assert.equal(kindOf(['LRU', 'UPTODATE', 'WRITEBACK', 'DIRTY']), 'file_writeback');
  assert.equal(kindOf(['LRU', 'UPTODATE', 'DIRTY', 'MMAP'], 1), 'file_dirty');
  assert.equal(kindOf(['LRU', 'UPTODATE', 'MMAP'], 1), 'file_mapped');
  assert.equal(kindOf(['LRU', 'UPTODATE'], 1), 'file_mapped');
  assert.equal(kindOf(['UPTODATE', 'MAPPEDTODISK']), 'file_unmapped');
  assert.equal(kindOf(['RESERVED']), 'reserved');
  assert.equal(kindOf([]), 'kernel_other');
  // DIRTY alone (no sign of the page cache) tells nothing.
  assert.equal(kindOf(['DIRTY']), 'kernel_other');
  assert.equal(FRAME_KINDS.length, Object.keys(KIND_INDEX).length);
});

test('kpageflags fixture (6.18, 4096 frames of the Normal zone) classifies every frame', () => {
  const flags = new Uint32Array(readFileSync(join(dir, 'kpageflags-1048576-4096')).buffer.slice(0));
  const counts = new Uint32Array(readFileSync(join(dir, 'kpagecount-1048576-4096')).buffer.slice(0));
  assert.equal(flags.length, 8192);
  const seen = new Map<FrameKind, number>();
  for (let i = 0; i < 4096; i++) {
    const k =
      FRAME_KINDS[classifyFrame(flags[2 * i] ?? 0, flags[2 * i + 1] ?? 0, counts[2 * i] ?? 0)] ?? 'kernel_other';
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  assert.equal(
    [...seen.values()].reduce((a, b) => a + b, 0),
    4096,
  );
  assert.equal(seen.get('hole'), undefined, 'holes come from the RAM map, never from these flags');
  assert.ok(seen.size >= 3, `a mix of kinds in the first 16 MiB of Normal: ${JSON.stringify([...seen])}`);
});

test('zoneinfo (6.18): spans, managed, CMA lines and per-CPU list counts', () => {
  const zones = parseZoneinfo(read('zoneinfo'));
  assert.ok(zones);
  const byName = new Map(zones.map((z) => [z.name, z]));
  assert.equal(byName.get('DMA')?.startPfn, 1);
  assert.equal(byName.get('DMA')?.spannedPages, 4095);
  assert.equal(byName.get('DMA32')?.startPfn, 4096);
  assert.equal(byName.get('Normal')?.startPfn, 1048576);
  assert.equal(byName.get('Normal')?.spannedPages, 5505024);
  assert.equal(byName.get('Normal')?.cmaPages, 0);
  assert.equal(byName.get('Normal')?.freeCmaPages, 0);
  assert.ok((byName.get('Normal')?.perCpuListPages ?? 0) > 0);
  // Empty zones print no start_pfn.
  assert.equal(byName.get('Movable')?.startPfn, undefined);
  assert.equal(byName.get('Movable')?.spannedPages, 0);
});

test('buddyinfo (6.18): one count per order; free pages add up', () => {
  const zones = parseBuddyinfo(read('buddyinfo'));
  assert.deepEqual(
    zones.map((z) => [z.node, z.zone, z.freeBlocks.length]),
    [
      [0, 'DMA', 11],
      [0, 'DMA32', 11],
      [0, 'Normal', 11],
    ],
  );
  // Hand-made: 2 blocks of order 0, 1 of order 3 = 10 pages; a 13-order kernel (arm64 64 KiB pages has 14).
  const [z] = parseBuddyinfo(
    'Node 1, zone   Normal      2      0      0      1      0      0      0      0      0      0      0      0      0\n',
  );
  assert.ok(z);
  assert.equal(z.freeBlocks.length, 13);
  assert.equal(buddyFreePages(z), 10);
  assert.throws(() => parseBuddyinfo('garbage\n'), /not a buddyinfo line/);
});

test('pagetypeinfo (6.18, and hand-made with CMA): migrate types read from the headers', () => {
  const p = parsePagetypeinfo(read('pagetypeinfo'));
  assert.ok(p);
  assert.equal(p.pageblockOrder, 9);
  assert.equal(p.pagesPerBlock, 512);
  const normal = p.zones.find((z) => z.zone === 'Normal');
  assert.deepEqual(
    [...(normal?.pageblocks.keys() ?? [])],
    ['Unmovable', 'Movable', 'Reclaimable', 'HighAtomic', 'Isolate'],
  );
  assert.equal(normal?.freeBlocks.get('Movable')?.length, 11);
  // Hand-made, in the shape of a kernel with CONFIG_CMA (a CMA column and type lines) and an extra section.
  const cma = parsePagetypeinfo(
    [
      'Page block order: 9',
      'Pages per block:  512',
      '',
      'Free pages count per migrate type at order       0      1',
      'Node    0, zone    DMA32, type      Movable      1      2',
      'Node    0, zone    DMA32, type          CMA      0      4',
      '',
      'Number of blocks type     Unmovable      Movable          CMA',
      'Node 0, zone    DMA32            3           10           16',
      '',
      'Number of mixed blocks    Unmovable      Movable          CMA',
      'Node 0, zone    DMA32            0            1            0',
      '',
    ].join('\n'),
  );
  assert.equal(cma?.zones[0]?.pageblocks.get('CMA'), 16);
  assert.deepEqual(cma.zones[0].freeBlocks.get('CMA'), [0, 4]);
  assert.equal(parsePagetypeinfo('MemTotal: 1 kB\n'), undefined);
  // Seen on this machine (6.18) under load: a count of 100,000 or more prints as ">100000".
  const capped = parsePagetypeinfo(
    [
      'Page block order: 9',
      'Pages per block:  512',
      '',
      'Free pages count per migrate type at order       0      1      2',
      'Node    0, zone   Normal, type      Movable >100000  96023  41661',
      'Node    0, zone   Normal, type    Unmovable      3      2      1',
      '',
    ].join('\n'),
  );
  assert.deepEqual(capped?.zones[0]?.freeBlocks.get('Movable'), [100000, 96023, 41661]);
  assert.deepEqual([...capped.zones[0].capped], ['Movable']);
});

test('iomem (6.18): System RAM ranges as frames; hidden addresses recognised', () => {
  const io = parseIomem(read('iomem'));
  assert.equal(io.hidden, false);
  assert.deepEqual(systemRamPfns(io, 4096), [
    { startPfn: 1, endPfn: 0xa0 },
    { startPfn: 0x100, endPfn: 0xc0000 },
    { startPfn: 0x100000, endPfn: 0x640000 },
  ]);
  // Hand-made: what a non-root reader sees (every address 0, since 4.15).
  const hidden = parseIomem(
    '00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n  00000000-00000000 : Kernel code\n',
  );
  assert.equal(hidden.hidden, true);
});

test('fragmentation index: the kernel formula (mm/vmstat.c __fragmentation_index)', () => {
  // Only order-0 blocks: 100 free pages. An order-1 request: 1000 - (1000 + 100*1000/2) / 100 = 490 -> 0.49.
  assert.equal(fragmentationIndex([100], 1), 0.49);
  assert.equal(fragmentationIndex([100], 0), null, 'an order-0 block exists');
  assert.equal(fragmentationIndex([], 3), 0);
  assert.equal(fragmentationIndex([0, 0], 1), 0);
  // 1 free page only: order 5 fails for lack of memory, index near 0: 1000 - (1000 + 1000/32)/1 = -31 -> -0.031.
  assert.equal(fragmentationIndex([1], 5), -0.031);
  assert.equal(unusableIndex([100, 0, 25], 2), 0.5);
  assert.equal(unusableIndex([0, 0, 25], 2), 0);
});
