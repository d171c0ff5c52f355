// The change between two snapshots of a series (`memlens snapshot --from SERIES`): who grew and
// by how much, which processes started and exited, and how the ledger moved. A process is the
// same in both only with the same pid and start time (field 22 of /proc/PID/stat,
// fs/proc/array.c do_task_stat): a pid reused during the series is an exit and a start.
import { statStartTime } from '../parsers/proc/stat.js';
import type { ProcSource } from '../sources/proc-source.js';
import type {
  LedgerChangeJson,
  ProcessAtEndJson,
  ProcessChangeJson,
  SeriesDiffJson,
  SeriesEndJson,
  SizeChangeJson,
} from '../wire/series.js';
import type { ProcessMemory } from './processes.js';
import type { Snapshot } from './snapshot.js';

/**
 * Each listed pid's start time (stat field 22) as the kernel printed it; a pid whose stat cannot
 * be read is left out. Eight reads at a time, as the snapshot reads its files.
 */
export async function readStartTicks(source: ProcSource, pids: readonly number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pids.length) {
      const pid = pids[next++] as number;
      const r = await source.readText(`${pid}/stat`);
      const t = r.ok ? statStartTime(r.value) : undefined;
      if (t !== undefined) out.set(pid, t);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/** One end of the series: the snapshot, its processes' start times and where it is. */
export interface SeriesEnd {
  snapshot: Snapshot;
  startTicks: ReadonlyMap<number, string>;
  end: SeriesEndJson;
}

export type ChangeSortKey = 'pss' | 'rss' | 'uss' | 'swap' | 'name';

function change(first: number | null, last: number | null): SizeChangeJson {
  return {
    firstBytes: first,
    lastBytes: last,
    changeBytes: first === null || last === null ? null : last - first,
  };
}

function atEnd(p: ProcessMemory, ticks: ReadonlyMap<number, string>): ProcessAtEndJson {
  return {
    pid: p.pid,
    startTicks: ticks.get(p.pid) ?? null,
    name: p.name,
    pssBytes: p.pssBytes,
    rssBytes: p.rssBytes,
    swapBytes: p.swapBytes,
  };
}

/** Larger first, unknown (null) last. */
function byDesc(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return b - a;
}

const figureOf = (p: ProcessChangeJson, key: Exclude<ChangeSortKey, 'name'>): number | null => p[key].changeBytes;

function availableOf(s: Snapshot): number | null {
  const kernel = s.meminfo.sizes.get('MemAvailable');
  if (kernel !== undefined) return kernel;
  const e = s.availableEstimate;
  return e?.ok === true ? e.bytes : null;
}

export function diffSeriesEnds(
  first: SeriesEnd,
  last: SeriesEnd,
  info: { source: string; snapshots: number; truncated: number; sort?: ChangeSortKey },
): SeriesDiffJson {
  const a = first.snapshot;
  const b = last.snapshot;
  // Kernel threads have no memory of their own to grow (no mm): left out, as the table does.
  const user = (s: Snapshot): ProcessMemory[] => s.processes.filter((p) => !p.kernelThread);
  const key = (p: ProcessMemory, ticks: ReadonlyMap<number, string>): string => `${p.pid}|${ticks.get(p.pid) ?? '?'}`;
  const before = new Map(user(a).map((p) => [key(p, first.startTicks), p]));
  const after = new Map(user(b).map((p) => [key(p, last.startTicks), p]));

  const processes: ProcessChangeJson[] = [];
  const started: ProcessAtEndJson[] = [];
  for (const [k, p] of after) {
    const q = before.get(k);
    // Without a start time in both, the pid alone cannot say it is the same process.
    if (q === undefined || k.endsWith('|?')) {
      started.push(atEnd(p, last.startTicks));
      continue;
    }
    processes.push({
      pid: p.pid,
      startTicks: last.startTicks.get(p.pid) ?? '',
      name: p.name,
      pss: change(q.pssBytes, p.pssBytes),
      rss: change(q.rssBytes, p.rssBytes),
      uss: change(q.ussBytes, p.ussBytes),
      swap: change(q.swapBytes, p.swapBytes),
    });
  }
  const exited = [...before]
    .filter(([k]) => !after.has(k) || k.endsWith('|?'))
    .map(([, p]) => atEnd(p, first.startTicks));

  const sort = info.sort ?? 'pss';
  if (sort === 'name') processes.sort((x, y) => x.name.localeCompare(y.name) || x.pid - y.pid);
  else processes.sort((x, y) => byDesc(figureOf(x, sort), figureOf(y, sort)) || x.pid - y.pid);
  const bySize = (x: ProcessAtEndJson, y: ProcessAtEndJson): number => byDesc(x.pssBytes, y.pssBytes) || x.pid - y.pid;
  started.sort(bySize);
  exited.sort(bySize);

  const ledger: LedgerChangeJson[] = [];
  const lastItems = new Map(b.ledger.items.map((i) => [i.key, i]));
  for (const i of a.ledger.items) {
    const j = lastItems.get(i.key);
    ledger.push({ key: i.key, label: i.label, ...change(i.bytes, j?.bytes ?? null) });
  }
  for (const j of b.ledger.items)
    if (!a.ledger.items.some((i) => i.key === j.key))
      ledger.push({ key: j.key, label: j.label, ...change(null, j.bytes) });

  const uptimeSpan =
    first.end.uptimeMs !== null && last.end.uptimeMs !== null && last.end.uptimeMs >= first.end.uptimeMs
      ? last.end.uptimeMs - first.end.uptimeMs
      : null;
  return {
    schema: 1,
    kind: 'series-diff',
    source: info.source,
    host: b.host,
    snapshots: info.snapshots,
    truncated: info.truncated,
    first: first.end,
    last: last.end,
    spanMs: uptimeSpan ?? last.end.timeMs - first.end.timeMs,
    memTotalBytes: change(a.meminfo.sizes.get('MemTotal') ?? null, b.meminfo.sizes.get('MemTotal') ?? null),
    // The kernel's MemAvailable, else the estimate the snapshot made (kernels before 3.14).
    memAvailableBytes: change(availableOf(a), availableOf(b)),
    ledger,
    processes,
    started,
    exited,
  };
}
