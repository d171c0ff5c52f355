// Server-side aggregation: the browser receives tables and top-N lists, never raw samples.
// Pure functions over the inputs, so they are tested without a server.
import type { PieFigure, PieSlice, ProcessRow, RowFigure, Unavailable } from '../wire/messages.js';
import type { FreshReading, SampledProcess, StoredProcessTotal, TracedProcess } from './inputs.js';

/** MemTotal + SwapTotal: everything the system can back with memory. Null if either is unknown. */
export function memPlusSwapBytes(memTotal: number | null, swapTotal: number | null): number | null {
  return memTotal === null || swapTotal === null ? null : memTotal + swapTotal;
}

const ratio = (n: number | null, total: number | null): number | null =>
  n === null || total === null || total <= 0 ? null : n / total;

type Reasons = ProcessRow['unavailable'];

/** The reasons of a row's null figures; a figure with a value gets none. */
function reasonsOf(row: Omit<ProcessRow, 'unavailable'>, why: Partial<Record<RowFigure, Unavailable>>): Reasons {
  const value: Record<RowFigure, number | null> = {
    requested: row.requestedBytes,
    reserved: row.reservedBytes,
    mappedNow: row.mappedNowBytes,
    rss: row.rssBytes,
    pss: row.pssBytes,
    uss: row.ussBytes,
    swap: row.swapBytes,
    calls: row.calls,
  };
  const out: Reasons = {};
  for (const k of Object.keys(value) as RowFigure[]) {
    const reason = why[k];
    if (value[k] === null && reason !== undefined) out[k] = reason;
  }
  return out;
}

/**
 * The first figures of the row of a process that the sample did not read, known from its calls
 * alone (the tracer's model, or the store's totals of another host): no command line, and what
 * it requested, never below 0.
 */
function fromCallsAlone(t: StoredProcessTotal, totalVirtual: number | null) {
  const requested = Math.max(0, t.requestedBytes);
  return {
    pid: t.pid,
    name: t.name,
    cmdline: null,
    requestedBytes: requested,
    requestedRatio: ratio(requested, totalVirtual),
  };
}

/**
 * Joins the /proc sample and the tracer's accounting by pid. `traced` is null when tracing is not
 * running: requested and calls are then unknown (null), never 0. `fresh` holds figures read after
 * the sample (the detail view reads a process's smaps when it opens): they replace the sample's,
 * so that a row never shows n/a, or an older figure, where the detail panel shows a newer one.
 * `gone`: pids the tracer holds as running that the sample should have listed and did not (see
 * LiveState.goneSinceSample): they have exited, whatever the tracer missed.
 */
export function buildProcessRows(
  sampled: readonly SampledProcess[],
  traced: ReadonlyMap<number, TracedProcess> | null,
  totalVirtual: number | null,
  fresh: ReadonlyMap<number, FreshReading> = new Map(),
  gone: ReadonlySet<number> = new Set(),
): ProcessRow[] {
  return new ProcessRowsBuilder().build(sampled, traced, totalVirtual, fresh, gone);
}

/** What one row was built from: the same inputs (the same objects) give the same row. */
interface RowInputs {
  sampled: SampledProcess | undefined;
  traced: TracedProcess | undefined;
  fresh: FreshReading | undefined;
  /** Tracing runs (the accounting is not null). */
  tracing: boolean;
  totalVirtual: number | null;
  gone: boolean;
  row: ProcessRow;
}

/**
 * buildProcessRows that keeps the row objects of the previous build whose inputs are the same
 * objects as then (the sample's process, the tracer's process, the fresh reading): a row never
 * changes after it is built, so a reader can tell the rows that changed by identity alone (the live
 * hub sends only those), and a table where a few processes moved costs a few rows, not all.
 */
export class ProcessRowsBuilder {
  private previous = new Map<number, RowInputs>();

  build(
    sampled: readonly SampledProcess[],
    traced: ReadonlyMap<number, TracedProcess> | null,
    totalVirtual: number | null,
    fresh: ReadonlyMap<number, FreshReading> = new Map(),
    gone: ReadonlySet<number> = new Set(),
  ): ProcessRow[] {
    const rows: ProcessRow[] = [];
    const next = new Map<number, RowInputs>();
    const tracing = traced !== null;
    const keep = (pid: number, p: SampledProcess | undefined, t: TracedProcess | undefined, isGone: boolean): void => {
      const f = fresh.get(pid);
      const was = this.previous.get(pid);
      const same =
        was !== undefined &&
        was.sampled === p &&
        was.traced === t &&
        was.fresh === f &&
        was.tracing === tracing &&
        was.totalVirtual === totalVirtual &&
        was.gone === isGone;
      const row = same
        ? was.row
        : p !== undefined
          ? sampledRow(p, t, f, tracing, totalVirtual)
          : tracedOnlyRow(t as TracedProcess, f, isGone, totalVirtual);
      next.set(pid, same ? was : { sampled: p, traced: t, fresh: f, tracing, totalVirtual, gone: isGone, row });
      rows.push(row);
    };
    for (const p of sampled) keep(p.pid, p, traced?.get(p.pid), false);
    // Processes the tracer knows but the last sample does not (started since, or already gone).
    if (traced !== null)
      for (const t of traced.values()) if (!next.has(t.pid)) keep(t.pid, undefined, t, gone.has(t.pid));
    this.previous = next;
    return rows;
  }
}

