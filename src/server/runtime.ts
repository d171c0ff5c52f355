// `memlens serve` in one process: the /proc sampler (on a CPU budget), the tracer (tracefs; shown
// as unavailable without root), the event store, and the dashboard server (HTTP API, WebSocket
// updates, the page, /metrics). Everything here is wiring: the logic lives in src/analyses,
// src/sources, src/store and the rest of src/server.
//
// The traced events are written the way `memlens trace` writes them: through the StoreSink of
// src/store/trace-sink.ts, whose WorkerWriter does the store's insert work in a worker thread with
// a connection of its own, and stops the feed while it is too far behind. The main thread keeps its
// own connection for what it reads (views, history, the events API) and for the history: SQLite is
// opened in WAL mode (src/store/connect.ts), so this connection reads while the worker writes, and
// MariaDB is a pool anyway.
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readStartTicks } from '../analyses/series-diff.js';
import { ProcessAccounts } from '../analyses/trace/process-accounts.js';
import { RollupCarry } from '../analyses/rollup-carry.js';
import { collectSnapshot } from '../analyses/snapshot.js';
import { openLiveProcSource } from '../sources/procfs.js';
import type { TraceBackend } from '../sources/trace-backend.js';
import { createTraceBackend } from '../sources/trace-backends.js';
import { startTime, TraceProc } from '../sources/trace-proc.js';
import {
  DEFAULT_HISTORY_RETENTION,
  openStore,
  openStoreSink,
  type HistoryRetention,
  type StoreSink,
} from '../store/index.js';
import { RETENTION_EVERY_MS, startRetentionTimer } from '../store/retention-timer.js';
import type { EventStore } from '../store/index.js';
import { historySampleFromSnapshot } from './adapters/history-sample.js';
import { sampleFromSnapshot } from './adapters/snapshot-sample.js';
import { storeView } from './adapters/store-view.js';
import { feedFromTracer } from './adapters/tracer-feed.js';
import { createDashboardServer } from './app.js';
import { PagesService } from './pages-service.js';
import { DirtyWatchState, startDirtyWatch, type DirtyWatchConfig, type RunningDirtyWatch } from './dirty-watch.js';
import { HistoryRecorder, TIMELINE_SPANS_MS } from './history-recorder.js';
import { LiveState } from './live-state.js';
import { AdaptiveSampler } from './sampler.js';
import { createAccessPolicy } from './security.js';
import { DashboardViews } from './views.js';
import { mappingsReader } from './mappings-reader.js';
import { replayArchive } from './read-only.js';
import type { ReadOnlyArchive } from '../wire/messages.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** Store URL; undefined = the default SQLite file. */
  db: string | undefined;
  token: string | null;
  trace: boolean;
  /** Share of one core the /proc sampler may use (default 0.01). */
  cpuBudget: number;
  version: string;
  log: (line: string) => void;
  /** Directory of memtrace traces for the dashboard's OCaml view. */
  memtraceDir?: string | null;
  /** Retention limit of the store, applied at start and then every RETENTION_EVERY_MS. */
  retention?: { maxAgeMs?: number; maxRows?: number } | null;
  /** How long each tier of the /proc history is kept (default DEFAULT_HISTORY_RETENTION). */
  historyRetention?: HistoryRetention;
  /** How often the history's pending rows are written (default 10 s). */
  historyFlushMs?: number;
  /** The dirty-pages watch (--dirty-watch PID), checked by the command before the start. */
  dirtyWatch?: DirtyWatchConfig | null;
  /** A capture archive to show read-only instead of this machine (`memlens serve --from`). */
  from?: string | null;
}

export interface RunningServe {
  url: string;
  /** The archive shown by a read-only server; null when live. */
  readOnly: ReadOnlyArchive | null;
  /** The URL to open, with the token when one is required. */
  openUrl: string;
  token: string | null;
  close(): Promise<void>;
}

