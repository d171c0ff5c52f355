// Reads /proc/kpageflags and /proc/kpagecount (root only: CAP_SYS_ADMIN, fs/proc/page.c) window by
// window, so that the frame walk holds a window of each file, never the whole 50 MB of a 24 GiB
// machine. A mounted procfs is read with pread() at pfn * 8; a capture archive, which holds the
// files whole when the board allowed it, is sliced.
import { closeSync, openSync, readSync } from 'node:fs';
import { errnoCode } from '../base/errors.js';
import { FRAME_ENTRY_BYTES } from '../parsers/frames/kpageflags.js';
import type { ProcSource } from './proc-source.js';

/** A reader of both files over the same frame numbers. */
export interface FrameFiles {
  /**
   * Reads up to `frames` entries of each file starting at `startPfn` into the two buffers (each at
   * least frames * 8 bytes). Returns the number of whole frames read from both: fewer at the end
   * of the frame range (the kernel stops at max_pfn).
   */
  read(startPfn: number, frames: number, flags: Uint8Array, counts: Uint8Array): number;
  /** Read system calls made (the benchmark reports them). */
  readonly reads: number;
  close(): void;
}

export type FrameFilesResult = { ok: true; files: FrameFiles } | { ok: false; reason: string };

function isMounted(source: ProcSource): source is ProcSource & { root: string } {
  return 'root' in source && typeof (source as { root?: unknown }).root === 'string';
}

/** Fills buf[0..want) from fd at offset, looping over short reads; returns the bytes read. */
function preadFully(fd: number, buf: Uint8Array, want: number, offset: number): number {
  let got = 0;
  while (got < want) {
    const n = readSync(fd, buf, got, want - got, offset + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}

class MountedFrameFiles implements FrameFiles {
  reads = 0;
  constructor(
    private readonly flagsFd: number,
    private readonly countsFd: number,
  ) {}

  read(startPfn: number, frames: number, flags: Uint8Array, counts: Uint8Array): number {
    const offset = startPfn * FRAME_ENTRY_BYTES;
    const want = frames * FRAME_ENTRY_BYTES;
    const a = preadFully(this.flagsFd, flags, want, offset);
    const b = preadFully(this.countsFd, counts, want, offset);
    this.reads += 2;
    return Math.floor(Math.min(a, b) / FRAME_ENTRY_BYTES);
  }

  close(): void {
    closeSync(this.flagsFd);
    closeSync(this.countsFd);
  }
}

class SlicedFrameFiles implements FrameFiles {
  readonly reads = 0;
  constructor(
    private readonly flagsAll: Uint8Array,
    private readonly countsAll: Uint8Array,
  ) {}

  read(startPfn: number, frames: number, flags: Uint8Array, counts: Uint8Array): number {
    const from = startPfn * FRAME_ENTRY_BYTES;
    const end = Math.min(this.flagsAll.length, this.countsAll.length, from + frames * FRAME_ENTRY_BYTES);
    if (end <= from) return 0;
    flags.set(this.flagsAll.subarray(from, end));
    counts.set(this.countsAll.subarray(from, end));
    return Math.floor((end - from) / FRAME_ENTRY_BYTES);
  }

  close(): void {}
}

function why(reason: 'missing' | 'permission', file: string): string {
  return reason === 'permission'
    ? `/proc/${file} needs root (CAP_SYS_ADMIN)`
    : `/proc/${file} is missing (a kernel without CONFIG_PROC_PAGE_MONITOR, or an archive captured without it)`;
}

/** Opens both files of a source, or says why they cannot be read. */
export async function openFrameFiles(source: ProcSource): Promise<FrameFilesResult> {
  if (isMounted(source)) {
    const fds: number[] = [];
    for (const file of ['kpageflags', 'kpagecount']) {
      try {
        fds.push(openSync(`${source.root}/${file}`, 'r'));
      } catch (e) {
        for (const fd of fds) closeSync(fd);
        const code = errnoCode(e);
        if (code === 'EACCES' || code === 'EPERM') return { ok: false, reason: why('permission', file) };
        if (code === 'ENOENT') return { ok: false, reason: why('missing', file) };
        throw e;
      }
    }
    return { ok: true, files: new MountedFrameFiles(fds[0] ?? -1, fds[1] ?? -1) };
  }
  const f = await source.readBytes('kpageflags');
  if (!f.ok) return { ok: false, reason: why(f.reason, 'kpageflags') };
  const c = await source.readBytes('kpagecount');
  if (!c.ok) return { ok: false, reason: why(c.reason, 'kpagecount') };
  return { ok: true, files: new SlicedFrameFiles(f.value, c.value) };
}
