// The live ProcSource: reads a mounted procfs (normally /proc). Reads run through a small
// limit of files in flight: enough to keep both the kernel's page-table walks (smaps_rollup)
// and libuv's thread pool busy, without opening a thousand files at once.
// A process that exits between listing and reading gives ENOENT or ESRCH ("missing"); a file
// guarded by ptrace access checks (smaps, smaps_rollup, exe, environ) gives EACCES ("permission").
import { close, open, read, readdir, readFile, readlink } from 'node:fs';
import { endianness, hostname } from 'node:os';
import { join } from 'node:path';
import { errnoCode } from '../base/errors.js';
import { auxvValue, AT_PAGESZ } from '../parsers/proc/auxv.js';
import { parsePasswd } from '../parsers/proc/passwd.js';
import type { ProcSource, ReadResult } from './proc-source.js';

export interface LiveProcSourceOptions {
  /** Files read at the same time (default 16). */
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

class LiveProcSource implements ProcSource {
  readonly description: string;
  private readonly limiter: Limiter;
  private users: Promise<Map<number, string>> | undefined;
  private pageSizeValue: Promise<number> | undefined;

  constructor(
    private readonly root: string,
    private readonly options: LiveProcSourceOptions,
  ) {
    this.description = root === '/proc' ? 'live /proc' : `live ${root}`;
    this.limiter = new Limiter(Math.max(1, options.maxInFlight ?? 16));
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
    try {
      return { ok: true, value: await this.limiter.run(() => readWhole(join(this.root, path))) };
    } catch (e) {
      const reason = classify(e);
      if (reason) return { ok: false, reason };
      throw e;
    }
  }

  async readText(path: string): Promise<ReadResult<string>> {
    const r = await this.readBytes(path);
    return r.ok ? { ok: true, value: utf8.decode(r.value) } : r;
  }

  readLink(path: string): Promise<ReadResult<string>> {
    return new Promise((resolve, reject) => {
      readlink(join(this.root, path), (err, target) => {
        if (!err) resolve({ ok: true, value: target });
        else {
          const reason = classify(err);
          if (reason) resolve({ ok: false, reason });
          else reject(err);
        }
      });
    });
  }

  hostname(): Promise<string> {
    return Promise.resolve(hostname());
  }

  time(): Date {
    return new Date();
  }

  pageSize(): Promise<number> {
    this.pageSizeValue ??= this.readBytes('self/auxv').then((r) => {
      const v = r.ok ? auxvValue(r.value, AT_PAGESZ, endianness() === 'LE') : undefined;
      // Without auxv (a procfs of another machine's dump, say), 4 KiB is the common base page.
      return v === undefined ? 4096 : Number(v);
    });
    return this.pageSizeValue;
  }

  userNames(): Promise<Map<number, string>> {
    this.users ??= new Promise((resolve) => {
      readFile(this.options.passwdPath ?? '/etc/passwd', 'utf8', (err, text) => resolve(err ? new Map() : parsePasswd(text)));
    });
    return this.users;
  }
}

/** The ProcSource of the running system (or of another procfs mount given as procRoot). */
export function openLiveProcSource(procRoot = '/proc', options: LiveProcSourceOptions = {}): ProcSource {
  return new LiveProcSource(procRoot, options);
}
