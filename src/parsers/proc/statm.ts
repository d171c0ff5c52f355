// /proc/PID/statm (fs/proc/array.c proc_pid_statm): seven counts of pages:
// size resident shared text lib data dt. lib and dt are always 0 since 2.6.
import type { Bytes } from '../../base/units.js';

export interface ProcStatm {
  sizeBytes: Bytes;
  residentBytes: Bytes;
  /** RssFile + RssShmem. */
  sharedBytes: Bytes;
  textBytes: Bytes;
  dataBytes: Bytes;
}

export function parseStatm(text: string, pageSize: number): ProcStatm | undefined {
  const parts = text.trim().split(' ').map(Number);
  if (parts.length < 7 || parts.some((x) => !Number.isInteger(x))) return undefined;
  const b = (i: number): Bytes => ((parts[i] ?? 0) * pageSize) as Bytes;
  return { sizeBytes: b(0), residentBytes: b(1), sharedBytes: b(2), textBytes: b(3), dataBytes: b(5) };
}
