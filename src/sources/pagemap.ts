// The only code of the dirty-pages feature that touches the system: /proc/PID/maps, smaps, stat,
// comm (read through the ProcSource), pagemap and clear_refs of a live process, and the round-trip
// probe of soft-dirty support on memlens's own memory.
//
// pagemap is read in large pread()s: one window covers a whole area, or several small areas that
// lie close together, up to WINDOW_BYTES (CRIU's criu/pagemap-cache.c does the same with 2 MiB
// windows). Documentation/admin-guide/mm/pagemap.rst: reads must be 8-byte aligned, and unmapped
// gaps read as zero entries, so reading across a small gap costs less than another system call.
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { ProcessGoneError, UserError, isPermission, isVanished } from '../base/errors.js';
import { PAGEMAP_ENTRY_BYTES, SoftDirtyScanner, type PageRange, type PagemapTally } from '../parsers/pagemap.js';
import { parseMaps, type VmaHeader } from '../parsers/proc/maps.js';
import { parseSmaps, type SmapsVma } from '../parsers/proc/smaps.js';
import { parseComm } from '../parsers/proc/comm.js';
import { parseStat } from '../parsers/proc/stat.js';
import type { MountedProcSource } from './proc-source.js';

/** 2 MiB of entries = 262 144 pages (1 GiB of 4 KiB pages) per read. */
export const WINDOW_BYTES = 2 * 1024 * 1024;
/** Small areas separated by at most this many unmapped pages share one read. */
const MAX_GAP_PAGES = 512;

export interface ScanInterval {
  start: bigint;
  end: bigint;
}

export interface IntervalScan {
  ranges: PageRange[];
  tally: PagemapTally;
}

/** Maps a failed /proc access to the error a caller can act on. */
function boundary(pid: number | 'self', what: string, e: unknown): Error {
  if (isVanished(e) && pid !== 'self') return new ProcessGoneError(pid);
  if (isPermission(e))
    return new UserError(`cannot ${what} of process ${pid}: permission denied (run as its owner or root)`);
  return e instanceof Error ? e : new Error(String(e));
}

/** The same for a read through the ProcSource, which names the failure instead of throwing it. */
function unreadable(pid: number | 'self', what: string, reason: 'missing' | 'permission'): Error {
  if (reason === 'permission')
    return new UserError(`cannot ${what} of process ${pid}: permission denied (run as its owner or root)`);
  return pid === 'self' ? new Error(`cannot ${what} of memlens itself: missing`) : new ProcessGoneError(pid);
}

/**
 * One process's memory-state files in a mounted procfs: what the dirty meters
 * (src/analyses/dirty/meters.ts) read and write. The text files (maps, smaps, stat, comm) are read
 * through the ProcSource; pagemap (binary, read in pread windows) and clear_refs (written) are
 * opened under the same root, so a fixture tree can stand in for /proc.
 */
export class ProcessPages {
  constructor(
    readonly proc: MountedProcSource,
    readonly pid: number | 'self',
    readonly pageSize: number,
  ) {}

  private path(file: string): string {
    return `${this.proc.root}/${this.pid}/${file}`;
  }

  private async text(file: string, what: string): Promise<string> {
    const r = await this.proc.readText(`${this.pid}/${file}`);
    if (!r.ok) throw unreadable(this.pid, what, r.reason);
    return r.value;
  }

  async maps(): Promise<VmaHeader[]> {
    // Lines of another shape are skipped (parseMaps counts them); areas are what matters here.
    return parseMaps(await this.text('maps', 'read the maps')).vmas;
  }

  async smaps(): Promise<SmapsVma[]> {
    // Empty text (no address space left: a zombie) is not smaps: no areas.
    return parseSmaps(await this.text('smaps', 'read smaps'), this.path('smaps')) ?? [];
  }

  /** The state letter of stat ("R", "S", "Z", …), or undefined once the process is gone. */
  async state(): Promise<string | undefined> {
    const r = await this.proc.readText(`${this.pid}/stat`);
    if (!r.ok) {
      if (r.reason === 'missing') return undefined;
      throw unreadable(this.pid, 'read the stat', r.reason);
    }
    return parseStat(r.value, this.path('stat'))?.state;
  }

  async isAlive(): Promise<boolean> {
    const s = await this.state();
    return s !== undefined && s !== 'Z' && s !== 'X';
  }

  /** The command name (comm), or undefined when it cannot be read. */
  async name(): Promise<string | undefined> {
    const r = await this.proc.readBytes(`${this.pid}/comm`);
    return r.ok ? parseComm(r.value) : undefined;
  }

  /**
   * Writes a clear_refs value (Documentation/filesystems/proc.rst): 1 resets the referenced and
   * accessed bits of all pages, 4 clears the soft-dirty bits (and write-protects every pte).
   */
  clearRefs(value: 1 | 4): void {
    try {
      writeFileSync(this.path('clear_refs'), `${value}\n`);
    } catch (e) {
      throw boundary(this.pid, `write ${value} to clear_refs`, e);
    }
  }

  /** Checks, without clearing anything, that clear_refs of the process could be written. */
  checkClearRights(): void {
    let fd: number;
    try {
      fd = openSync(this.path('clear_refs'), 'w');
    } catch (e) {
      throw boundary(this.pid, 'open clear_refs', e);
    }
    closeSync(fd);
  }

