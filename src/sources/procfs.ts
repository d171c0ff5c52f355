// The live ProcSource: reads a mounted procfs (normally /proc).
// Two ways to read, chosen by `io`:
// - 'sync' (default): open/read/close on the calling thread into one reused buffer. procfs
//   reads never wait for a disk; their cost is kernel CPU (the smaps_rollup page-table walk),
//   so a thread pool only adds hand-offs. Measured on 2 cores with ~1100 processes: reading
//   status+smaps_rollup+cmdline+cgroup this way costs 1.3-1.6x reading smaps_rollup alone,
//   while the thread-pool path below cost 2-5x.
// - 'async': libuv's thread pool with at most maxInFlight files open, for callers that must
//   not block the event loop (a server sampling in the background).
// A process that exits between listing and reading gives ENOENT or ESRCH ("missing"); a file
// guarded by ptrace access checks (smaps, smaps_rollup, exe, environ) gives EACCES ("permission").
import {
  close,
  closeSync,
  open,
  openSync,
  read,
  readdir,
  readdirSync,
  readFile,
  readlink,
  readlinkSync,
  readSync,
} from 'node:fs';
import { endianness, hostname } from 'node:os';
import { errnoCode } from '../base/errors.js';
import { auxvValue, AT_PAGESZ } from '../parsers/proc/auxv.js';
import { parsePasswd } from '../parsers/proc/passwd.js';
import type { MountedProcSource, ReadResult } from './proc-source.js';

export interface LiveProcSourceOptions {
  /** How files are read (default 'sync', see above). */
  io?: 'sync' | 'async';
  /** Files read at the same time with io 'async' (default 16). */
  maxInFlight?: number;
  /** Where user names come from (default /etc/passwd). */
  passwdPath?: string;
}

/** A failure that is neither "gone" nor "not allowed": the caller sees it as an exception. */
function classify(e: unknown): 'missing' | 'permission' | undefined {
  const code = errnoCode(e);
  if (code === 'ENOENT' || code === 'ESRCH' || code === 'ENOTDIR') return 'missing';
  if (code === 'EACCES' || code === 'EPERM') return 'permission';
  return undefined;
}

/** The outcome of a synchronous read, with "gone" and "not allowed" as results. */
function attempt<T>(read: () => T): ReadResult<T> {
  try {
    return { ok: true, value: read() };
  } catch (e) {
    const reason = classify(e);
    if (reason) return { ok: false, reason };
    throw e;
  }
}

/** The same for a read with a callback. */
function settle<T>(start: (done: (err: Error | null, value: T) => void) => void): Promise<ReadResult<T>> {
  return new Promise((resolve, reject) => {
    start((err, value) => {
      if (!err) resolve({ ok: true, value });
      else {
        const reason = classify(err);
        if (reason) resolve({ ok: false, reason });
        else reject(err);
      }
    });
  });
}

class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const CHUNK = 16384;

/** Reads a whole procfs file. Its size is unknown (stat says 0), so read until EOF. */
function readWhole(path: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (err, fd) => {
      if (err) {
        reject(err);
        return;
      }
      let buf = Buffer.allocUnsafe(CHUNK);
      let len = 0;
      const finish = (e: Error | null): void => {
        close(fd, () => {
          if (e) reject(e);
          else resolve(buf.subarray(0, len));
        });
      };
      const step = (): void => {
        if (buf.length - len < 4096) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, len);
          buf = bigger;
        }
        read(fd, buf, len, buf.length - len, null, (e, n) => {
          if (e) finish(e);
          else if (n === 0) finish(null);
          else {
            len += n;
            step();
          }
        });
      };
      step();
    });
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

let syncBuffer = Buffer.allocUnsafe(65536);

/**
 * Per-process files that one read returns whole when the buffer is larger than the file, so a
 * read that leaves room in the buffer was the last one. status, stat, statm and cgroup are
 * single_open seq_files (fs/proc/base.c, ONE(): proc_single_show prints the whole file as one
 * record; so does show_smaps_rollup, fs/proc/task_mmu.c), and seq_read_iter (fs/seq_file.c)
 * grows its buffer until the record fits, then copies as much as the caller asked for. cmdline
 * (fs/proc/base.c, get_mm_cmdline) copies until the caller's count or the arguments' end. A
 * regular file (a copied proc tree) is short only at its end too. Multi-record files (maps,
 * smaps, slabinfo) are not here: seq_read_iter returns them a buffer-full at a time, and a
 * short read there is not the end. The read at end of file that this spares is about a quarter
 * of the system calls of a snapshot.
 */
const ONE_READ = /\/(?:status|stat|statm|cgroup|smaps_rollup|cmdline)$/;