/** The oldest a carried-over smaps_rollup reading may be (rollup-carry.ts). */
export const PSS_CARRY_MAX_AGE_MS = 30_000;

const WEB_ROOT = fileURLToPath(new URL('../../web', import.meta.url));

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The host of the link printed at start. Bound to every interface (0.0.0.0, ::), the listen
 * address is no address to connect to, and not a name the Host check accepts: the link names
 * loopback, which reaches the same server and is always allowed.
 */
export function linkHost(listenHost: string): string {
  const h = listenHost.replace(/^\[|\]$/g, '');
  if (h === '0.0.0.0') return '127.0.0.1';
  if (h === '::' || h === '0:0:0:0:0:0:0:0') return '::1';
  return h;
}

/**
 * Starts everything, then listens. When the server cannot listen (the port is taken, the address
 * is not this machine's, the name does not resolve), everything started so far is closed again
 * before the error is rethrown: the sampler's and the hub's timers, the tracer's tracefs instance
 * and the store would otherwise keep the process running after the command has said it failed.
 */
export async function startServe(o: ServeOptions): Promise<RunningServe> {
  const opened: (() => Promise<void>)[] = [];
  const closeOpened = async (): Promise<void> => {
    for (const close of opened.reverse()) {
      try {
        await close();
      } catch (e) {
        o.log(`while stopping: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  try {
    return await start(o, opened);
  } catch (e) {
    await closeOpened();
    throw e;
  }
}

async function start(o: ServeOptions, opened: (() => Promise<void>)[]): Promise<RunningServe> {
  if (o.from !== undefined && o.from !== null) return startReadOnly(o, o.from, opened);
  const host = hostname();
  const access = createAccessPolicy({ listenHost: o.host, token: o.token, extraHosts: [host] });
  const store: EventStore = await openStore(o.db, { notice: o.log });
  opened.push(() => store.close());
  const state = new LiveState({ host });
  const source = openLiveProcSource();
  // The history stays on this thread's connection: it writes one small transaction of upserts every
  // few seconds (not per event), and its reads merge the rows still pending in its memory over the
  // stored ones, which a worker of its own would put out of reach. SQLite's busy timeout (connect.ts)
  // lets its write wait for a commit of the events' worker, which takes milliseconds.
  const history = new HistoryRecorder(store.history, host, {
    retention: o.historyRetention ?? DEFAULT_HISTORY_RETENTION,
    flushEveryMs: o.historyFlushMs,
    log: o.log,
    prefetchSpansMs: TIMELINE_SPANS_MS,
  });
  // The in-memory per-process histories (the sparklines' ProcessHistory and the detail view's
  // points) start with the stored last hour, one point a minute: a restart keeps their past. Both
  // key a process by pid and start time, so a pid now held by another process starts empty.
  try {
    const byPid = new Map<number, { startTicks: number; points: { tMs: number; pssBytes: number }[] }>();
    for (const r of await history.recentProcessPss(Date.now() - 3_600_000)) {
      state.pssHistory.add(r.tMs, r.pid, String(r.startTicks), r.pssBytes);
      let e = byPid.get(r.pid);
      if (e === undefined || e.startTicks !== r.startTicks)
        byPid.set(r.pid, (e = { startTicks: r.startTicks, points: [] }));
      e.points.push({ tMs: r.tMs, pssBytes: r.pssBytes });
    }
    for (const [pid, e] of byPid)
      if (startTime(pid, source) === String(e.startTicks)) state.seedProcessHistory(pid, e.points);
  } catch (e) {
    o.log(`history: cannot read the stored process history: ${e instanceof Error ? e.message : String(e)}`);
  }
  history.start();
  opened.push(() => history.close());

  // smaps_rollup, the expensive read, is carried over for processes whose own memory has not moved
  // (rollup-carry.ts): re-read when their own counters in status move, by the relatives of a
  // process that started, ended or exec'd, and never older than PSS_CARRY_MAX_AGE_MS.
  const carry = new RollupCarry(PSS_CARRY_MAX_AGE_MS);
  const sampler = new AdaptiveSampler({
    cpuBudget: o.cpuBudget,
    minIntervalMs: 1000,
    maxIntervalMs: 60_000,
    async sample() {
      const snap = await collectSnapshot(source, { carry });
      const starts = await readStartTicks(
        source,
        snap.processes.map((p) => p.pid),
      );
      const s = sampleFromSnapshot(snap, starts);
      state.applySample(s);
      history.record(historySampleFromSnapshot(snap, (pid) => starts.get(pid)));
      return {
        processes: s.processes.length,
        pssUnavailable: s.pssUnavailable,
        pssDeferred: s.pssDeferred,
        atMs: s.atMs,
        savedCostMs: carry.savedCostMs,
      };
    },
    onState: (s) => state.setSampler(s),
    onError: (e) => o.log(`sampler: ${e instanceof Error ? e.message : String(e)}`),
  });

  let backend: TraceBackend | null = null;
  let feed: Promise<void> = Promise.resolve();
  let sink: StoreSink | null = null;
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  // The end of tracing, in order: the feed is told to stop waiting for the store, the backend stops,
  // the feed ends, then the writer adds the last lost counts and closes (bounded: a few seconds
  // whatever the database does, the rest is spilled; trace-sink.ts).
  let tracingClosed: Promise<void> | null = null;
  const stopTracing = (): Promise<void> =>
    (tracingClosed ??= (async () => {
      stopRequested();
      const b = backend;
      if (b === null) return;
      await b.stop();
      await feed;
      await sink?.close(b.lost());
    })());
  if (!o.trace) state.setTracing({ state: 'disabled', reason: 'started with --no-trace' });
  else {
    try {
      const b = await createTraceBackend({ backend: 'tracefs', options: { host, excludeSelf: true } });
      await b.start();
      backend = b;
      opened.push(stopTracing);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      state.setTracing({
        state: 'unavailable',
        reason: process.getuid?.() === 0 ? reason : `tracing needs root: ${reason}`,
      });
      o.log(`tracing unavailable: ${reason}; serving /proc data only`);
    }
    if (backend !== null) {
      // Opened only when there is something to trace: with tracing off or unavailable nothing writes
      // events, and no worker thread is started. Its errors are the store's own, as at `memlens trace`.
      sink = await openStoreSink(o.db, { host, log: o.log });
      const proc = new TraceProc(source);
      const accounts = new ProcessAccounts(await proc.pageSizeBytes());
      accounts.seed(await proc.readProcessSeeds());
      state.setTracing({ state: 'running', backend: backend.name, sinceMs: Date.now() });
      const b = backend;
      feed = feedFromTracer({
        backend: b,
        accounts,
        state,
        store: sink,
        totalVirtualBytes: await proc.totalVirtualBytes(),
        stopped,
      }).catch((e: unknown) => {
        const reason = e instanceof Error ? e.message : String(e);
        state.setTracing({ state: 'unavailable', reason: `tracer stopped: ${reason}` });
        o.log(`tracer stopped: ${reason}`);
      });
    }
  }
  sampler.start();
  opened.push(() => sampler.stop());

  const stopHistoryRetention = startRetentionTimer(
    () => history.applyRetention(),
    RETENTION_EVERY_MS,
    (r) => {
      if (!r.ok) o.log(`history retention: ${r.error instanceof Error ? r.error.message : String(r.error)}`);
    },
  );
  opened.push(() => {
    stopHistoryRetention();
    return Promise.resolve();
  });

  // The events' retention runs here, not in the writer's worker as at `memlens trace`: it applies
  // with tracing off or unavailable too, when no worker is started. Its deletes go in chunks of
  // short transactions (event-store.ts), so the worker's commits wait milliseconds at most.
  const retention = o.retention ?? null;
  const stopRetention =
    retention === null
      ? undefined
      : startRetentionTimer(
          () => store.applyRetention(retention),
          RETENTION_EVERY_MS,
          (r) => {
            if (!r.ok) o.log(`retention: ${r.error instanceof Error ? r.error.message : String(r.error)}`);
            else if (r.value.deletedEvents > 0) o.log(`retention: deleted ${r.value.deletedEvents} stored events`);
          },
        );
  opened.push(() => {
    stopRetention?.();
    return Promise.resolve();
  });

  const readMappings = mappingsReader(source, {
    permission: 'permission denied (smaps needs root or the same user)',
    missing: 'the process has exited',
  });
  const views = new DashboardViews(state, storeView(store), readMappings);
  views.history = history;
  const dirtyConfig = o.dirtyWatch ?? null;
  const dirty = dirtyConfig === null ? null : new DirtyWatchState(dirtyConfig);
  const server = await createDashboardServer({
    views,
    access,
    webRoot: WEB_ROOT,
    version: o.version,
    memtraceDir: o.memtraceDir ?? null,
    dirty,
    pages: new PagesService(source),
    log: (msg, err) => o.log(`${msg}${err instanceof Error ? `: ${err.message}` : ''}`),
  });
  opened.push(() => server.close());
  await server.app.listen({ host: o.host, port: o.port });
  // Only once the server listens: a start that fails has cleared nothing of the target.
  let dirtyRun: RunningDirtyWatch | null = null;
  if (dirty !== null) {
    const c = dirty.config;
    if (c.unavailable !== null) o.log(`dirty watch of process ${c.pid}: not started: ${c.unavailable}`);
    else {
      dirtyRun = startDirtyWatch(dirty, o.log);
      o.log(
        `dirty watch of process ${c.pid}: every ${c.intervalMs} ms memlens clears its ${c.method === 'accessed' ? 'referenced' : 'soft-dirty'} bits and counts the ${dirty.head.meaning} since`,
      );
    }
  }
  const url = `http://${urlHost(linkHost(o.host))}:${o.port}/`;
  return {
    url,
    openUrl: access.token === null ? url : `${url}?token=${encodeURIComponent(access.token)}`,
    token: access.token,
    readOnly: null,
    async close() {
      stopRetention?.();
      stopHistoryRetention();
      await dirtyRun?.stop();
      await server.close();
      await sampler.stop();
      await stopTracing();
      await history.close();
      await store.close();
    },
  };
}

/**
 * The dashboard over a capture archive (read-only.ts): the archive is replayed first, then the
 * server listens; no sampler, tracer, store of events or retention timer is started.
 */
async function startReadOnly(o: ServeOptions, from: string, opened: (() => Promise<void>)[]): Promise<RunningServe> {
  const replayed = await replayArchive(from, o.log);
  opened.push(() => replayed.close());
  const access = createAccessPolicy({ listenHost: o.host, token: o.token, extraHosts: [hostname()] });
  const views = new DashboardViews(replayed.state, null, replayed.readMappings);
  views.history = replayed.history;
  views.readOnly = replayed.readOnly;
  const server = await createDashboardServer({
    views,
    access,
    webRoot: WEB_ROOT,
    version: o.version,
    memtraceDir: null,
    dirty: null,
    log: (msg, err) => o.log(`${msg}${err instanceof Error ? `: ${err.message}` : ''}`),
  });
  opened.push(() => server.close());
  await server.app.listen({ host: o.host, port: o.port });
  const url = `http://${urlHost(linkHost(o.host))}:${o.port}/`;
  return {
    url,
    openUrl: access.token === null ? url : `${url}?token=${encodeURIComponent(access.token)}`,
    token: access.token,
    readOnly: replayed.readOnly,
    async close() {
      await server.close();
      await replayed.close();
    },
  };
}
