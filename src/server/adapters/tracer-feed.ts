// Runs a tracing backend for the dashboard: every batch goes to the per-process accounts
// (src/analyses/trace), to the store (through the StoreSink of src/store/trace-sink.ts, the path
// `memlens trace` takes too) and to the live state; the accounts' rows are handed to the live state
// a few times a second, not per batch. Like `memlens trace`, the feed stops reading while the
// store's worker is too far behind (pressure()): the kernel's ring buffer then drops and counts new
// events, rather than memlens holding them in memory without bound.
import type { AccountRow, ProcessAccount, ProcessAccounts } from '../../analyses/trace/process-accounts.js';
import type { StoreSink } from '../../store/trace-sink.js';
import type { TraceBackend } from '../../sources/trace-backend.js';
import type { TracedProcess } from '../inputs.js';
import type { LiveState } from '../live-state.js';

const ACCOUNTS_EVERY_MS = 250;
/** Exited processes stay in the table (greyed) while they are among the newest this many. */
const EXITED_KEPT = 200;

export function tracedFromRows(rows: readonly AccountRow[]): TracedProcess[] {
  const alive = rows.filter((r) => !r.exited);
  // rows() lists exited processes in no time order; keep the largest requesters among them.
  const exited = rows
    .filter((r) => r.exited)
    .sort((a, b) => Number(b.requestedBytes - a.requestedBytes))
    .slice(0, EXITED_KEPT);
  return [...alive, ...exited].map((r) => ({
    pid: r.pid,
    name: r.name,
    requestedBytes: Number(r.requestedBytes),
    reservedBytes: Number(r.reservedBytes),
    mappedNowBytes: r.mappedNowBytes === null ? null : Number(r.mappedNowBytes),
    calls: r.calls,
    alive: !r.exited,
  }));
}

/** Largest requesters first; between equals, the lower pid (the order tracedFromRows keeps). */
const byRequested = (a: TracedProcess, b: TracedProcess): number =>
  b.requestedBytes - a.requestedBytes || a.pid - b.pid;

/**
 * The live state's view of an account, or null when tracedFromRows would leave it out (no call
 * yet, and no complete model of a running process).
 */
function tracedOf(a: ProcessAccount): TracedProcess | null {
  const model = a.exited ? null : a.model;
  if (a.calls === 0 && (a.exited || model?.complete !== true)) return null;
  return {
    pid: a.pid,
    name: a.name,
    requestedBytes: Number(model ? model.requestedBytes : a.lastRequestedBytes),
    reservedBytes: Number(model ? model.reservedBytes : a.lastReservedBytes),
    mappedNowBytes: model ? Number(model.space.mappedBytes) : null,
    calls: a.calls,
    alive: !a.exited,
  };
}

/**
 * The processes tracedFromRows(accounts.rows(…, true)) lists (in another order), kept up to date
 * from the accounts that changed (ProcessAccounts.takeChanged) instead of being built again from
 * every account ever seen, exited ones included, four times a second. A process that did not
 * change keeps its object.
 */
export class TracedTable {
  private readonly running = new Map<number, TracedProcess>();
  /** Every exited process with calls (the accounts keep them all). */
  private readonly exited = new Map<number, TracedProcess>();
  /** The EXITED_KEPT largest of `exited`, largest first; null: to be chosen again. */
  private top: TracedProcess[] | null = null;

  constructor(private readonly accounts: ProcessAccounts) {
    accounts.trackChanges();
    for (const a of accounts.all()) this.take(a.pid);
    accounts.takeChanged();
  }

  /** Takes in what changed since the last call; returns the table. */
  update(): TracedProcess[] {
    for (const pid of this.accounts.takeChanged()) this.take(pid);
    this.top ??= [...this.exited.values()].sort(byRequested).slice(0, EXITED_KEPT);
    return [...this.running.values(), ...this.top];
  }

  private take(pid: number): void {
    const a = this.accounts.get(pid);
    const t = a === undefined ? null : tracedOf(a);
    this.running.delete(pid);
    const was = this.exited.get(pid);
    if (was !== undefined) {
      this.exited.delete(pid);
      // It may have been among the kept ones: they are chosen again (a pid reused, a rename).
      if (this.top?.includes(was) === true) this.top = null;
    }
    if (t === null) return;
    if (t.alive) {
      this.running.set(pid, t);
      return;
    }
    this.exited.set(pid, t);
    const top = this.top;
    if (top === null) return;
    const last = top[top.length - 1];
    if (top.length < EXITED_KEPT || (last !== undefined && byRequested(t, last) < 0)) {
      let i = top.length;
      while (i > 0 && byRequested(t, top[i - 1] as TracedProcess) < 0) i--;
      top.splice(i, 0, t);
      if (top.length > EXITED_KEPT) top.pop();
    }
  }
}

export interface TracerFeedOptions {
  backend: TraceBackend;
  accounts: ProcessAccounts;
  state: LiveState;
  store: Pick<StoreSink, 'write' | 'reportLost' | 'pressure'> | null;
  totalVirtualBytes: bigint;
  /** Resolves when the server stops: it also ends a wait for the store to catch up. */
  stopped?: Promise<void>;
}

/** Consumes batches until the backend stops. */
export async function feedFromTracer(o: TracerFeedOptions): Promise<void> {
  let lastAccounts = 0;
  const table = new TracedTable(o.accounts);
  const publish = (): void => {
    o.state.applyTrace(table.update(), Date.now());
    const lost = o.backend.lost();
    o.state.setLost(lost);
    o.store?.reportLost(lost);
    lastAccounts = Date.now();
  };
  // A quiet spell after a batch must not leave the table behind: publish once it has settled.
  let trailing: NodeJS.Timeout | null = null;
  for await (const batch of o.backend.batches()) {
    o.accounts.apply(batch);
    o.state.addEvents(batch.events);
    o.store?.write(batch.events, batch.lifecycle);
    // With the database and the spill file both failing, this wait lasts until one of them takes
    // events again, or the server stops.
    const behind = o.store?.pressure();
    if (behind !== undefined) await (o.stopped === undefined ? behind : Promise.race([behind, o.stopped]));
    if (Date.now() - lastAccounts >= ACCOUNTS_EVERY_MS) publish();
    else if (trailing === null) {
      trailing = setTimeout(() => {
        trailing = null;
        publish();
      }, ACCOUNTS_EVERY_MS);
    }
  }
  if (trailing !== null) clearTimeout(trailing);
  publish();
}
