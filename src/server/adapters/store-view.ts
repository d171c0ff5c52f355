// The read side of the event store (src/store) as the dashboard server needs it. Paging is the
// store's own keyset on the event id: the cursor the browser holds is that id, as a string.
import type { EventStore } from '../../store/index.js';
import type { EventViewFilter, EventPage, EventStoreView, StoredProcessTotal } from '../inputs.js';

function storeFilter(f: EventViewFilter): Parameters<EventStore['countEvents']>[0] {
  return {
    host: f.host,
    ...(f.pid === undefined ? {} : { pid: f.pid }),
    ...(f.name === undefined ? {} : { name: f.name }),
    ...(f.call === undefined ? {} : { call: f.call }),
    ...(f.fromMs === undefined ? {} : { sinceMs: f.fromMs }),
    // The API's time range is inclusive; the store's upper bound is exclusive.
    ...(f.toMs === undefined ? {} : { untilMs: f.toMs + 1 }),
  };
}

export function storeView(store: EventStore): EventStoreView {
  return {
    description: store.description,
    async page(filter, before, limit): Promise<EventPage> {
      const beforeId = before === null ? undefined : Number(before);
      if (beforeId !== undefined && !Number.isSafeInteger(beforeId)) return { events: [], next: null };
      const rows = await store.queryEvents({
        ...storeFilter(filter),
        ...(beforeId === undefined ? {} : { beforeId }),
        limit,
      });
      const last = rows[rows.length - 1];
      return { events: rows, next: rows.length === limit && last !== undefined ? String(last.id) : null };
    },
    // A host's whole count is kept by the store; any narrower filter is counted.
    count: (filter, atMost) =>
      filter.pid === undefined &&
      filter.name === undefined &&
      filter.call === undefined &&
      filter.fromMs === undefined &&
      filter.toMs === undefined
        ? store.storedEvents(filter.host)
        : store.countEvents(storeFilter(filter), atMost),
    async hosts() {
      return (await store.hosts()).map((h) => h.host);
    },
    async processTotals(host): Promise<StoredProcessTotal[]> {
      const totals = await store.processTotals({ host });
      // One row per pid: the newest instance of a reused pid.
      const byPid = new Map<number, StoredProcessTotal & { lastSeenMs: number }>();
      for (const t of totals) {
        const prev = byPid.get(t.pid);
        if (prev !== undefined && prev.lastSeenMs > t.lastSeenMs) continue;
        byPid.set(t.pid, {
          pid: t.pid,
          name: t.name,
          requestedBytes: Number(t.requestedBytes),
          calls: t.mmapCalls + t.munmapCalls + t.brkCalls + t.mremapCalls + t.mprotectCalls,
          lastSeenMs: t.lastSeenMs,
        });
      }
      return [...byPid.values()].map(({ lastSeenMs: _unused, ...t }) => t);
    },
  };
}
