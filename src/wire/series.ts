// The --json output of `memlens snapshot --from SERIES` (an archive of several snapshots, written
// by `memlens capture --every … --for …`): the change between its first and last snapshot.
// Schema 1, a contract like snapshot.ts: fields are only ever added. Sizes are bytes, or null
// when unreadable in either snapshot ("n/a", never 0 for unknown); a change is last − first.

export const SERIES_DIFF_SCHEMA = 1;

/** One end of the series. */
export interface SeriesEndJson {
  /** Position in the archive, from 0. */
  index: number;
  /** Wall-clock time of the snapshot (ms since the epoch). */
  timeMs: number;
  /** /proc/uptime of the snapshot in ms (CLOCK_BOOTTIME); null when not captured. */
  uptimeMs: number | null;
}

/** A size at both ends, and its change. */
export interface SizeChangeJson {
  firstBytes: number | null;
  lastBytes: number | null;
  /** lastBytes − firstBytes; null when either is null. */
  changeBytes: number | null;
}

/** A top-level ledger item (docs/snapshot.md) at both ends. */
export interface LedgerChangeJson extends SizeChangeJson {
  key: string;
  label: string;
}

/** A process in both snapshots: the same pid and start time (field 22 of /proc/PID/stat). */
export interface ProcessChangeJson {
  pid: number;
  /** Start time in clock ticks after boot, as the kernel printed it. */
  startTicks: string;
  name: string;
  pss: SizeChangeJson;
  rss: SizeChangeJson;
  uss: SizeChangeJson;
  swap: SizeChangeJson;
}

/** A process in one snapshot only (started during the series, or exited). */
export interface ProcessAtEndJson {
  pid: number;
  /** Null when the stat file could not be read. */
  startTicks: string | null;
  name: string;
  pssBytes: number | null;
  rssBytes: number | null;
  swapBytes: number | null;
}

export interface SeriesDiffJson {
  schema: 1;
  kind: 'series-diff';
  /** The archive (its file name). */
  source: string;
  host: string;
  /** Complete snapshots read. */
  snapshots: number;
  /** 1 when the archive ended inside a snapshot (a capture cut short), skipped; else 0. */
  truncated: number;
  first: SeriesEndJson;
  last: SeriesEndJson;
  /** last.timeMs − first.timeMs, from the uptimes when both have one (immune to clock steps). */
  spanMs: number;
  memTotalBytes: SizeChangeJson;
  memAvailableBytes: SizeChangeJson;
  /** The ledger's top-level items, in the ledger's order; an item in one snapshot only has null at the other. */
  ledger: LedgerChangeJson[];
  /** Processes in both snapshots (kernel threads left out), largest change of the sort figure first. */
  processes: ProcessChangeJson[];
  /** In the last snapshot only. */
  started: ProcessAtEndJson[];
  /** In the first snapshot only. */
  exited: ProcessAtEndJson[];
}
