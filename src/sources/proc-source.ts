// The one interface through which analyses read /proc, whether live or from a captured archive.
// Paths are relative to the proc root ("meminfo", "1234/smaps_rollup"). A file that does not
// exist (or whose process vanished) reads as undefined; a permission failure is reported as
// such, so that the figure becomes null ("n/a") and never 0.

export type ReadResult<T> = { ok: true; value: T } | { ok: false; reason: 'missing' | 'permission' };

export interface ProcSource {
  /** Human description: "live /proc" or "archive board.snap (captured 2026-…)". */
  readonly description: string;
  /** Numeric entries of the proc root, i.e. the pids, at the moment of the call. */
  listPids(): Promise<number[]>;
  readText(path: string): Promise<ReadResult<string>>;
  readBytes(path: string): Promise<ReadResult<Uint8Array>>;
  /**
   * The same read as readBytes, finished before it returns: for the few readers that cannot wait
   * for a promise (the process table's lookup of a thread it has not seen, in the middle of a
   * batch; the start time that names a trace instance, read in signal handlers too).
   */
  readBytesSync(path: string): ReadResult<Uint8Array>;
  /** Target of a symlink such as "1234/exe"; undefined when unreadable. */
  readLink(path: string): Promise<ReadResult<string>>;
  /** The names in a directory below the root, such as "1234/task" (its threads), in no set order. */
  listDir(path: string): Promise<ReadResult<string[]>>;
  /** Host name of the system (live: os.hostname(); archive: recorded at capture). */
  hostname(): Promise<string>;
  /** Wall-clock time the data describes (live: now; archive: capture time). */
  time(): Date;
  /** Base page size in bytes (live: from the system; archive: recorded at capture). */
  pageSize(): Promise<number>;
  /** Optional: uid → user name (live: /etc/passwd; archive: its captured copy). */
  userNames(): Promise<Map<number, string>>;
}

/**
 * A ProcSource over a mounted procfs ("/proc", or a directory of files standing in for it): the
 * few files that are not read whole (pagemap, read in windows) or are written (clear_refs) are
 * opened under its root.
 */
export interface MountedProcSource extends ProcSource {
  readonly root: string;
}
