// Pagemap scan rate: memlens against the floor (plain big reads of the same ranges, in Node and
// in C) and against one read per page, on a process with N GiB of touched 4 KiB pages.
//
//   npm run build && node dist/bench/dirty/scan-rate.js [GiB=4] [repeats=5]
//
// Prints a Markdown table (median of the repeats, runs interleaved so that machine noise hits
// every contender alike).
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { planIntervals, scannableAreas } from '../../src/analyses/dirty/areas.js';
import { classify } from '../../src/analyses/dirty/snapshot.js';
import { SoftDirtyScanner } from '../../src/parsers/pagemap.js';
import { ProcessPages, WINDOW_BYTES } from '../../src/sources/pagemap.js';
import { livePageSize, openLiveProcSource } from '../../src/sources/procfs.js';
import { repoRoot } from '../../test/helpers/paths.js';
import { startWorkload } from '../../test/dirty/workload.js';

const gib = Number(process.argv[2] ?? '4');
const repeats = Number(process.argv[3] ?? '5');
const pageSize = livePageSize();
const proc = openLiveProcSource();

function buildFloor(): string {
  const source = join(repoRoot, 'bench', 'dirty', 'floor.c');
  const binary = join(repoRoot, 'dist', 'bench-bin', 'dirty-floor');
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(join(repoRoot, 'dist', 'bench-bin'), { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-o', binary, source], { stdio: 'inherit' });
  }
  return binary;
}

interface Sample {
  pages: number;
  reads: number;
  seconds: number;
}

/** What `memlens dirty PID` does after its checks (readSoftDirty, step by step to count the reads). */
async function memlens(pid: number): Promise<Sample> {
  const t0 = process.hrtime.bigint();
  const target = new ProcessPages(proc, pid, pageSize);
  const areas = scannableAreas(await target.maps());
  const plan = planIntervals(areas, undefined);
  const reader = target.openPagemap();
  const snap = classify(areas, plan, reader.scan(plan), { afterClear: false });
  reader.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { pages: snap.scannedPages, reads: reader.reads, seconds };
}

async function nodeFloor(pid: number): Promise<Sample> {
  const t0 = process.hrtime.bigint();
  const areas = scannableAreas(await new ProcessPages(proc, pid, pageSize).maps());
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  const buf = Buffer.allocUnsafe(WINDOW_BYTES);
  let pages = 0;
  let reads = 0;
  for (const a of areas) {
    let offset = Number((a.start / BigInt(pageSize)) * 8n);
    let left = Number(((a.end - a.start) / BigInt(pageSize)) * 8n);
    while (left > 0) {
      const got = readSync(fd, buf, 0, Math.min(left, WINDOW_BYTES), offset);
      reads++;
      if (got <= 0) break;
      pages += got / 8;
      offset += got;
      left -= got;
    }
  }
  closeSync(fd);
  return { pages, reads, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function cFloor(binary: string, pid: number, mode: 'big' | 'page'): Sample {
  const out = execFileSync(binary, [String(pid), mode], { encoding: 'utf8' });
  const m = /pages=(\d+) reads=(\d+) seconds=([\d.]+)/.exec(out);
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`floor said ${out}`);
  return { pages: Number(m[1]), reads: Number(m[2]), seconds: Number(m[3]) };
}

/** The parser alone, in memory, on the worst case for range building: every other page soft-dirty. */
function parserOnly(entries: number): Sample {
  const bytes = new Uint8Array(entries * 8);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < entries; i++) v.setUint32(i * 8 + 4, i % 2 === 0 ? 0x80800000 : 0x80000000, true);
  const t0 = process.hrtime.bigint();
  const s = new SoftDirtyScanner(pageSize, 0x7f0000000000n);
  for (let at = 0; at < bytes.length; at += WINDOW_BYTES)
    s.feed(bytes.subarray(at, Math.min(at + WINDOW_BYTES, bytes.length)));
  const r = s.finish();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.ranges.length !== entries / 2) throw new Error('parser miscounted');
  return { pages: entries, reads: 0, seconds };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

const floorBinary = buildFloor();
const pages = Math.round((gib * 1024 * 1024 * 1024) / pageSize);
process.stderr.write(`mapping and touching ${gib} GiB (${pages} pages of ${pageSize} B, MADV_NOHUGEPAGE)…\n`);
const w = await startWorkload([String(pages), 'once']);
try {
  const rss = /VmRSS:\s+(\d+) kB/.exec(execFileSync('cat', [`/proc/${w.pid}/status`], { encoding: 'utf8' }))?.[1];
  process.stderr.write(`workload ${w.pid}: VmRSS ${rss} kB\n`);
  const samples: Record<string, Sample[]> = { memlens: [], nodeFloor: [], cFloor: [], perPage: [], parser: [] };
  for (let r = 0; r < repeats; r++) {
    // Each repeat starts with a different contender.
    const runs: [string, () => Sample | Promise<Sample>][] = [
      ['memlens', () => memlens(w.pid)],
      ['nodeFloor', () => nodeFloor(w.pid)],
      ['cFloor', () => cFloor(floorBinary, w.pid, 'big')],
    ];
    for (let k = 0; k < runs.length; k++) {
      const entry = runs[(k + r) % runs.length];
      if (entry) samples[entry[0]]?.push(await entry[1]());
    }
    if (r < 2) samples.perPage?.push(cFloor(floorBinary, w.pid, 'page'));
    samples.parser?.push(parserOnly(pages));
    process.stderr.write(`repeat ${r + 1}/${repeats} done\n`);
  }
  const rate = (k: string): number => median((samples[k] ?? []).map((s) => s.pages / s.seconds));
  const floor = rate('cFloor');
  const rows: [string, string][] = [
    ['memlens (maps + pagemap + ranges)', 'memlens'],
    ['floor: plain big reads, Node', 'nodeFloor'],
    ['floor: plain big reads, C', 'cFloor'],
    ['one 8-byte read per page, C', 'perPage'],
    ['memlens parser alone, in memory, every other page dirty', 'parser'],
  ];
  process.stdout.write(
    `\n${gib} GiB touched (${pages} pages of ${pageSize} B); median of ${repeats} runs (one read per page: 2 runs)\n\n`,
  );
  process.stdout.write(
    '| contender | pages scanned | reads | time (ms) | pages/s | vs C floor |\n|---|---:|---:|---:|---:|---:|\n',
  );
  for (const [label, key] of rows) {
    const ss = samples[key] ?? [];
    const mid = median(ss.map((s) => s.seconds));
    const reads = ss[0]?.reads;
    process.stdout.write(
      `| ${label} | ${ss[0]?.pages.toLocaleString('en-US') ?? '?'} | ${reads?.toLocaleString('en-US') ?? '?'} | ${(mid * 1000).toFixed(1)} | ${(rate(key) / 1e6).toFixed(1)} M | ${key === 'parser' ? '—' : `${((rate(key) / floor) * 100).toFixed(0)} %`} |\n`,
    );
  }
} finally {
  await w.stop();
}
