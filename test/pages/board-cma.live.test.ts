// Issue #14 §3, the CMA part: a kernel with a CMA area (`cma=32M` on its command line). Debian's
// amd64 kernels are built without CONFIG_CMA, its arm64 kernel with it (CONFIG_CMA=y), so this
// boots the emulated arm64 board of test/board/board.ts with `cma=32M`, runs the capture script
// there with the frames (MEMLENS_CAPTURE_FRAMES=yes), brings the archive back over the serial
// console and runs `memlens pages --from` on it here. It is also the check that the frame walk
// and the zone tables work on an arm64 archive: Debian's arm64 kernel prints DMA, DMA32, Normal
// and Movable, and on this 512 MiB board (RAM from 1 GiB) only DMA is populated.
// Skips with the reason when qemu, dpkg's arm64 architecture or the packages are missing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { PagesJson } from '../../src/wire/pages.js';
import { runCli } from '../helpers/cli.js';
import { artifactsDir, cliPath } from '../helpers/paths.js';
import { BOARDS, boardUnavailable, prepareBoard, runBoard, type BoardFiles, type BoardRun } from '../board/board.js';

const MiB = 2 ** 20;
const CMA_BYTES = 32 * MiB;

/** "Key:   123 kB" lines of a meminfo read, in bytes. */
function meminfoBytes(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^([^:]+):\s+(\d+) kB$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]) * 1024);
  }
  return out;
}

const spec = BOARDS.arm64;
let files: BoardFiles | undefined;
let skip: string | false = boardUnavailable(spec) ?? false;
if (!skip) {
  try {
    // Synchronous on purpose: whether the tests run must be known when they are declared.
    files = prepareBoard(spec, join(artifactsDir, 'board'));
  } catch (e) {
    skip = `cannot fetch Debian's arm64 kernel or BusyBox: ${(e as Error).message}`;
  }
}
// The console, the archive and the report stay in test-artifacts/ for people to look at.
const workDir = join(artifactsDir, 'board-cma');
let run: BoardRun;
let doc: PagesJson;
let seen: Map<string, number>;
let beforeRead: Map<string, number>;
let afterRead: Map<string, number>;

before(async () => {
  if (skip || !files) return;
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const script = execFileSync(process.execPath, [cliPath, 'capture', '--print-script', '--no-smaps', '--frames'], {
    encoding: 'utf8',
  });
  assert.match(script, /^MEMLENS_CAPTURE_FRAMES=yes$/m);
  // Boots take one to five minutes under TCG on a loaded machine (runBoard's guard: 10 min).
  run = await runBoard(spec, files, script, workDir, undefined, ['cma=32M']);
  const r = await runCli(['pages', '--json', '--from', join(workDir, 'board.snap')]);
  assert.equal(r.code, 0, r.stderr);
  doc = JSON.parse(r.stdout) as PagesJson;
  seen = meminfoBytes(run.sections.get('meminfo-seen'));
  beforeRead = meminfoBytes(run.sections.get('meminfo-before'));
  afterRead = meminfoBytes(run.sections.get('meminfo-after'));
});

test('arm64 board with cma=32M: the capture ran with the frames, pages --from reads them', { skip }, (t) => {
  assert.equal(run.captureExit, 0, run.console.slice(-2000));
  assert.equal(run.machine, 'aarch64');
  assert.equal(doc.frames.read, true, doc.frames.unavailable ?? '');
  assert.equal(doc.pageSizeBytes, 4096);
  t.diagnostic(`zones: ${doc.zones.map((z) => `${z.node}/${z.zone} ${z.startPfn}-${z.endPfn}`).join(', ')}`);
  // arm64's DMA zone is the memory below 4 GiB here (arch/arm64/mm/init.c, zone_sizes_init), so
  // the whole 512 MiB board is DMA and the other zones are printed empty.
  const populated = doc.zones.filter((z) => (z.presentPages ?? 0) > 0).map((z) => z.zone);
  assert.ok(populated.includes('DMA'), `populated zones: ${populated.join(', ')}`);
  assert.ok(!populated.includes('DMA32'), `populated zones: ${populated.join(', ')}`);
  assert.equal(
    doc.kinds.reduce((s, k) => s + k.pages, 0),
    doc.frames.framesRead,
    'every frame read is classified once',
  );
});

test("arm64 board with cma=32M: CMA total is 32 MiB, in memlens and in the board's meminfo", { skip }, () => {
  assert.equal(seen.get('CmaTotal'), CMA_BYTES, 'the board printed CmaTotal: 32768 kB');
  assert.equal(beforeRead.get('CmaTotal'), CMA_BYTES);
  assert.equal(afterRead.get('CmaTotal'), CMA_BYTES);
  assert.ok(doc.cma, 'pages reports CMA');
  assert.equal(doc.cma.totalBytes, CMA_BYTES);
  // zoneinfo's "cma" per zone (zone->cma_pages) sums to the same area.
  const zonePages = doc.cma.zones.reduce((s, z) => s + (z.cmaPages ?? 0), 0);
  assert.equal(zonePages * doc.pageSizeBytes, CMA_BYTES, JSON.stringify(doc.cma.zones));
  // pagetypeinfo: the area is whole page blocks of migrate type CMA.
  if (doc.cma.pageblocks !== null && doc.buddy?.pageblockOrder != null) {
    assert.equal(doc.cma.pageblocks * 2 ** doc.buddy.pageblockOrder * doc.pageSizeBytes, CMA_BYTES);
  }
});

