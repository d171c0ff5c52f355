// Builds every body the dashboard reads, for HTTP and WebSocket alike. The local host's views come
// from the live state; another host (several hosts writing into one MySQL database) has only what
// the store recorded, so its /proc figures are null ("n/a"), never 0.
import { eventToJson } from '../wire/events.js';
import type { EventsQuery, HistoryQuery } from '../wire/messages-input.js';
import type {
  EventCountBody,
  EventsBody,
  HistoryBody,
  HostsBody,
  LedgerBody,
  PieBody,
  PieFigure,
  ProcessDetailBody,
  ReadOnlyArchive,
  ProcessesBody,
  StatusBody,
  TimelineBody,
} from '../wire/messages.js';
import { EVENT_COUNT_CAP, MESSAGES_WIRE_VERSION as v } from '../wire/messages.js';
import { processPie, storedProcessRows } from './aggregate.js';
import type { EventViewFilter, EventStoreView, HistoryReader, MappingsReader } from './inputs.js';
import type { LiveState } from './live-state.js';

export const EVENTS_PAGE_DEFAULT = 200;
/**
 * Hosts whose stored totals and event count are kept (least recently used first out). A
 * `?host=` value comes from any client, even from another site's page (a no-cors request), so
 * only hosts the store holds events of get an entry, and at most this many: 400,000 requests
 * with distinct made-up hosts once grew the server by 150 MiB, never given back.
 */
export const HOST_CACHE_ENTRIES = 64;
/** How long the store's list of hosts is trusted before it is read again. */
const KNOWN_HOSTS_REFRESH_MS = 2000;

/** A Map that keeps its newest `max` entries: get and set make an entry the newest. */
class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get size(): number {
    return this.map.size;
  }
  get(key: string): V | undefined {
    const val = this.map.get(key);
    if (val !== undefined) {
      this.map.delete(key);
      this.map.set(key, val);
    }
    return val;
  }
  set(key: string, val: V): void {
    this.map.delete(key);
    this.map.set(key, val);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value ?? '');
  }
}

export class DashboardViews {
  /** Per-host cache of stored totals, so that a remote host costs one query per interval. */
  private readonly remoteTotals = new BoundedCache<{ atMs: number; body: ProcessesBody }>(HOST_CACHE_ENTRIES);
  /** The store's hosts, as last read; one read at a time however many requests ask. */
  private knownHosts: { atMs: number; hosts: ReadonlySet<string> } | null = null;
  private knownHostsRead: Promise<ReadonlySet<string>> | null = null;
  /** The stored /proc history; null without a store (the timeline then has the live ring only). */
  history: HistoryReader | null = null;
  /** The archive shown by a read-only server (`memlens serve --from`); null when live. */
  readOnly: ReadOnlyArchive | null = null;

  constructor(
    readonly state: LiveState,
    readonly store: EventStoreView | null,
    private readonly readMappings: MappingsReader | null,
    private readonly remoteRefreshMs = 2000,
  ) {}

  /** Entries held in the per-host cache (at most HOST_CACHE_ENTRIES). */
  cacheSizes(): { remoteTotals: number } {
    return { remoteTotals: this.remoteTotals.size };
  }

  /** True when the store holds events of `host` (or it is this host). */
  private async hostKnown(host: string): Promise<boolean> {
    if (host === this.state.host) return true;
    if (this.store === null) return false;
    const k = this.knownHosts;
    if (k !== null && Date.now() - k.atMs < KNOWN_HOSTS_REFRESH_MS) return k.hosts.has(host);
    this.knownHostsRead ??= this.store
      .hosts()
      .then((list) => {
        const hosts = new Set(list);
        this.knownHosts = { atMs: Date.now(), hosts };
        return hosts;
      })
      .catch(() => this.knownHosts?.hosts ?? new Set<string>())
      .finally(() => (this.knownHostsRead = null));
    return (await this.knownHostsRead).has(host);
  }

  isLocal(host: string | undefined): boolean {
    return host === undefined || host === '' || host === this.state.host;
  }

