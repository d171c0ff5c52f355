// Where `memlens trace` keeps its events: the store (default: SQLite under the user's data
// directory; --db URL for MySQL/MariaDB), or nowhere with --no-store. The one call site of the store.
import type { StoreSink } from '../../store/trace-sink.js';

/** The store's sink, or one that keeps nothing. */
export type EventSink = StoreSink;

const NO_STORE: EventSink = {
  description: 'not stored (--no-store)',
  write: () => undefined,
  pressure: () => undefined,
  reportLost: () => undefined,
  close: () => Promise.resolve({ complete: true, spillFiles: [], lostEvents: 0 }),
};

export interface EventSinkOptions {
  store: boolean;
  db?: string;
  host: string;
  retention?: { maxAgeMs?: number; maxRows?: number };
}

export async function openEventSink(options: EventSinkOptions): Promise<EventSink> {
  if (!options.store) return NO_STORE;
  // Loaded only when storing. The sink alone, not the store's index: this thread only hands calls
  // to the store's worker, which loads the query builder and the database driver itself; the
  // index would load them here too (Kysely alone is some 470 modules, about 100 ms and 18 MiB).
  const { openStoreSink } = await import('../../store/trace-sink.js');
  return openStoreSink(options.db, {
    host: options.host,
    ...(options.retention ? { retention: options.retention } : {}),
  });
}
