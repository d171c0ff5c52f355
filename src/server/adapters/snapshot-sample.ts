// Turns a snapshot (src/analyses/snapshot.ts) into the dashboard's SystemSample: the ledger as a
// tree from MemTotal down to categories, with the processes placed under the categories their
// PSS lies in (anonymous PSS under anonymous memory, file PSS under mapped page cache, shmem PSS
// under shared memory: the split smaps_rollup gives as Pss_Anon / Pss_File / Pss_Shmem, Linux
// 5.3+; older kernels get no process nodes there), so the picture stays a partition: each byte once.
import type { LedgerItem } from '../../analyses/ledger.js';
import type { ProcessMemory } from '../../analyses/processes.js';
import type { Snapshot } from '../../analyses/snapshot.js';
import type { LedgerNode } from '../../wire/messages.js';
import type { SampledProcess, SystemSample } from '../inputs.js';

/** Processes shown by name under a category; the rest are one "other processes" node. */
export const LEDGER_TOP_PROCESSES = 12;

type PssPart = 'pssAnonBytes' | 'pssFileBytes' | 'pssShmemBytes';

/** Which ledger item holds which part of the processes' PSS. */
const PSS_HOME: Record<string, { part: PssPart; kind: string }> = {
  anon: { part: 'pssAnonBytes', kind: 'anonymous' },
  page_cache_mapped: { part: 'pssFileBytes', kind: 'file-backed' },
  shmem: { part: 'pssShmemBytes', kind: 'shared memory' },
};

function processNodes(
  processes: readonly ProcessMemory[],
  part: PssPart,
  kind: string,
  categoryBytes: number,
): LedgerNode[] {
  const withPart = processes
    .filter((p) => (p[part] ?? 0) > 0)
    .sort((a, b) => (b[part] ?? 0) - (a[part] ?? 0) || a.pid - b.pid);
  if (withPart.length === 0) return [];
  const node = (p: ProcessMemory): LedgerNode => ({
    name: `${p.name} (${p.pid})`,
    bytes: p[part],
    note: `${kind} PSS of pid ${p.pid} (smaps_rollup)`,
    children: [{ name: kind, bytes: p[part] }],
  });
  const shown = withPart.slice(0, LEDGER_TOP_PROCESSES).map(node);
  const rest = withPart.slice(LEDGER_TOP_PROCESSES);
  if (rest.length > 0)
    shown.push({
      name: `${rest.length} other processes`,
      bytes: rest.reduce((s, p) => s + (p[part] ?? 0), 0),
      note: `${kind} PSS of the smaller processes`,
    });
  const attributed = shown.reduce((s, n) => s + (n.bytes ?? 0), 0);
  // PSS is sampled process by process, the category at one moment: clamp so that the children
  // never claim more than their parent.
  if (attributed > categoryBytes) {
    const scale = categoryBytes / attributed;
    return shown.map((n) => ({
      ...n,
      bytes: n.bytes === null ? null : Math.floor(n.bytes * scale),
      note: `${n.note ?? ''}; scaled by ${scale.toFixed(3)}: the processes were read after the category`,
    }));
  }
  return shown;
}

function ledgerNode(item: LedgerItem, processes: readonly ProcessMemory[]): LedgerNode {
  const node: LedgerNode = {
    name: item.label,
    bytes: item.bytes,
    note: item.note === undefined ? item.formula : `${item.formula}; ${item.note}`,
  };
  const home = PSS_HOME[item.key];
  if (item.items !== undefined) node.children = item.items.map((i) => ledgerNode(i, processes));
  else if (home !== undefined) {
    const children = processNodes(processes, home.part, home.kind, Math.max(0, item.bytes));
    if (children.length > 0) node.children = children;
  }
  return node;
}

export function sampledProcess(p: ProcessMemory, atMs: number, startTime: string | null = null): SampledProcess {
  return {
    pid: p.pid,
    name: p.name,
    cmdline: p.cmdline === null ? null : p.cmdline.join(' '),
    rssBytes: p.rssBytes,
    pssBytes: p.pssBytes,
    ussBytes: p.ussBytes,
    swapBytes: p.swapBytes,
    vmSizeBytes: p.vmSizeBytes,
    sampledAtMs: atMs,
    pssAtMs: p.pssBytes === null ? null : (p.pssReadAtMs ?? atMs),
    startTime,
  };
}

/** `startTimes`: field 22 of each process's stat, read with the sample (absent: unread). */
export function sampleFromSnapshot(s: Snapshot, startTimes: ReadonlyMap<number, string> = new Map()): SystemSample {
  const atMs = s.time.getTime();
  const processes = s.processes.filter((p) => !p.kernelThread);
  const memTotal = s.ledger.totalBytes;
  const swapTotal = s.meminfo.sizes.get('SwapTotal') ?? null;
  return {
    atMs,
    host: s.host,
    memTotalBytes: memTotal,
    swapTotalBytes: swapTotal,
    ledger: {
      name: 'MemTotal',
      bytes: memTotal,
      note: s.ledger.notes.join('; ') || 'all of MemTotal, each byte once',
      children: s.ledger.items.map((i) => ledgerNode(i, processes)),
    },
    used: s.used.map((u) => ({ name: u.label, bytes: u.bytes, formula: `${u.formula} (${u.usedBy})` })),
    categories: s.ledger.items.map((i) => ({ name: i.label, bytes: i.bytes })),
    processes: processes.map((p) => sampledProcess(p, atMs, startTimes.get(p.pid) ?? null)),
    pssUnavailable: processes.filter((p) => p.pssBytes === null).length,
    pssDeferred: processes.filter((p) => p.pssReadAtMs !== undefined).length,
  };
}
