// Runs a tracing backend for the dashboard: every batch goes to the per-process accounts
// (src/analyses/trace), to the store (through the StoreSink of src/store/trace-sink.ts, the path
// `memlens trace` takes too) and to the live state; the accounts' rows are handed to the live state
// a few times a second, not per batch. Like `memlens trace`, the feed stops reading while the
// store's worker is too far behind (pressure()): the kernel's ring buffer then drops and counts new
// events, rather than memlens holding them in memory without bound.
import type { ProcessAccounts, AccountRow } from '../../analyses/trace/process-accounts.js';
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
  const publish = (): void => {
    o.state.applyTrace(tracedFromRows(o.accounts.rows(o.totalVirtualBytes, true)), Date.now());
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
