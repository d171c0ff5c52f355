// Server-side aggregation: the browser receives tables and top-N lists, never raw samples.
// Pure functions over the inputs, so they are tested without a server.
import type { PieSlice, ProcessRow } from '../wire/messages.js';
import type { SampledProcess, StoredProcessTotal, TracedProcess } from './inputs.js';

/** MemTotal + SwapTotal: everything the system can back with memory. Null if either is unknown. */
export function totalVirtualBytes(memTotal: number | null, swapTotal: number | null): number | null {
  return memTotal === null || swapTotal === null ? null : memTotal + swapTotal;
}

const ratio = (n: number | null, total: number | null): number | null => (n === null || total === null || total <= 0 ? null : n / total);

/**
 * Joins the /proc sample and the tracer's accounting by pid. `traced` is null when tracing is not
 * running: requested and calls are then unknown (null), never 0.
 */
export function buildProcessRows(sampled: readonly SampledProcess[], traced: ReadonlyMap<number, TracedProcess> | null, totalVirtual: number | null): ProcessRow[] {
  const rows: ProcessRow[] = [];
  const seen = new Set<number>();
  for (const p of sampled) {
    seen.add(p.pid);
    const t = traced?.get(p.pid);
    // Tracing runs but has no model of this process (started since, not seen yet): nothing known to be requested.
    const requested = traced === null ? null : Math.max(0, t?.requestedBytes ?? 0);
    rows.push({
      pid: p.pid,
      name: p.name,
      cmdline: p.cmdline,
      requestedBytes: requested,
      reservedBytes: traced === null ? null : Math.max(0, t?.reservedBytes ?? 0),
      requestedRatio: ratio(requested, totalVirtual),
      mappedNowBytes: t?.mappedNowBytes ?? p.vmSizeBytes,
      rssBytes: p.rssBytes,
      pssBytes: p.pssBytes,
      swapBytes: p.swapBytes,
      sampledAtMs: p.sampledAtMs,
      pssAtMs: p.pssAtMs,
      calls: traced === null ? null : (t?.calls ?? 0),
      alive: t?.alive ?? true,
    });
  }
  // Processes the tracer knows but the last sample does not (started since, or already gone).
  if (traced !== null) {
    for (const t of traced.values()) {
      if (seen.has(t.pid)) continue;
      const requested = Math.max(0, t.requestedBytes);
      rows.push({
        pid: t.pid,
        name: t.name,
        cmdline: null,
        requestedBytes: requested,
        reservedBytes: Math.max(0, t.reservedBytes),
        requestedRatio: ratio(requested, totalVirtual),
        mappedNowBytes: t.mappedNowBytes,
        rssBytes: null,
        pssBytes: null,
        swapBytes: null,
        sampledAtMs: null,
        pssAtMs: null,
        calls: t.calls,
        alive: t.alive,
      });
    }
  }
  return rows;
}

/** Rows for a host this server does not sample: only what the store recorded. */
export function storedProcessRows(totals: readonly StoredProcessTotal[], totalVirtual: number | null): ProcessRow[] {
  return totals.map((t) => {
    const requested = Math.max(0, t.requestedBytes);
    return {
      pid: t.pid,
      name: t.name,
      cmdline: null,
      requestedBytes: requested,
      // The store keeps call totals, not address spaces: which bytes are PROT_NONE is not known.
      reservedBytes: null,
      requestedRatio: ratio(requested, totalVirtual),
      mappedNowBytes: null,
      rssBytes: null,
      pssBytes: null,
      swapBytes: null,
      sampledAtMs: null,
      pssAtMs: null,
      calls: t.calls,
      alive: true,
    };
  });
}

export const PIE_TOP = 10;

/** The top `top` processes by requested bytes, then one "others" slice with the remainder. */
export function requestedPie(rows: readonly ProcessRow[], top: number = PIE_TOP): { slices: PieSlice[]; othersCount: number; totalRequestedBytes: number } {
  const withRequest = rows.filter((r): r is ProcessRow & { requestedBytes: number } => r.requestedBytes !== null && r.requestedBytes > 0);
  withRequest.sort((a, b) => b.requestedBytes - a.requestedBytes || a.pid - b.pid);
  const total = withRequest.reduce((s, r) => s + r.requestedBytes, 0);
  const slices: PieSlice[] = withRequest.slice(0, top).map((r) => ({ label: r.name, pid: r.pid, bytes: r.requestedBytes }));
  const rest = withRequest.slice(top);
  if (rest.length > 0) slices.push({ label: 'others', pid: null, bytes: rest.reduce((s, r) => s + r.requestedBytes, 0) });
  return { slices, othersCount: rest.length, totalRequestedBytes: total };
}

export interface ProgramGroup {
  program: string;
  processes: number;
  rssBytes: number;
  /** Null when no process of the group had a readable PSS. */
  pssBytes: number | null;
  swapBytes: number;
  requestedBytes: number | null;
}

export const OTHER_PROGRAM = 'other';

/**
 * Groups processes by program name (process-exporter's model: no pid labels), keeps the `top`
 * groups by RSS and folds the rest into one "other" group, so that the groups stay a partition
 * and sum() over them is the whole.
 */
export function programGroups(rows: readonly ProcessRow[], top: number): ProgramGroup[] {
  const byName = new Map<string, ProgramGroup>();
  const add = (g: ProgramGroup, r: ProcessRow): void => {
    g.processes++;
    g.rssBytes += r.rssBytes ?? 0;
    if (r.pssBytes !== null) g.pssBytes = (g.pssBytes ?? 0) + r.pssBytes;
    g.swapBytes += r.swapBytes ?? 0;
    if (r.requestedBytes !== null) g.requestedBytes = (g.requestedBytes ?? 0) + r.requestedBytes;
  };
  const empty = (program: string): ProgramGroup => ({ program, processes: 0, rssBytes: 0, pssBytes: null, swapBytes: 0, requestedBytes: null });
  for (const r of rows) {
    if (!r.alive) continue;
    let g = byName.get(r.name);
    if (g === undefined) byName.set(r.name, (g = empty(r.name)));
    add(g, r);
  }
  const groups = [...byName.values()].sort((a, b) => b.rssBytes - a.rssBytes || (a.program < b.program ? -1 : 1));
  if (groups.length <= top) return groups;
  const kept = groups.slice(0, top);
  // A program really called "other" would collide with the remainder: it joins the remainder.
  const other = empty(OTHER_PROGRAM);
  const keptWithoutOther = kept.filter((g) => g.program !== OTHER_PROGRAM);
  for (const g of groups) {
    if (keptWithoutOther.includes(g)) continue;
    other.processes += g.processes;
    other.rssBytes += g.rssBytes;
    if (g.pssBytes !== null) other.pssBytes = (other.pssBytes ?? 0) + g.pssBytes;
    other.swapBytes += g.swapBytes;
    if (g.requestedBytes !== null) other.requestedBytes = (other.requestedBytes ?? 0) + g.requestedBytes;
  }
  return [...keptWithoutOther, other];
}
