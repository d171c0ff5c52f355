import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dominantKinds, walkFrames } from '../../src/analyses/frame-walk.js';
import { collectPages, frameDetails } from '../../src/analyses/pages.js';
import {
  FRAME_KINDS,
  KIND_COUNT,
  KIND_INDEX,
  encodeFlags,
  type FrameKind,
} from '../../src/parsers/frames/kpageflags.js';
import { openFrameFiles, type FrameFiles } from '../../src/sources/frames.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { renderPages } from '../../src/render/pages-text.js';
import { palette } from '../../src/render/text.js';

// Hand-made: 64 frames. 0-3 a hole (not System RAM), 4-19 zone DMA, 20-63 zone Normal.
// Frames by kind are laid out in runs so that the expected counts can be read off the table.
const LAYOUT: [number, number, Parameters<typeof encodeFlags>[0], number][] = [
  // [first, count, flags, map count]
  [0, 4, [], 0],
  [4, 2, ['RESERVED'], 0],
  [6, 10, ['BUDDY'], 0],
  [16, 4, ['SLAB'], 0],
  [20, 8, ['ANON', 'LRU', 'SWAPBACKED'], 1],
  [28, 4, ['ANON', 'THP', 'LRU', 'SWAPBACKED'], 1],
  [32, 6, ['SWAPBACKED', 'LRU', 'UPTODATE'], 1],
  [38, 5, ['LRU', 'UPTODATE', 'MMAP'], 2],
  [43, 7, ['LRU', 'UPTODATE', 'THP'], 0],
  [50, 3, ['LRU', 'UPTODATE', 'DIRTY'], 0],
  [53, 1, ['LRU', 'UPTODATE', 'WRITEBACK'], 0],
  [54, 2, ['PGTABLE'], 0],
  [56, 8, [], 0],
];

function bytesOf(): { flags: Uint8Array; counts: Uint8Array } {
  const flags = new Uint8Array(64 * 8);
  const counts = new Uint8Array(64 * 8);
  const fv = new DataView(flags.buffer);
  const cv = new DataView(counts.buffer);
  for (const [first, n, names, mc] of LAYOUT)
    for (let i = first; i < first + n; i++) {
      fv.setBigUint64(i * 8, encodeFlags(names), true);
      cv.setBigUint64(i * 8, BigInt(mc), true);
    }
  return { flags, counts };
}

function memoryFiles(): FrameFiles {
  const { flags, counts } = bytesOf();
  return {
    reads: 0,
    read(start, frames, f, c) {
      const from = start * 8;
      const end = Math.min(flags.length, from + frames * 8);
      if (end <= from) return 0;
      f.set(flags.subarray(from, end));
      c.set(counts.subarray(from, end));
      return (end - from) / 8;
    },
    close() {},
  };
}

const ZONES = [
  { startPfn: 4, endPfn: 20 },
  { startPfn: 20, endPfn: 64 },
];
const RAM = [{ startPfn: 4, endPfn: 64 }];
const at = (counts: ArrayLike<number>, zone: number, kind: FrameKind): number =>
  counts[zone * KIND_COUNT + KIND_INDEX[kind]] ?? 0;

