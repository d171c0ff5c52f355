// memtrace decoding throughput and time to the full report.
//
//   npm run build && node dist/bench/memtrace/decode-bench.js [--events 10000000]
//
// 1. the public traces (shared/data/memtrace beside the checkout), decoded from memory,
//    repeated until each has run for at least a second;
// 2. a large synthetic trace written with the test encoder (a Lwt server with a leak and an
//    allocation race), streamed from disk: decoding alone, then the full analysis with the
//    JSON report, folded stacks and the HTML report. Each phase runs in its own process so
//    its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMemtraceAnalysis } from '../../src/analyses/memtrace/analyze.js';
import { flameData, foldedStacks, stacksOf } from '../../src/analyses/memtrace/folded.js';
import { renderHtmlReport } from '../../src/render/memtrace-html.js';
import { buildMemtraceReport } from '../../src/analyses/memtrace/report.js';
import { decodeMemtrace, MemtraceDecoder, type MemtraceVisitor } from '../../src/parsers/memtrace/index.js';
import { feedMemtraceFile } from '../../src/sources/memtrace-file.js';
import { PUBLIC_TRACES, publicTracePath } from '../../test/memtrace/public-traces.js';
import { buildScenario } from '../../test/memtrace/scenarios.js';

const nullVisitor: MemtraceVisitor = { alloc: () => undefined, promote: () => undefined, collect: () => undefined };
const events = (d: MemtraceDecoder): number => d.counts.allocations + d.counts.promotions + d.counts.collections;
const mib = (b: number): string => (b / 1048576).toFixed(1);

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

async function phase(which: string, file: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  let out: Record<string, number | string> = {};
  if (which === 'decode') {
    const d = new MemtraceDecoder(nullVisitor, file);
    await feedMemtraceFile(file, d);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    out = { events: events(d), seconds: s, eventsPerS: events(d) / s, warnings: d.integrity.warnings.length };
  } else {
    const { decoder, analyzer, lwt } = createMemtraceAnalysis(file);
    await feedMemtraceFile(file, decoder);
    const tDecoded = Number(process.hrtime.bigint() - t0) / 1e9;
    const report = buildMemtraceReport(analyzer, decoder, { path: file, lwtPrefixes: [], top: 15 });
    const json = JSON.stringify(report);
    const info = decoder.info;
    const bps = info === undefined ? 0 : info.wordSizeBits / 8 / info.sampleRate;
    const stacks = stacksOf(decoder, analyzer.nodeSamples);
    const folded = foldedStacks(decoder, stacks, bps, lwt, false);
    const html = renderHtmlReport(report, flameData(decoder, stacks, bps, lwt));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    out = {
      events: events(decoder),
      seconds: s,
      decodeAndAnalyseSeconds: tDecoded,
      eventsPerS: events(decoder) / s,
      leaks: report.leaks.length,
      races: report.races.length,
      jsonBytes: json.length,
      foldedBytes: folded.length,
      htmlBytes: html.length,
    };
  }
  out.maxRssMiB = mib(process.resourceUsage().maxRSS * 1024);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function generate(file: string, target: number): void {
  // About 7 events per 1 ms tick (3 allocations, their collections, some promotions).
  const durationS = Math.max(10, Math.round(target / 7 / 1000));
  const fd = openSync(file, 'w');
  const { written } = buildScenario({
    durationS,
    tickUs: 1000,
    leak: true,
    race: { fromS: durationS * 0.4, toS: durationS * 0.6 },
    warmup: true,
    seed: 42,
    sink: (p) => writeSync(fd, p),
  });
  closeSync(fd);
  process.stdout.write(
    `generated ${file}: ${mib(statSync(file).size)} MiB, ${written.allocations + written.promotions + written.collections} events, ${durationS} s of trace\n`,
  );
}

async function main(): Promise<void> {
  const p = arg('--phase', '');
  const file = arg('--file', join(tmpdir(), 'memlens-bench-memtrace.ctf'));
  if (p !== '') return phase(p, file);
  const target = Number(arg('--events', '10000000'));
  process.stdout.write(
    `node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n\npublic traces (decoding from memory, repeated for at least 1 s):\n`,
  );
  for (const t of PUBLIC_TRACES) {
    const path = publicTracePath(t.name);
    if (!existsSync(path)) continue;
    const bytes = new Uint8Array(readFileSync(path));
    let n = 0;
    let ev = 0;
    const t0 = process.hrtime.bigint();
    let s = 0;
    while (s < 1) {
      ev += events(decodeMemtrace(bytes, nullVisitor));
      n++;
      s = Number(process.hrtime.bigint() - t0) / 1e9;
    }
    process.stdout.write(
      `  ${t.name}: ${bytes.length} bytes, ${ev / n} events, ${Math.round(ev / s).toLocaleString('en-US')} events/s, ${((bytes.length * n) / s / 1048576).toFixed(1)} MiB/s\n`,
    );
  }
  if (!existsSync(file) || process.argv.includes('--regenerate')) generate(file, target);
  const self = fileURLToPath(import.meta.url);
  for (const which of ['decode', 'report']) {
    const r = spawnSync(process.execPath, [self, '--phase', which, '--file', file], { encoding: 'utf8' });
    process.stdout.write(
      `\n${which === 'decode' ? 'decoding only (streamed from disk)' : 'full report (decode + analyses + JSON + folded + HTML)'}:\n  ${r.stdout.trim()}${r.stderr}\n`,
    );
  }
}

await main();
