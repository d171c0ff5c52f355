// The database schema of the event store is a wire format too: several memlens versions and several
// hosts may write into one MySQL server. Bump STORE_SCHEMA_VERSION with every new migration in
// src/store/schema.ts; the number of applied migrations equals this version.
//
// 1: events, processes, hosts, batches.
// 2: the /proc history of `memlens serve` (history_system, history_process, history_names).
// 3: processes.mprotect_calls (mprotect is traced; rows written before count 0).
// 4: history_process_by_pid also holds the PSS figures (a covering index for the Timeline's series).
// 5: hosts.deleted_events (retention counts what it deletes: a host's stored events without a scan).
// 6: calls stored as packs (event_packs, one row per id block of a batch and process) and event_ids;
//    the events table is repacked into them and dropped.
export const STORE_SCHEMA_VERSION = 6;