test('frame walk (hand-made): each frame once, per zone, whatever the window size', () => {
  for (const windowFrames of [1, 3, 7, 64, 1000]) {
    const w = walkFrames(
      memoryFiles(),
      { zones: ZONES, ram: RAM },
      { startPfn: 0, endPfn: 64, cells: 8, windowFrames },
    );
    assert.equal(w.framesRead, 64);
    assert.equal(w.outsideCounts[KIND_INDEX.hole], 4, `window ${windowFrames}`);
    assert.equal(at(w.zoneCounts, 0, 'reserved'), 2);
    assert.equal(at(w.zoneCounts, 0, 'free'), 10);
    assert.equal(at(w.zoneCounts, 0, 'slab'), 4);
    assert.equal(at(w.zoneCounts, 1, 'anon'), 8);
    assert.equal(at(w.zoneCounts, 1, 'thp'), 4);
    assert.equal(at(w.zoneCounts, 1, 'shmem'), 6);
    assert.equal(at(w.zoneCounts, 1, 'file_mapped'), 5);
    assert.equal(at(w.zoneCounts, 1, 'file_unmapped'), 7);
    assert.equal(at(w.zoneCounts, 1, 'file_dirty'), 3);
    assert.equal(at(w.zoneCounts, 1, 'file_writeback'), 1);
    assert.equal(at(w.zoneCounts, 1, 'page_tables'), 2);
    assert.equal(at(w.zoneCounts, 1, 'kernel_other'), 8);
    assert.equal(w.largeFolioCounts[KIND_INDEX.file_unmapped], 7);
    assert.equal(w.largeFolioCounts[KIND_INDEX.thp], 4);
    const total = [...w.zoneCounts, ...w.outsideCounts].reduce((a, b) => a + b, 0);
    assert.equal(total, 64);
    // 8 cells of 8 frames. Cell 0: 4 hole + 2 reserved + 2 free, a tie: the kind first in FRAME_KINDS wins
    // and a hole never does; cell 3: 4 anon + 4 THP (tie, THP first); cell 5: 3 mapped + 5 unmapped;
    // cell 6: 2 unmapped + 3 dirty + 1 writeback + 2 page tables.
    assert.equal(w.framesPerCell, 8);
    const dom = dominantKinds(w).map((k) => FRAME_KINDS[k]);
    assert.deepEqual(dom, ['free', 'free', 'slab', 'thp', 'shmem', 'file_unmapped', 'file_dirty', 'kernel_other']);
    const cellSum = w.cellCounts.reduce((a, b) => a + b, 0);
    assert.equal(cellSum, 64);
  }
});

test('frame walk: a sub-range, and files that end before the zones do', () => {
  const w = walkFrames(memoryFiles(), { zones: ZONES, ram: RAM }, { startPfn: 20, endPfn: 28, cells: 8 });
  assert.equal(w.framesRead, 8);
  assert.equal(at(w.zoneCounts, 1, 'anon'), 8);
  assert.equal(w.framesPerCell, 1);
  const short = walkFrames(
    memoryFiles(),
    { zones: ZONES, ram: RAM },
    { startPfn: 0, endPfn: 200, cells: 0, windowFrames: 16 },
  );
  assert.equal(short.framesRead, 64);
  assert.equal(short.cellCount, 0);
  // Without a RAM map, flags alone decide: the 4 flagless frames before DMA are "kernel, other".
  const noRam = walkFrames(memoryFiles(), { zones: ZONES, ram: undefined }, { startPfn: 0, endPfn: 64, cells: 0 });
  assert.equal(noRam.outsideCounts[KIND_INDEX.kernel_other], 4);
});

