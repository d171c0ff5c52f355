// Where `memlens trace` keeps its events: the store (default: SQLite under the user's data
// directory; --db URL for MySQL/MariaDB), or nowhere with --no-store. The one call site of the store.
import { UserError } from '../../base/errors.js';
import type { LifecycleEvent, LostCounts, MemEvent } from '../../wire/events.js';

export interface EventSink {
  readonly description: string;
  /** Queues events (never blocks the tracer); lifecycle events tell the store where new processes begin. */
  write(events: readonly MemEvent[], lifecycle: readonly LifecycleEvent[]): void;
  /** Writes what is left and the lost-event counts. */
  close(host: string, lost: LostCounts): Promise<void>;
}

const NO_STORE: EventSink = {
  description: 'not stored (--no-store)',
  write: () => undefined,
  close: () => Promise.resolve(),
};

export function openEventSink(options: { store: boolean; db?: string }): Promise<EventSink> {
  if (!options.store) return Promise.resolve(NO_STORE);
  return Promise.reject(new UserError('this build of memlens has no event store yet: run memlens trace with --no-store'));
}
