// `memlens snapshot`: collects, sorts, limits and prints.
import { UsageError } from '../base/errors.js';
import { GROUP_BYS, groupProcesses, type GroupBy, type ProcessGroup } from '../analyses/process-groups.js';
import type { ProcessMemory } from '../analyses/processes.js';
import { collectSnapshot } from '../analyses/snapshot.js';
import { openProcSource } from '../sources/open-source.js';
import { snapshotJson } from '../analyses/snapshot-json.js';
import { bySizeDesc, memoryFlags, sortFigure, type SortKey } from './memory-flags.js';
import { palette } from '../render/text.js';
import { groupsCsv, partlyReadWarning, processesCsv, renderSnapshot } from '../render/snapshot-text.js';

const DEFAULT_HUMAN_LIMIT = 20;

function sortProcesses(ps: ProcessMemory[], key: SortKey): ProcessMemory[] {
  return key === 'name'
    ? ps.sort((a, b) => a.name.localeCompare(b.name) || a.pid - b.pid)
    : ps.sort((a, b) => bySizeDesc(sortFigure(a, key), sortFigure(b, key)) || a.pid - b.pid);
}

function sortGroups(gs: ProcessGroup[], key: SortKey): ProcessGroup[] {
  return key === 'name'
    ? gs.sort((a, b) => a.label.localeCompare(b.label))
    : gs.sort((a, b) => bySizeDesc(sortFigure(a, key), sortFigure(b, key)) || a.label.localeCompare(b.label));
}

export async function runSnapshot(raw: Record<string, unknown>): Promise<void> {
  const flags = memoryFlags(raw);
  const by = typeof raw.groupBy === 'string' ? raw.groupBy : 'process';
  if (!(GROUP_BYS as readonly string[]).includes(by))
    throw new UsageError(`--group-by must be one of ${GROUP_BYS.join(', ')} (got ${JSON.stringify(by)})`);
  const groupBy = by as GroupBy;
  let source;
  if (flags.from === undefined) source = await openProcSource(undefined);
  else {
    // An archive: its one snapshot is analysed as /proc would be; a series shows its change.
    const { archiveSource, loadSeriesEnds } = await import('../sources/archive.js');
    const ends = await loadSeriesEnds(flags.from);
    if (ends.summary.snapshots > 1) {
      if (flags.csv === true) throw new UsageError('--csv: not for a series (use --json for its change)');
      if (groupBy !== 'process') throw new UsageError('--group-by: not for a series (its change is per process)');
      const { runSeriesDiff } = await import('./run-series-diff.js');
      await runSeriesDiff(ends, flags, raw.kernelThreads === true);
      return;
    }
    source = archiveSource(ends.last, ends.label);
  }
  // Only what the output shows is read: each file per process costs about as much as the
  // smaps_rollup of a small process. The cgroup file with --group-by cgroup alone; the exe link
  // where a program name is shown (--group-by program and the machine outputs' program field).
  const snap = await collectSnapshot(source, {
    includeKernelThreads: raw.kernelThreads === true,
    readCgroup: groupBy === 'cgroup',
    readExe: groupBy === 'program' || flags.json === true || flags.csv === true,
  });
  const processes = sortProcesses([...snap.processes], flags.sort);
  const machine = flags.json === true || flags.csv === true;
  const limit = flags.limit ?? (machine ? undefined : DEFAULT_HUMAN_LIMIT);
  const cut = <T>(xs: T[]): T[] => (limit === undefined ? xs : xs.slice(0, limit));
  const groups =
    groupBy === 'process'
      ? undefined
      : { by: groupBy, items: sortGroups(groupProcesses(snap.processes, groupBy), flags.sort) };

  const warning = partlyReadWarning(snap);
  if (warning) process.stderr.write(`${warning}\n`);

  if (flags.json) {
    // The snapshot document holds no bigint (src/wire/snapshot.ts), so JSON.stringify needs no
    // replacer, which would be called for each of its tens of thousands of values.
    process.stdout.write(
      `${JSON.stringify(snapshotJson(snap, cut(processes), groups ? { by: groups.by, items: cut(groups.items) } : undefined))}\n`,
    );
    return;
  }
  if (flags.csv) {
    process.stdout.write(groups ? groupsCsv(cut(groups.items), groups.by) : processesCsv(cut(processes)));
    return;
  }
  const view = groups
    ? { groups: { by: groups.by, items: cut(groups.items) }, totalRows: groups.items.length, sort: flags.sort }
    : { processes: cut(processes), totalRows: processes.length, sort: flags.sort };
  process.stdout.write(renderSnapshot(snap, view, flags.bytes, palette()));
}