/** The row of a process the sample read, with the tracer's figures when tracing runs. */
function sampledRow(
  p: SampledProcess,
  t: TracedProcess | undefined,
  f: FreshReading | undefined,
  tracing: boolean,
  totalVirtual: number | null,
): ProcessRow {
  const newer = f !== undefined && f.atMs > p.sampledAtMs ? f : undefined;
  // Tracing runs but has no model of this process (started since, not seen yet): nothing known to be requested.
  const requested = tracing ? Math.max(0, t?.requestedBytes ?? 0) : null;
  const row = {
    pid: p.pid,
    name: p.name,
    cmdline: p.cmdline,
    requestedBytes: requested,
    requestedRatio: ratio(requested, totalVirtual),
    reservedBytes: tracing ? Math.max(0, t?.reservedBytes ?? 0) : null,
    mappedNowBytes: t?.mappedNowBytes ?? p.vmSizeBytes,
    rssBytes: newer?.rssBytes ?? p.rssBytes,
    pssBytes: newer?.pssBytes ?? p.pssBytes,
    // The detail view's fresh reading has no USS: the sample's, read with the sample's PSS.
    ussBytes: p.ussBytes,
    swapBytes: p.swapBytes,
    sampledAtMs: newer?.atMs ?? p.sampledAtMs,
    pssAtMs: newer !== undefined && newer.pssBytes !== null ? newer.atMs : p.pssAtMs,
    calls: tracing ? (t?.calls ?? 0) : null,
    alive: t?.alive ?? true,
  };
  // The sample read the process, so a null /proc figure is one its file refused (permission).
  return {
    ...row,
    unavailable: reasonsOf(row, {
      requested: 'no-tracing',
      reserved: tracing ? 'not-measured' : 'no-tracing',
      mappedNow: 'permission',
      rss: 'permission',
      pss: 'permission',
      uss: 'permission',
      swap: 'permission',
      calls: 'no-tracing',
    }),
  };
}

/** The row of a process the tracer knows and the last sample did not list. */
function tracedOnlyRow(
  t: TracedProcess,
  fresh: FreshReading | undefined,
  gone: boolean,
  totalVirtual: number | null,
): ProcessRow {
  const alive = t.alive && !gone;
  const f = alive ? fresh : undefined;
  const row = {
    ...fromCallsAlone(t, totalVirtual),
    reservedBytes: Math.max(0, t.reservedBytes),
    mappedNowBytes: t.mappedNowBytes,
    rssBytes: f?.rssBytes ?? null,
    pssBytes: f?.pssBytes ?? null,
    ussBytes: null,
    swapBytes: null,
    sampledAtMs: f?.atMs ?? null,
    pssAtMs: f !== undefined && f.pssBytes !== null ? f.atMs : null,
    calls: t.calls,
    alive,
  };
  const proc: Unavailable = alive ? 'not-sampled' : 'exited';
  return {
    ...row,
    unavailable: reasonsOf(row, {
      reserved: 'not-measured',
      mappedNow: proc,
      rss: proc,
      pss: proc,
      uss: proc,
      swap: proc,
    }),
  };
}

/** Rows for a host this server does not sample: only what the store recorded. */
export function storedProcessRows(totals: readonly StoredProcessTotal[], totalVirtual: number | null): ProcessRow[] {
  return totals.map((t) => {
    const row = {
      ...fromCallsAlone(t, totalVirtual),
      // The store keeps call totals, not address spaces: which bytes are PROT_NONE is not known.
      reservedBytes: null,
      mappedNowBytes: null,
      rssBytes: null,
      pssBytes: null,
      ussBytes: null,
      swapBytes: null,
      sampledAtMs: null,
      pssAtMs: null,
      calls: t.calls,
      alive: true,
    };
    return {
      ...row,
      unavailable: reasonsOf(row, {
        reserved: 'remote',
        mappedNow: 'remote',
        rss: 'remote',
        pss: 'remote',
        uss: 'remote',
        swap: 'remote',
      }),
    };
  });
}

export const PIE_TOP = 10;

/**
 * The top `top` processes by `figure`, then one "others" slice with the remainder. Exited
 * processes take part only when `withExited`: a pie of who holds memory now is led by processes
 * that hold it now, not by the requests of programs that have already gone.
 */
export function processPie(
  rows: readonly ProcessRow[],
  figure: PieFigure,
  withExited = false,
  top: number = PIE_TOP,
): { slices: PieSlice[]; othersCount: number; totalRequestedBytes: number } {
  // One pass keeping the `top` largest in order (insertion into a short sorted array): the table
  // holds hundreds of rows, exited ones too, and this runs with every table the live hub sends;
  // sorting every row, each wrapped in a new object, was most of the work and its garbage.
  const best: { r: ProcessRow; v: number }[] = [];
  let total = 0;
  let counted = 0;
  const before = (v: number, r: ProcessRow, x: { r: ProcessRow; v: number }): boolean =>
    v > x.v || (v === x.v && r.pid < x.r.pid);
  for (const r of rows) {
    const v = figure === 'pss' ? r.pssBytes : r.requestedBytes;
    if (v === null || v <= 0 || !(withExited || r.alive)) continue;
    total += v;
    counted++;
    const last = best[best.length - 1];
    if (best.length >= top && (last === undefined || !before(v, r, last))) continue;
    let i = best.length;
    while (i > 0 && before(v, r, best[i - 1] as { r: ProcessRow; v: number })) i--;
    best.splice(i, 0, { r, v });
    if (best.length > top) best.pop();
  }
  const slices: PieSlice[] = best.map(({ r, v }) => ({ label: r.name, pid: r.pid, bytes: v }));
  const othersCount = counted - best.length;
  if (othersCount > 0) {
    let shown = 0;
    for (const x of best) shown += x.v;
    slices.push({ label: 'others', pid: null, bytes: total - shown });
  }
  return { slices, othersCount, totalRequestedBytes: total };
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
  const empty = (program: string): ProgramGroup => ({
    program,
    processes: 0,
    rssBytes: 0,
    pssBytes: null,
    swapBytes: 0,
    requestedBytes: null,
  });
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