  /** Opens the pagemap; the caller closes it. */
  openPagemap(): PagemapReader {
    return new PagemapReader(this.path('pagemap'), this.pid, this.pageSize);
  }
}

/** An open /proc/PID/pagemap (ProcessPages.openPagemap opens it). */
export class PagemapReader {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(WINDOW_BYTES);
  /** Read system calls made so far (the benchmark reports them). */
  reads = 0;

  constructor(
    path: string,
    readonly pid: number | 'self',
    readonly pageSize: number,
  ) {
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw boundary(pid, 'open pagemap', e);
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Scans sorted, non-overlapping intervals; one result per interval, in order. */
  scan(intervals: readonly ScanInterval[]): IntervalScan[] {
    const ps = BigInt(this.pageSize);
    const scanners = intervals.map((iv) => new SoftDirtyScanner(this.pageSize, iv.start));
    let i = 0;
    while (i < intervals.length) {
      const first = intervals[i];
      if (!first) break;
      // Grow a window over following intervals that are close and still fit.
      let j = i;
      let end = first.end;
      for (;;) {
        const next = intervals[j + 1];
        if (!next || next.start - end > BigInt(MAX_GAP_PAGES) * ps) break;
        if (((next.end - first.start) / ps) * BigInt(PAGEMAP_ENTRY_BYTES) > BigInt(WINDOW_BYTES)) break;
        j++;
        end = next.end;
      }
      if (j === i) {
        this.readInterval(
          first,
          ps,
          (chunk) => scanners[i]?.feed(chunk),
          (n) => scanners[i]?.skipPages(n),
        );
      } else {
        const got = this.readWindow(first.start, end, ps);
        for (let k = i; k <= j; k++) {
          const iv = intervals[k];
          const sc = scanners[k];
          if (!iv || !sc) continue;
          const from = Number(((iv.start - first.start) / ps) * 8n);
          const to = Number(((iv.end - first.start) / ps) * 8n);
          const have = Math.min(Math.max(got - from, 0), to - from);
          if (have > 0) sc.feed(this.buffer.subarray(from, from + have));
          if (have < to - from) sc.skipPages((to - from - have) / PAGEMAP_ENTRY_BYTES);
        }
      }
      i = j + 1;
    }
    return scanners.map((s) => s.finish());
  }

  /** Reads [start, end) into the buffer in one pread; returns the bytes read. */
  private readWindow(start: bigint, end: bigint, ps: bigint): number {
    const offset = Number((start / ps) * 8n);
    const length = Number(((end - start) / ps) * 8n);
    return this.pread(length, offset);
  }

  private readInterval(
    iv: ScanInterval,
    ps: bigint,
    feed: (chunk: Uint8Array) => void,
    skip: (pages: number) => void,
  ): void {
    let offset = Number((iv.start / ps) * 8n);
    let left = Number(((iv.end - iv.start) / ps) * 8n);
    while (left > 0) {
      const want = Math.min(left, WINDOW_BYTES);
      const got = this.pread(want, offset);
      if (got > 0) feed(this.buffer.subarray(0, got));
      if (got < want) {
        // Past the end of the user address space (or the mm is gone): the rest has no pages.
        skip((left - got - ((want - got) % PAGEMAP_ENTRY_BYTES)) / PAGEMAP_ENTRY_BYTES);
        return;
      }
      offset += got;
      left -= got;
    }
  }

  private pread(length: number, offset: number): number {
    this.reads++;
    try {
      return readSync(this.fd, this.buffer, 0, length, offset);
    } catch (e) {
      throw boundary(this.pid, 'read pagemap', e);
    }
  }
}

export interface SoftDirtyProbe {
  supported: boolean;
  /** What the probe did and saw, in one sentence. */
  detail: string;
}

/**
 * Does this kernel track soft-dirty bits? Kernels built without CONFIG_MEM_SOFT_DIRTY accept
 * `4` in clear_refs silently and never set bit 55, so the only reliable test is a round trip
 * (as CRIU's criu/kerndat.c does): clear memlens's own bits, write fresh pages, read bit 55.
 */
export async function probeSoftDirty(proc: MountedProcSource, pageSize: number): Promise<SoftDirtyProbe> {
  const self = new ProcessPages(proc, 'self', pageSize);
  const probePages = 64;
  // A fresh buffer: its pages are not yet present, so the writes below create them.
  const fresh = Buffer.alloc(probePages * pageSize);
  self.clearRefs(4);
  for (let p = 0; p < probePages; p++) fresh[p * pageSize] = 1 + (p % 200);
  const areas = (await self.maps()).filter((a) => a.perms.startsWith('rw'));
  const reader = self.openPagemap();
  let dirty = 0;
  try {
    for (const r of reader.scan(areas.map((a) => ({ start: a.start, end: a.end })))) dirty += r.tally.softDirty;
  } finally {
    reader.close();
  }
  // Keep the buffer alive (and its pages written) until after the scan.
  const checksum = fresh.reduce((a, b) => a + b, 0);
  const supported = dirty >= probePages && checksum > 0;
  return {
    supported,
    detail: supported
      ? `after clear_refs 4, ${probePages} freshly written pages of memlens itself showed pagemap bit 55`
      : `after clear_refs 4 memlens wrote ${probePages} fresh pages of its own, yet ${dirty} pages showed pagemap bit 55: this kernel does not track soft-dirty pages (built without CONFIG_MEM_SOFT_DIRTY, or the architecture lacks it)`,
  };
}