  private hostOf(host: string | undefined): string {
    return this.isLocal(host) ? this.state.host : (host as string);
  }

  async status(host?: string): Promise<StatusBody> {
    const s = this.state.latestSample;
    const selected = this.hostOf(host);
    return {
      type: 'status',
      v,
      host: this.state.host,
      selectedHost: selected,
      serverTimeMs: Date.now(),
      tracing: this.state.tracing,
      lost: this.state.lost,
      sampler: this.state.sampler,
      memTotalBytes: this.isLocal(host) ? (s?.memTotalBytes ?? null) : null,
      swapTotalBytes: this.isLocal(host) ? (s?.swapTotalBytes ?? null) : null,
      totalVirtualBytes: this.isLocal(host) ? this.state.totalVirtual : null,
      storedEvents: await this.storedCount(selected),
      store: this.store?.description ?? 'none',
      ...(this.readOnly === null ? {} : { readOnly: this.readOnly }),
    };
  }

  private async storedCount(host: string): Promise<number | null> {
    if (this.store === null) return null;
    // A host the store has never seen has no events: answered without a query.
    if (!(await this.hostKnown(host))) return 0;
    // The store keeps each host's count (written and deleted events), so this is one row read:
    // counting the events was a scan of every event of the host, 0.4–0.9 s for a million on the
    // server's thread, for the status every live page asks for.
    return this.store.count({ host }).catch(() => null);
  }

  async processes(host?: string): Promise<ProcessesBody> {
    if (this.isLocal(host)) {
      const s = this.state.latestSample;
      const rows = this.state.processRows();
      return {
        type: 'processes',
        v,
        host: this.state.host,
        atMs: Math.max(s?.atMs ?? 0, this.state.tracedAt ?? 0) || null,
        totalVirtualBytes: this.state.totalVirtual,
        rows,
        remote: false,
        pssHistory: this.state.pssHistoryBody(),
        table: this.state.version('processes'),
      };
    }
    const h = host as string;
    if (!(await this.hostKnown(h)))
      return {
        type: 'processes',
        v,
        host: h,
        atMs: Date.now(),
        totalVirtualBytes: null,
        rows: [],
        remote: true,
        pssHistory: null,
      };
    const cached = this.remoteTotals.get(h);
    if (cached !== undefined && Date.now() - cached.atMs < this.remoteRefreshMs) return cached.body;
    const totals = this.store === null ? [] : await this.store.processTotals(h);
    const body: ProcessesBody = {
      type: 'processes',
      v,
      host: h,
      atMs: Date.now(),
      totalVirtualBytes: null,
      rows: storedProcessRows(totals, null),
      remote: true,
      pssHistory: null,
    };
    this.remoteTotals.set(h, { atMs: Date.now(), body });
    return body;
  }

  /** The pie of `figure` (default: requested memory, the pie's first meaning) over live processes, or all when `withExited`. */
  async pie(host?: string, figure: PieFigure = 'requested', withExited = false): Promise<PieBody> {
    const p = await this.processes(host);
    return {
      type: 'pie',
      v,
      host: p.host,
      figure,
      exitedIncluded: withExited,
      ...processPie(p.rows, figure, withExited),
    };
  }

  ledger(host?: string): LedgerBody {
    const s = this.isLocal(host) ? this.state.latestSample : null;
    return {
      type: 'ledger',
      v,
      host: this.hostOf(host),
      atMs: s?.atMs ?? null,
      root: s?.ledger ?? null,
      used: s?.used ?? [],
    };
  }

  timeline(host?: string): TimelineBody {
    if (!this.isLocal(host)) return { type: 'timeline', v, host: this.hostOf(host), categories: [], points: [] };
    const t = this.state.timeline();
    return { type: 'timeline', v, host: this.state.host, categories: t.categories, points: t.points };
  }

