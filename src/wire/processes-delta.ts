// The processes table sent as changes (ProcessesDelta of messages.ts): what the page does with one.
// No runtime dependency, like messages.ts: the browser bundle imports it.
import type { ProcessesBody, ProcessesDelta, ProcessRow } from './messages.js';

/**
 * The table `base` becomes with `delta`: its rows less the removed pids, each changed row replaced
 * where it stood, new rows after. `base` is left as it was. The caller checks first that `delta`
 * applies to the table it holds (delta.baseTable).
 */
export function applyProcessesDelta(base: ProcessesBody, delta: ProcessesDelta): ProcessesBody {
  const changed = new Map<number, ProcessRow>();
  for (const r of delta.rows) changed.set(r.pid, r);
  const removed = new Set(delta.removed);
  const rows: ProcessRow[] = [];
  for (const r of base.rows) {
    if (removed.has(r.pid)) continue;
    const c = changed.get(r.pid);
    rows.push(c ?? r);
    if (c !== undefined) changed.delete(r.pid);
  }
  for (const r of changed.values()) rows.push(r);
  return {
    type: 'processes',
    v: base.v,
    host: delta.host,
    atMs: delta.atMs,
    totalVirtualBytes: delta.totalVirtualBytes,
    rows,
    remote: false,
    pssHistory: delta.pssHistory === undefined ? base.pssHistory : delta.pssHistory,
    table: delta.table,
  };
}

/**
 * A table as a value: its rows ordered by pid (row order carries no meaning), so that two tables
 * compare equal with a deep comparison exactly when they hold the same rows and figures.
 */
export function canonicalTable(body: ProcessesBody): ProcessesBody {
  return { ...body, rows: [...body.rows].sort((a, b) => a.pid - b.pid) };
}
