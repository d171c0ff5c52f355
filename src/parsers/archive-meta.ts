// What a capture archive says about the moment and machine it describes: capture time, host
// name and page size. Each comes from the script's metadata when the board had the command
// (date, hostname, getconf), else from /proc files captured alongside.
import { ParseError } from '../base/errors.js';
import type { CaptureArchive } from './archive.js';

const utf8 = new TextDecoder('utf-8');

function fileText(archive: CaptureArchive, name: string): string | undefined {
  const entry = archive.entries.get(name);
  return entry?.kind === 'file' ? utf8.decode(entry.data) : undefined;
}

/**
 * Capture time. Fallback without `date`: boot time plus uptime, i.e. "btime" of /proc/stat
 * (seconds since the epoch) plus the first field of /proc/uptime (Documentation/filesystems/proc.rst).
 */
export function archiveTime(archive: CaptureArchive): Date | undefined {
  const iso = archive.meta.get('time');
  if (iso !== undefined && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(iso)) return new Date(iso);
  const epoch = archive.meta.get('epoch');
  if (epoch !== undefined && /^\d{1,12}$/.test(epoch)) return new Date(Number(epoch) * 1000);
  const btime = /^btime (\d+)$/m.exec(fileText(archive, 'proc/stat') ?? '')?.[1];
  const uptime = /^(\d+(?:\.\d+)?) /.exec(fileText(archive, 'proc/uptime') ?? '')?.[1];
  if (btime !== undefined && uptime !== undefined) return new Date((Number(btime) + Number(uptime)) * 1000);
  return undefined;
}

/** Host name: the kernel's (what os.hostname() returns live), else the hostname command's. */
export function archiveHostname(archive: CaptureArchive): string | undefined {
  const kernel = fileText(archive, 'proc/sys/kernel/hostname')?.trim();
  if (kernel) return kernel;
  return archive.meta.get('hostname')?.trim() || undefined;
}

/**
 * Base page size. BusyBox has no getconf, so the fallback is the KernelPageSize of the first
 * mapping in a captured smaps (fs/proc/task_mmu.c prints it per VMA; the first mapping of a
 * program is its text, mapped with base pages). The capturing shell's own smaps is tried first.
 */
export function archivePageSize(archive: CaptureArchive, source = 'archive'): number {
  const meta = archive.meta.get('pagesize');
  if (meta !== undefined && /^\d{1,9}$/.test(meta.trim())) {
    const n = Number(meta.trim());
    if (n > 0 && (n & (n - 1)) === 0) return n;
  }
  const shell = archive.meta.get('shell-pid');
  const names = [
    ...(shell ? [`proc/${shell}/smaps`] : []),
    ...[...archive.entries.keys()].filter((n) => /^proc\/\d+\/smaps$/.test(n)),
  ];
  for (const name of names) {
    const kib = /^KernelPageSize:\s+(\d+) kB$/m.exec(fileText(archive, name) ?? '')?.[1];
    if (kib !== undefined && Number(kib) > 0) return Number(kib) * 1024;
  }
  const fromRss = pageSizeFromRss(archive);
  if (fromRss !== undefined) return fromRss;
  throw new ParseError(
    'the page size is not recorded (no getconf on the board, no readable smaps, no process with a resident set)',
    source,
  );
}

/**
 * The page size from what every process has, for a capture with neither getconf nor smaps (a
 * BusyBox series keeps rollups only): the resident set in kB (VmRSS of status) over the same in
 * pages (the second field of statm). Both are the sum of the mm's RSS counters (fs/proc/task_mmu.c
 * task_mem and task_statm), so each process read at one moment gives the page size exactly; the
 * two files are read one after the other, so the most common power of two among the processes wins.
 */
function pageSizeFromRss(archive: CaptureArchive): number | undefined {
  const votes = new Map<number, number>();
  for (const name of archive.entries.keys()) {
    const pid = /^proc\/(\d+)\/statm$/.exec(name)?.[1];
    if (pid === undefined) continue;
    const pages = Number(/^\d+ (\d+) /.exec(fileText(archive, name) ?? '')?.[1] ?? 0);
    const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(fileText(archive, `proc/${pid}/status`) ?? '')?.[1] ?? 0);
    if (pages <= 0 || kib <= 0) continue;
    const bytes = (kib * 1024) / pages;
    if (Number.isInteger(bytes) && bytes >= 1024 && (bytes & (bytes - 1)) === 0)
      votes.set(bytes, (votes.get(bytes) ?? 0) + 1);
  }
  let best: [number, number] | undefined;
  for (const v of votes) if (best === undefined || v[1] > best[1]) best = v;
  return best?.[0];
}

export interface ArchiveStats {
  processes: number;
  /** Processes with at least one file unreadable for lack of permission. */
  partlyDenied: number;
  /** Bytes of captured file contents. */
  payloadBytes: number;
}

export function archiveStats(archive: CaptureArchive): ArchiveStats {
  const pids = new Set<string>();
  const denied = new Set<string>();
  let payloadBytes = 0;
  for (const entry of archive.entries.values()) {
    const pid = /^proc\/(\d+)\//.exec(entry.name)?.[1];
    if (pid !== undefined) pids.add(pid);
    if (entry.kind === 'file') payloadBytes += entry.data.length;
    if (pid !== undefined && entry.kind === 'unreadable' && entry.reason === 'permission') denied.add(pid);
  }
  return { processes: pids.size, partlyDenied: denied.size, payloadBytes };
}

/**
 * The snapshot's /proc/uptime (its first field: seconds since boot, CLOCK_BOOTTIME, with two
 * decimals; Documentation/filesystems/proc.rst) in ms. A series spaces its snapshots by it:
 * finer than the realtime seconds of `date +%s`, and steady when the wall clock is stepped.
 */
export function archiveUptimeMs(archive: CaptureArchive): number | undefined {
  const m = /^(\d+)(?:\.(\d+))? /.exec(fileText(archive, 'proc/uptime') ?? '');
  if (m === null) return undefined;
  const fraction = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  return Number(m[1]) * 1000 + Number(fraction);
}

/** A series' clock: each snapshot's time, from the first one's wall clock and the uptimes. */
export class SeriesClock {
  private origin: { timeMs: number; uptimeMs: number | undefined } | null = null;

  /**
   * The snapshot's time in ms since the epoch: the first snapshot's wall-clock time plus the
   * uptime elapsed since it, when both have an uptime of the same boot (it only grows); else the
   * snapshot's own wall-clock time. Undefined when the snapshot records no time at all.
   */
  timeMs(archive: CaptureArchive): number | undefined {
    const own = archiveTime(archive)?.getTime();
    const up = archiveUptimeMs(archive);
    if (this.origin === null) {
      if (own === undefined) return undefined;
      this.origin = { timeMs: own, uptimeMs: up };
      return own;
    }
    const o = this.origin;
    if (up !== undefined && o.uptimeMs !== undefined && up >= o.uptimeMs) return o.timeMs + (up - o.uptimeMs);
    return own;
  }
}