test('collectPages over a hand-made proc root: zones, nodes, the ledger comparison, CMA, single frames', async () => {
  const root = mkdtempSync(join(tmpdir(), 'memlens-pages-'));
  try {
    const { flags, counts } = bytesOf();
    writeFileSync(join(root, 'kpageflags'), flags);
    writeFileSync(join(root, 'kpagecount'), counts);
    mkdirSync(join(root, 'sys', 'kernel'), { recursive: true });
    writeFileSync(join(root, 'sys', 'kernel', 'osrelease'), '6.1.0-hand-made\n');
    writeFileSync(
      join(root, 'meminfo'),
      [
        'MemTotal: 240 kB',
        'MemFree: 40 kB',
        'Cached: 88 kB',
        'Shmem: 24 kB',
        'AnonPages: 48 kB',
        'CmaTotal: 32 kB',
        'CmaFree: 8 kB',
        '',
      ].join('\n'),
    );
    const zone = (name: string, start: number, spanned: number, free: number, node = 0): string =>
      [
        `Node ${node}, zone ${name.padStart(8)}`,
        `  pages free     ${free}`,
        '        min      1',
        '        low      2',
        '        high     3',
        `        spanned  ${spanned}`,
        `        present  ${spanned}`,
        `        managed  ${spanned - 2}`,
        `        cma      8`,
        '        protection: (0, 0)',
        `      nr_free_cma  2`,
        '  pagesets',
        '    cpu: 0',
        '              count:    5',
        `  start_pfn:           ${start}`,
      ].join('\n');
    writeFileSync(join(root, 'zoneinfo'), `${zone('DMA', 4, 16, 10)}\n${zone('Normal', 20, 44, 0)}\n`);
    writeFileSync(
      join(root, 'buddyinfo'),
      'Node 0, zone      DMA      2      0      2\nNode 0, zone   Normal      0      0      0\n',
    );
    writeFileSync(
      join(root, 'iomem'),
      '00000000-00003fff : Reserved\n00004000-0003ffff : System RAM\n  00004000-00005fff : Kernel code\n',
    );
    const source = openLiveProcSource(root);
    const r = await collectPages(source, openFrameFiles, { cells: 4 });
    assert.equal(r.kernel, '6.1.0-hand-made');
    assert.equal(r.frames.read, true);
    // The walk starts where RAM and the first zone do (frame 4): the reserved frames below are
    // not RAM, so they are not read, not counted as holes.
    assert.equal(r.frames.startPfn, 4);
    assert.equal(r.frames.framesRead, 60);
    assert.deepEqual(r.frames.ramRanges, [{ startPfn: 4, endPfn: 64 }]);
    const kinds = new Map(r.kinds.map((k) => [k.key, k.pages]));
    assert.equal(kinds.get('hole'), 0);
    assert.equal(kinds.get('free'), 10);
    assert.equal(
      r.kinds.reduce((s, k) => s + k.pages, 0),
      60,
    );
    assert.equal(r.nodes.length, 1);
    assert.equal(
      r.nodes[0]?.kindPages.reduce((a, b) => a + b, 0),
      60,
      'every frame read is in a zone',
    );
    assert.deepEqual(r.outsideZonesKindPages?.[KIND_INDEX.hole], 0);
    const row = new Map(r.reconciliation.map((x) => [x.key, x]));
    // 10 free frames of 4 KiB against MemFree 40 KiB.
    assert.equal(row.get('free')?.differenceBytes, 0);
    // 12 anonymous frames (8 + 4 THP) against AnonPages 48 KiB.
    assert.equal(row.get('anon')?.differenceBytes, 0);
    assert.equal(row.get('shmem')?.differenceBytes, 0);
    // File cache: 5 + 7 + 3 + 1 frames = 64 KiB; Cached − Shmem = 64 KiB.
    assert.equal(row.get('file')?.framesBytes, 16 * 4096);
    assert.equal(row.get('file')?.differenceBytes, 0);
    assert.equal(row.get('unmanaged')?.ledgerBytes, 4 * 4096);
    assert.equal(r.cma?.totalBytes, 32 * 1024);
    assert.deepEqual(
      r.cma.zones.map((z) => z.cmaPages),
      [8, 8],
    );
    assert.equal(r.buddy?.zones[0]?.freePages, 10);
    assert.equal(r.map?.cells.length, 4);
    assert.equal(r.map.framesPerCell, 15); // 60 frames from frame 4 in 4 cells
    // A sub-range leaves the ledger comparison out and says so.
    const part = await collectPages(source, openFrameFiles, { startPfn: 20, endPfn: 28 });
    assert.equal(part.reconciliation.length, 0);
    assert.ok(part.notes.some((n) => n.includes('frames 20–28 only')));
    // Hand-made: the same frames on two NUMA nodes (DMA on node 0, Normal on node 1).
    writeFileSync(join(root, 'zoneinfo'), `${zone('DMA', 4, 16, 10, 0)}\n${zone('Normal', 20, 44, 0, 1)}\n`);
    const numa = await collectPages(source, openFrameFiles);
    assert.deepEqual(
      numa.nodes.map((n) => [n.node, n.kindPages.reduce((a, b) => a + b, 0)]),
      [
        [0, 16],
        [1, 44],
      ],
    );
    assert.equal(numa.nodes[1]?.kindPages[KIND_INDEX.anon], 8);
    const text = renderPages(numa, false, palette(false));
    assert.match(text, /node 0 +node 1/);
    assert.match(text, /DMA@0 +Normal@1/);
    const detail = await frameDetails(source, openFrameFiles, 28, 2);
    assert.deepEqual(detail[0], {
      pfn: 28,
      kind: 'thp',
      flags: ['LRU', 'ANON', 'SWAPBACKED', 'THP'],
      rawFlags: '405020',
      mapCount: 1,
    });
    assert.equal(detail.length, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