/** Reads a whole procfs file into the shared buffer; returns the length. */
function readWholeSync(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const oneRead = ONE_READ.test(path);
    let len = 0;
    for (;;) {
      if (syncBuffer.length - len < 4096) {
        const bigger = Buffer.allocUnsafe(syncBuffer.length * 2);
        syncBuffer.copy(bigger, 0, 0, len);
        syncBuffer = bigger;
      }
      const room = syncBuffer.length - len;
      const n = readSync(fd, syncBuffer, len, room, null);
      len += n;
      if (n === 0 || (oneRead && n < room)) return len;
    }
  } finally {
    closeSync(fd);
  }
}

class LiveProcSource implements MountedProcSource {
  readonly description: string;
  /** The root with one trailing slash: paths are appended to it (no path.join per file). */
  private readonly prefix: string;
  private readonly limiter: Limiter;
  private users: Promise<Map<number, string>> | undefined;
  private pageSizeValue: Promise<number> | undefined;
  private readonly sync: boolean;

  constructor(
    readonly root: string,
    private readonly options: LiveProcSourceOptions,
  ) {
    this.description = root === '/proc' ? 'live /proc' : `live ${root}`;
    this.prefix = root.endsWith('/') ? root : `${root}/`;
    this.limiter = new Limiter(Math.max(1, options.maxInFlight ?? 16));
    this.sync = (options.io ?? 'sync') === 'sync';
  }

  listPids(): Promise<number[]> {
    return new Promise((resolve, reject) => {
      readdir(this.root, (err, names) => {
        if (err) {
          reject(err);
          return;
        }
        const pids: number[] = [];
        for (const n of names) {
          const c = n.charCodeAt(0);
          if (c >= 0x30 && c <= 0x39) {
            const pid = Number(n);
            if (Number.isInteger(pid)) pids.push(pid);
          }
        }
        resolve(pids.sort((a, b) => a - b));
      });
    });
  }

  async readBytes(path: string): Promise<ReadResult<Uint8Array>> {
    if (this.sync) return this.readBytesSync(path);
    try {
      return { ok: true, value: await this.limiter.run(() => readWhole(this.prefix + path)) };
    } catch (e) {
      const reason = classify(e);
      if (reason) return { ok: false, reason };
      throw e;
    }
  }

  readBytesSync(path: string): ReadResult<Uint8Array> {
    return attempt(() => {
      const len = readWholeSync(this.prefix + path);
      return Uint8Array.prototype.slice.call(syncBuffer, 0, len);
    });
  }

  async readText(path: string): Promise<ReadResult<string>> {
    if (this.sync)
      return attempt(() => {
        const len = readWholeSync(this.prefix + path);
        // Buffer's own UTF-8 decoding: the same replacement of bad bytes by U+FFFD as the
        // TextDecoder, without a subarray object per file.
        return syncBuffer.toString('utf8', 0, len);
      });
    const r = await this.readBytes(path);
    return r.ok ? { ok: true, value: utf8.decode(r.value) } : r;
  }

  readLink(path: string): Promise<ReadResult<string>> {
    if (this.sync) return Promise.resolve(attempt(() => readlinkSync(this.prefix + path)));
    return settle((done) => readlink(this.prefix + path, done));
  }

  listDir(path: string): Promise<ReadResult<string[]>> {
    if (this.sync) return Promise.resolve(attempt(() => readdirSync(this.prefix + path)));
    return settle((done) => readdir(this.prefix + path, done));
  }

  hostname(): Promise<string> {
    return Promise.resolve(hostname());
  }

  time(): Date {
    return new Date();
  }

  pageSize(): Promise<number> {
    this.pageSizeValue ??= Promise.resolve(livePageSize(this.root));
    return this.pageSizeValue;
  }

  userNames(): Promise<Map<number, string>> {
    this.users ??= new Promise((resolve) => {
      readFile(this.options.passwdPath ?? '/etc/passwd', 'utf8', (err, text) =>
        resolve(err ? new Map() : parsePasswd(text)),
      );
    });
    return this.users;
  }
}

/**
 * The base page size of the system whose procfs is at procRoot: AT_PAGESZ of self/auxv, the value
 * the kernel hands every program (fs/binfmt_elf.c create_elf_tables). Without auxv (a procfs of
 * another machine's dump, say), 4 KiB, the common base page. The one place memlens finds it.
 */
export function livePageSize(procRoot = '/proc'): number {
  let v: bigint | undefined;
  try {
    const len = readWholeSync(`${procRoot}/self/auxv`);
    v = auxvValue(syncBuffer.subarray(0, len), AT_PAGESZ, endianness() === 'LE');
  } catch (e) {
    if (classify(e) === undefined) throw e;
  }
  return v === undefined ? 4096 : Number(v);
}

/** The ProcSource of the running system (or of another procfs mount given as procRoot). */
export function openLiveProcSource(procRoot = '/proc', options: LiveProcSourceOptions = {}): MountedProcSource {
  return new LiveProcSource(procRoot, options);
}
