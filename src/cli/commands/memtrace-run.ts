// The work behind `memlens memtrace`, loaded only when the command runs.
import { writeFile } from 'node:fs/promises';
import { UserError, errnoCode } from '../../base/errors.js';
import { createMemtraceAnalysis } from '../../analyses/memtrace/analyze.js';
import { flameData, foldedStacks, stacksOf } from '../../analyses/memtrace/folded.js';
import { renderHtmlReport } from '../../render/memtrace-html.js';
import { buildMemtraceReport } from '../../analyses/memtrace/report.js';
import { renderTextReport } from '../../render/memtrace-text.js';
import { feedMemtraceFile } from '../../sources/memtrace-file.js';
import { palette, toJson } from '../../render/text.js';

export interface MemtraceRunOptions {
  json: boolean;
  html: string | undefined;
  folded: boolean;
  hideLwt: boolean;
  lwtPrefixes: string[];
  top: number;
}

export async function runMemtrace(file: string, o: MemtraceRunOptions): Promise<void> {
  const { decoder, analyzer, lwt } = createMemtraceAnalysis(file, o.lwtPrefixes);
  await feedMemtraceFile(file, decoder);
  const report = buildMemtraceReport(analyzer, decoder, { path: file, lwtPrefixes: o.lwtPrefixes, top: o.top });
  const info = decoder.info;
  const bps = info === undefined ? 0 : info.wordSizeBits / 8 / info.sampleRate;
  const stacks = o.folded || o.html !== undefined ? stacksOf(decoder, analyzer.nodeSamples) : [];
  if (o.html !== undefined) {
    const html = renderHtmlReport(report, flameData(decoder, stacks, bps, lwt));
    try {
      await writeFile(o.html, html);
    } catch (e) {
      throw new UserError(`cannot write ${o.html}: ${errnoCode(e) ?? String(e)}`);
    }
  }
  if (o.json) process.stdout.write(`${toJson(report, 2)}\n`);
  else if (o.folded) process.stdout.write(foldedStacks(decoder, stacks, bps, lwt, o.hideLwt));
  else {
    process.stdout.write(renderTextReport(report, palette()));
    if (o.html !== undefined) process.stdout.write(`\nHTML report written to ${o.html}\n`);
  }
}
