// The database schema of the event store is a wire format too: several memlens versions and several
// hosts may write into one MySQL server. Bump STORE_SCHEMA_VERSION with every new migration in
// src/store/schema.ts; the number of applied migrations equals this version.
// 2: processes.mprotect_calls (migration 0002).
export const STORE_SCHEMA_VERSION = 2;
