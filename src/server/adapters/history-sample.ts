// Turns a snapshot into what the history records: the ledger's top-level items by key, and the
// processes whose PSS was read, each with its start time (so that a pid reused by a new process
// starts a new series instead of continuing the old one).
import type { Snapshot } from '../../analyses/snapshot.js';
import type { HistoryProcessInput, HistorySampleInput } from '../history-recorder.js';

/** startTicks: field 22 of /proc/PID/stat, undefined when the process is gone. */
export function historySampleFromSnapshot(
  s: Snapshot,
  startTicks: (pid: number) => string | undefined,
): HistorySampleInput {
  const processes: HistoryProcessInput[] = [];
  for (const p of s.processes) {
    if (p.kernelThread || p.pssBytes === null) continue;
    const st = startTicks(p.pid);
    const ticks = st === undefined ? NaN : Number(st);
    if (!Number.isSafeInteger(ticks)) continue;
    processes.push({
      pid: p.pid,
      startTicks: ticks,
      name: p.name,
      pssBytes: p.pssBytes,
      rssBytes: p.rssBytes,
      ussBytes: p.ussBytes,
      swapBytes: p.swapBytes,
    });
  }
  return {
    atMs: s.time.getTime(),
    categories: s.ledger.items.map((i) => ({ key: i.key, name: i.label, bytes: i.bytes })),
    processes,
  };
}