  async historyWindow(q: HistoryQuery): Promise<HistoryBody> {
    const host = this.hostOf(q.host);
    const pids =
      q.pids === undefined || q.pids === ''
        ? undefined
        : q.pids.split(',').map((p) => {
            const [pid, start] = p.split(':');
            return { pid: Number(pid), startTicks: Number(start) };
          });
    if (this.history === null) {
      const now = Date.now();
      return {
        type: 'history',
        v,
        host,
        fromMs: q.from ?? now - 3_600_000,
        toMs: q.to ?? now,
        tier: 'none',
        bucketMs: 0,
        categories: [],
        points: [],
        processes: [],
        series: [],
        seriesBucketMs: 0,
        oldestMs: null,
      };
    }
    return this.history.window({ host, fromMs: q.from, toMs: q.to, points: q.points, pids: pids?.slice(0, 20) });
  }

  async processDetail(pid: number, host?: string): Promise<ProcessDetailBody | undefined> {
    let p = await this.processes(host);
    let row = p.rows.find((r) => r.pid === pid);
    if (row === undefined) return undefined;
    let mappings: ProcessDetailBody['mappings'] = null;
    let mappingsError: string | null = null;
    let mappingsAtMs: number | null = null;
    if (!this.isLocal(host)) mappingsError = 'mappings are only read on the host itself';
    else if (this.readMappings === null) mappingsError = 'mappings reader not available';
    else if (!row.alive) mappingsError = 'the process has exited';
    else {
      const r = await this.readMappings(pid);
      if ('error' in r) mappingsError = r.error;
      else {
        mappings = r.rows;
        // A read-only server's mappings are the archive's last snapshot, read when it was.
        mappingsAtMs = this.readOnly?.toMs ?? Date.now();
        // The mappings were read now, the row's figures at the last sample (up to a minute ago,
        // or never for a process started since): the row takes the newer figures, so that the
        // table and this panel show the same RSS and PSS.
        const sum = (k: 'rssBytes' | 'pssBytes'): number | null =>
          r.rows.some((m) => m[k] === null) ? null : r.rows.reduce((s, m) => s + (m[k] ?? 0), 0);
        this.state.applyReading(pid, { rssBytes: sum('rssBytes'), pssBytes: sum('pssBytes'), atMs: mappingsAtMs });
        p = await this.processes(host);
        row = p.rows.find((x) => x.pid === pid) ?? row;
      }
    }
    return {
      type: 'process',
      v,
      host: p.host,
      row,
      mappings,
      mappingsAtMs,
      mappingsError,
      history: this.isLocal(host) ? this.state.history(pid) : [],
    };
  }

  private filterOf(q: EventsQuery): EventViewFilter {
    const f: EventViewFilter = { host: this.hostOf(q.host) };
    if (q.pid !== undefined) f.pid = q.pid;
    if (q.name !== undefined && q.name !== '') f.name = q.name;
    if (q.call !== undefined) f.call = q.call;
    if (q.from !== undefined) f.fromMs = q.from;
    if (q.to !== undefined) f.toMs = q.to;
    return f;
  }

  async events(q: EventsQuery): Promise<EventsBody> {
    const host = this.hostOf(q.host);
    if (this.store === null) return { type: 'events', v, host, rows: [], next: null };
    const page = await this.store.page(this.filterOf(q), q.before ?? null, q.limit ?? EVENTS_PAGE_DEFAULT);
    return { type: 'events', v, host, rows: page.events.map(eventToJson), next: page.next };
  }

  async eventCount(q: EventsQuery): Promise<EventCountBody> {
    const host = this.hostOf(q.host);
    // One more than the cap tells "exactly the cap" from "more".
    const n = this.store === null ? 0 : await this.store.count(this.filterOf(q), EVENT_COUNT_CAP + 1);
    return { type: 'event-count', v, host, count: Math.min(n, EVENT_COUNT_CAP), capped: n > EVENT_COUNT_CAP };
  }

  async hosts(): Promise<HostsBody> {
    const stored = this.store === null ? [] : await this.store.hosts();
    const hosts = [...new Set([this.state.host, ...stored])].sort();
    return { type: 'hosts', v, local: this.state.host, hosts };
  }
}
