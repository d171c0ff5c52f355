// `memlens snapshot --from SERIES`: the first and the last snapshot of a series, each analysed
// as a live snapshot is, and the change between them.
import { diffSeriesEnds, readStartTicks, type SeriesEnd } from '../analyses/series-diff.js';
import { collectSnapshot } from '../analyses/snapshot.js';
import { UserError } from '../base/errors.js';
import { SeriesClock, archiveUptimeMs } from '../parsers/archive-meta.js';
import type { CaptureArchive, SeriesSummary } from '../parsers/archive.js';
import { renderSeriesDiff } from '../render/series-text.js';
import { palette } from '../render/text.js';
import { archiveSource } from '../sources/archive.js';
import type { MemoryFlags } from './memory-flags.js';

const DEFAULT_HUMAN_LIMIT = 20;

export async function runSeriesDiff(
  ends: { first: CaptureArchive; last: CaptureArchive; summary: SeriesSummary; label: string },
  flags: MemoryFlags,
  kernelThreads: boolean,
): Promise<void> {
  const clock = new SeriesClock();
  const end = async (archive: CaptureArchive): Promise<SeriesEnd> => {
    const timeMs = clock.timeMs(archive);
    if (timeMs === undefined)
      throw new UserError(`snapshot ${archive.index} of ${ends.label} does not record when it was captured`);
    const source = archiveSource(archive, `${ends.label} (snapshot ${archive.index})`);
    const snapshot = await collectSnapshot(source, { includeKernelThreads: kernelThreads });
    const startTicks = await readStartTicks(
      source,
      snapshot.processes.map((p) => p.pid),
    );
    return { snapshot, startTicks, end: { index: archive.index, timeMs, uptimeMs: archiveUptimeMs(archive) ?? null } };
  };
  const first = await end(ends.first);
  const last = await end(ends.last);
  const diff = diffSeriesEnds(first, last, {
    source: ends.label,
    snapshots: ends.summary.snapshots,
    truncated: ends.summary.truncated,
    sort: flags.sort,
  });
  if (flags.json === true) {
    const cut = <T>(xs: T[]): T[] => (flags.limit === undefined ? xs : xs.slice(0, flags.limit));
    const shown = { ...diff, processes: cut(diff.processes), started: cut(diff.started), exited: cut(diff.exited) };
    process.stdout.write(`${JSON.stringify(shown)}\n`);
    return;
  }
  process.stdout.write(
    renderSeriesDiff(diff, { limit: flags.limit ?? DEFAULT_HUMAN_LIMIT, sort: flags.sort }, flags.bytes, palette()),
  );
}