test("arm64 board with cma=32M: CMA free is at most the total and the board's CmaFree at capture", { skip }, (t) => {
  assert.ok(doc.cma);
  const boardFree = seen.get('CmaFree');
  assert.ok(boardFree !== undefined);
  t.diagnostic(
    `CmaFree: before ${beforeRead.get('CmaFree')}, seen ${boardFree}, after ${afterRead.get('CmaFree')}; memlens ${doc.cma.freeBytes}; zoneinfo nr_free_cma ${JSON.stringify(doc.cma.zones)}`,
  );
  assert.ok(doc.cma.freeBytes <= doc.cma.totalBytes);
  // memlens's CmaFree is the archive's meminfo, which is the very read the board copied aside:
  // equal, not merely close.
  assert.equal(doc.cma.freeBytes, boardFree);
  // zoneinfo's nr_free_cma is read by the script just after meminfo (the same `for` loop, two
  // small files later): it may differ by the CMA pages the script's own commands took or gave
  // back meanwhile. The kernel hands CMA pages out only to movable allocations (mm/page_alloc.c
  // __rmqueue: when free CMA is more than half the zone's free pages), which the script's shell
  // and commands do make, so the board's reads before and after the whole capture bracket that
  // movement; 1 MiB more for pages passing between the buddy allocator and the per-CPU lists
  // in the moment between the two reads. On the run that set this bound CmaFree did not move
  // at all (31.6 MiB before, at and after; 96 pages of the area in use) and the two agreed.
  const zoneFree = doc.cma.zones.reduce((s, z) => s + (z.freeCmaPages ?? 0), 0) * doc.pageSizeBytes;
  const moved = Math.max(
    Math.abs((beforeRead.get('CmaFree') ?? 0) - boardFree),
    Math.abs((afterRead.get('CmaFree') ?? 0) - boardFree),
  );
  assert.ok(
    Math.abs(zoneFree - boardFree) <= moved + MiB,
    `zoneinfo free CMA ${zoneFree} vs meminfo ${boardFree}, bracket ${moved}`,
  );
});

test("arm64 board with cma=32M: the frames cover the board's RAM, the free ones agree with MemFree", { skip }, (t) => {
  const pageSize = doc.pageSizeBytes;
  const ram = doc.frames.ramRanges ?? [];
  const ramPages = ram.reduce((s, r) => s + (r.endPfn - r.startPfn), 0);
  t.diagnostic(`System RAM ${ram.map((r) => `${r.startPfn}-${r.endPfn}`).join(', ')}: ${ramPages} pages`);
  t.diagnostic(`frames ${doc.frames.startPfn}-${doc.frames.endPfn}, read ${doc.frames.framesRead}`);
  // qemu's virt board puts its RAM (-m) in one piece at 1 GiB and declares no firmware
  // carve-outs, so iomem's System RAM is exactly the board's memory. The walk starts there: the
  // 1 GiB below it is not RAM, so it is neither read nor counted as holes.
  assert.equal(ramPages * pageSize, spec.memoryMiB * MiB, `${ramPages} pages of System RAM`);
  assert.equal(doc.frames.startPfn, Math.min(...ram.map((r) => r.startPfn)), 'the walk starts at the first RAM frame');
  for (const r of ram) assert.ok(r.startPfn >= doc.frames.startPfn && r.endPfn <= doc.frames.endPfn, 'RAM in the walk');
  const hole = doc.kinds.find((k) => k.key === 'hole')?.pages ?? 0;
  assert.equal(doc.frames.framesRead - hole, ramPages, 'every RAM frame classified as something other than a hole');
  // MemTotal (managed pages) is within RAM.
  assert.ok((seen.get('MemTotal') ?? Infinity) <= ramPages * pageSize);

  // The frames are read after the meminfo read the board copied aside, while the script's own
  // commands run and its archive (on the initramfs, a tmpfs: RAM) grows, so the free frames lie
  // between the board's MemFree reads around the capture (before, at, after), widened by 4 MiB:
  // pages move between the buddy allocator and the per-CPU free lists while the walk reads its
  // windows, and pages on those lists count in neither (zoneinfo "count:", 2.6 MiB on the run
  // that set this bound, one CPU). That run: free frames 449.2 MiB, MemFree 449.4 MiB at the
  // capture, 443.0 MiB after it.
  const framesFree = (doc.kinds.find((k) => k.key === 'free')?.pages ?? 0) * pageSize;
  const reads = [beforeRead.get('MemFree'), seen.get('MemFree'), afterRead.get('MemFree')].map((v) => v ?? NaN);
  t.diagnostic(`free frames ${framesFree}; MemFree before, at and after the capture: ${reads.join(', ')}`);
  const low = Math.min(...reads) - 4 * MiB;
  const high = Math.max(...reads) + 4 * MiB;
  assert.ok(framesFree >= low && framesFree <= high, `free frames ${framesFree} outside [${low}, ${high}]`);
});
