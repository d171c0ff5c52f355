// What a failed write says about the storage under it. A full disk is not an outage of the
// database: it does not end by itself, and a spill file on the same filesystem fails too. So it is
// named as such, whatever layer reported it:
//   - ENOSPC and EDQUOT from write(2) (the filesystem is full, or the user's quota is used up;
//     errno(3), write(2));
//   - SQLITE_FULL from SQLite ("Insertion failed because database is full", https://sqlite.org/rescode.html#full),
//     and SQLITE_IOERR_WRITE/SQLITE_IOERR_FSYNC whose cause SQLite does not tell apart;
//   - MySQL/MariaDB's ER_DISK_FULL (1021) and ER_RECORD_FILE_FULL (1114, "The table is full"),
//     https://mariadb.com/kb/en/mariadb-error-code-reference/.

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'ER_DISK_FULL', 'ER_RECORD_FILE_FULL']);

function codeOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  const code = e.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when the error says the disk (or quota) is full. */
export function isDiskFull(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && DISK_FULL_CODES.has(code);
}

/** One line for a storage failure: "disk full (…)" first when it is one, with the error's code. */
export function describeStorageError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = codeOf(e);
  const detail = code !== undefined && !message.includes(code) ? `${message} [${code}]` : message;
  return isDiskFull(e) ? `disk full (${detail})` : detail;
}
