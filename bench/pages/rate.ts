// Page-frame classification rate: `memlens pages`'s frame walk over the whole frame range against
// the floor, a plain read of /proc/kpageflags and /proc/kpagecount in the same windows (65 536
// frames, 512 KiB of each file per pread), in the same run, interleaved so that machine noise hits
// both alike. Root only.
//
//   node scripts/build.mjs && node dist/bench/pages/rate.js [repeats=5] [cells=4096]
//
// Prints a Markdown table: median wall time, frames/s, the walk's rate against the floor's.
import { closeSync, openSync, readSync } from 'node:fs';
import { walkFrames, WINDOW_FRAMES } from '../../src/analyses/frame-walk.js';
import { parseIomem, systemRamPfns } from '../../src/parsers/proc/iomem.js';
import { parseZoneinfo } from '../../src/parsers/proc/zoneinfo.js';
import { openFrameFiles } from '../../src/sources/frames.js';
import { livePageSize, openLiveProcSource } from '../../src/sources/procfs.js';
import { readFileSync } from 'node:fs';

const repeats = Number(process.argv[2] ?? '5');
const cells = Number(process.argv[3] ?? '4096');
const proc = openLiveProcSource();
const zones = (parseZoneinfo(readFileSync('/proc/zoneinfo', 'utf8')) ?? [])
  .filter((z) => z.startPfn !== undefined && (z.spannedPages ?? 0) > 0)
  .map((z) => ({ startPfn: z.startPfn ?? 0, endPfn: (z.startPfn ?? 0) + (z.spannedPages ?? 0) }));
const ram = systemRamPfns(parseIomem(readFileSync('/proc/iomem', 'utf8')), livePageSize());
const endPfn = Math.max(...zones.map((z) => z.endPfn), ...ram.map((r) => r.endPfn));

/** The floor: both files read window by window into reused buffers, nothing done with the bytes. */
function plainRead(): { frames: number; ms: number } {
  const t0 = process.hrtime.bigint();
  const a = openSync('/proc/kpageflags', 'r');
  const b = openSync('/proc/kpagecount', 'r');
  const fa = new Uint8Array(WINDOW_FRAMES * 8);
  const fb = new Uint8Array(WINDOW_FRAMES * 8);
  let frames = 0;
  for (let pfn = 0; pfn < endPfn; pfn += WINDOW_FRAMES) {
    const want = Math.min(WINDOW_FRAMES, endPfn - pfn) * 8;
    const ga = readSync(a, fa, 0, want, pfn * 8);
    const gb = readSync(b, fb, 0, want, pfn * 8);
    frames += Math.min(ga, gb) / 8;
    if (ga < want) break;
  }
  closeSync(a);
  closeSync(b);
  return { frames, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

async function walk(): Promise<{ frames: number; ms: number }> {
  const t0 = process.hrtime.bigint();
  const opened = await openFrameFiles(proc);
  if (!opened.ok) throw new Error(opened.reason);
  const w = walkFrames(opened.files, { zones, ram }, { startPfn: 0, endPfn, cells });
  opened.files.close();
  return { frames: w.framesRead, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

const plain: number[] = [];
const walks: number[] = [];
let frames = 0;
for (let i = 0; i < repeats; i++) {
  const p = plainRead();
  const w = await walk();
  plain.push(p.ms);
  walks.push(w.ms);
  frames = w.frames;
  if (p.frames !== w.frames) process.stderr.write(`frames differ: plain ${p.frames}, walk ${w.frames}\n`);
}
const rate = (ms: number): string => `${(frames / ms / 1000).toFixed(2)} M`;
const mp = median(plain);
const mw = median(walks);
process.stdout.write(
  [
    `frames: ${frames} (0–${endPfn}), ${repeats} repeats interleaved, map of ${cells} cells`,
    '',
    '| contender | median ms | min ms | max ms | frames/s | vs plain read |',
    '|---|---:|---:|---:|---:|---:|',
    `| memlens frame walk (classify, zones, map) | ${mw.toFixed(0)} | ${Math.min(...walks).toFixed(0)} | ${Math.max(...walks).toFixed(0)} | ${rate(mw)} | **${((mp / mw) * 100).toFixed(0)} %** |`,
    `| plain read of kpageflags + kpagecount | ${mp.toFixed(0)} | ${Math.min(...plain).toFixed(0)} | ${Math.max(...plain).toFixed(0)} | ${rate(mp)} | 100 % |`,
    '',
  ].join('\n'),
);
