// `memlens pages`: collects the page-frame report and prints it.
import { UsageError } from '../base/errors.js';
import { collectPages } from '../analyses/pages.js';
import { openFrameFiles } from '../sources/frames.js';
import { openProcSource } from '../sources/open-source.js';
import { palette } from '../render/text.js';
import { renderPages } from '../render/pages-text.js';

export async function runPages(raw: Record<string, unknown>): Promise<void> {
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const startPfn = num(raw.startPfn);
  const endPfn = num(raw.endPfn);
  if (startPfn !== undefined && endPfn !== undefined && endPfn <= startPfn)
    throw new UsageError(`--end-pfn (${endPfn}) must be above --start-pfn (${startPfn})`);
  const cells = num(raw.mapCells) ?? 0;
  if (cells > 0 && raw.json !== true)
    throw new UsageError('--map-cells needs --json (the map is for programs and the dashboard)');
  const source = await openProcSource(typeof raw.from === 'string' ? raw.from : undefined);
  const report = await collectPages(source, openFrameFiles, {
    cells,
    ...(startPfn !== undefined ? { startPfn } : {}),
    ...(endPfn !== undefined ? { endPfn } : {}),
  });
  if (!report.frames.read)
    process.stderr.write(`memlens: frames not read: ${report.frames.unavailable ?? 'unknown'}\n`);
  if (raw.json === true) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  process.stdout.write(renderPages(report, raw.bytes === true, palette()));
}
