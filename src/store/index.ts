// The event store's public face: open a store by URL, write batches, query events and totals.
export { EventStore, newBatchId } from './event-store.js';
export type {
  EventFilter,
  EventQuery,
  HostSummary,
  LostDelta,
  ProcessTotals,
  RetentionResult,
  StoreBatch,
} from './event-store.js';
export type { StoredEvent } from './rows.js';
export type { ProcessStart } from './totals.js';
export { STORE_SCHEMA_VERSION, type StoreNotice } from './schema.js';
export { parseStoreUrl, defaultSqlitePath, dataDir, describeLocation, redact, type StoreLocation } from './url.js';
export { BufferedWriter, type BufferedWriterOptions, type WriterStats } from './buffered-writer.js';

import { connect } from './connect.js';
import { EventStore } from './event-store.js';
import type { StoreNotice } from './schema.js';
import { parseStoreUrl } from './url.js';

/**
 * Opens (creating and migrating as needed) the store at a `--db` value; undefined = the default
 * SQLite file. With `mustExist`, a SQLite file or MySQL database that is not there is a UserError
 * instead of a new empty store (commands that only read). `notice` hears what a long migration
 * says while it runs.
 */
export async function openStore(
  url?: string,
  opts: { mustExist?: boolean; notice?: StoreNotice } = {},
): Promise<EventStore> {
  const conn = await connect(parseStoreUrl(url), opts);
  try {
    return await EventStore.open(conn, opts.notice);
  } catch (e) {
    await conn.db.destroy();
    throw e;
  }
}
export {
  HistoryStore,
  HISTORY_TIERS,
  PROCESS_TIERS,
  DEFAULT_HISTORY_RETENTION,
  mergeProcessRow,
  mergeSystemRow,
  tierRetentionMs,
} from './history.js';
export type {
  HistoryBatch,
  HistoryRetention,
  HistoryTier,
  ProcessHistoryRow,
  ProcessSpanRow,
  ProcessNameRow,
  SystemHistoryRow,
} from './history.js';
export { WorkerWriter } from './worker-writer.js';
export type { CloseResult } from './buffered-writer.js';
export { openStoreSink, type StoreOutcome, type StoreSink, type StoreSinkOptions } from './trace-sink.js';
