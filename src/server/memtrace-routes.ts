// The dashboard's OCaml view: traces in the directory given to `memlens serve --memtrace-dir`,
// listed and analysed on request. Read-only like the rest of the API: the page picks a file by
// name; names are checked to stay inside that directory. Reports are cached per file version.
// Only regular files are listed or opened (a FIFO blocks whoever opens it: feedMemtraceFile), and
// the file system is touched by at most FS_SLOTS requests at a time: every file operation of the
// process runs on libuv's thread pool (four threads by default, shared with the /proc sampler and
// the page's static files), so a request that blocks there (a FIFO, a hung network file system)
// must not be able to take them all.
import { lstat, opendir, realpath, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { UserError } from '../base/errors.js';
import { createMemtraceAnalysis } from '../analyses/memtrace/analyze.js';
import { flameData, stacksOf } from '../analyses/memtrace/folded.js';
import { buildMemtraceReport } from '../analyses/memtrace/report.js';
import { feedMemtraceFile, NotRegularFileError } from '../sources/memtrace-file.js';
import type { MemtraceFilesBody, MemtraceReportBody } from '../wire/memtrace.js';
import { MESSAGES_WIRE_VERSION as v } from '../wire/messages.js';

// A plain file name ending in .ctf: no directory separators (and no NUL, checked apart).
const NAME = /^[^/\\]{1,255}\.ctf$/;
const validName = (n: string): boolean =>
  NAME.test(n) && !n.includes('\u0000') && !n.startsWith('.') && basename(n) === n;
const CACHE_ENTRIES = 8;
/** Requests that may use the file system at once (of libuv's four threads), and how many may wait. */
const FS_SLOTS = 2;
const FS_QUEUE = 16;
/** Directory entries looked at for the list, and files listed: a directory may hold millions. */
const SCAN_ENTRIES_MAX = 20_000;
const LIST_FILES_MAX = 1000;

/**
 * At most `slots` tasks at once, `queue` more waiting; beyond that, run() returns undefined at
 * once (the request is answered 503) rather than queue without bound.
 */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(
    private readonly slots: number,
    private readonly queue: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.running >= this.slots) {
      if (this.waiting.length >= this.queue) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return { value: await task() };
    } finally {
      // The slot passes to the next waiting task, or is freed.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}

/** The regular file `name` in `root` (symbolic links followed, but only within it); null if none. */
async function regularFileIn(
  root: string,
  name: string,
): Promise<{ path: string; sizeBytes: number; mtimeMs: number } | null> {
  let path = join(root, name);
  try {
    const l = await lstat(path);
    if (l.isSymbolicLink()) {
      // A link may point anywhere: out of the directory it is not listed, and its target's size
      // and time are not given away.
      path = await realpath(path);
      if (!path.startsWith(root + sep)) return null;
    } else if (!l.isFile()) return null;
    // stat, not open: stat on a FIFO does not block.
    const s = await stat(path);
    return s.isFile() ? { path, sizeBytes: s.size, mtimeMs: s.mtimeMs } : null;
  } catch {
    // Removed between the listing and the stat, or unreadable: not listed.
    return null;
  }
}

function error(statusCode: number, message: string): { type: 'error'; v: number; statusCode: number; message: string } {
  return { type: 'error', v, statusCode, message };
}

const busy = error(503, 'busy reading other traces; try again in a moment');

export function registerMemtraceRoutes(app: FastifyInstance, dir: string | null): void {
  const cache = new Map<string, MemtraceReportBody>();
  const gate = new Gate(FS_SLOTS, FS_QUEUE);

  app.get('/api/v1/memtrace/files', async (_req, reply) => {
    if (dir === null) return { type: 'memtrace-files', v, dir: null, files: [] } satisfies MemtraceFilesBody;
    const r = await gate.run(async () => {
      const root = await realpath(dir);
      const names: string[] = [];
      let scanned = 0;
      for await (const entry of await opendir(root)) {
        if (++scanned > SCAN_ENTRIES_MAX) break;
        if (validName(entry.name)) names.push(entry.name);
      }
      names.sort();
      const files: MemtraceFilesBody['files'] = [];
      for (const name of names) {
        if (files.length >= LIST_FILES_MAX) break;
        const f = await regularFileIn(root, name);
        if (f !== null) files.push({ name, sizeBytes: f.sizeBytes, mtimeMs: f.mtimeMs });
      }
      return { type: 'memtrace-files', v, dir, files } satisfies MemtraceFilesBody;
    });
    if (r === undefined) return reply.code(503).header('Retry-After', '5').send(busy);
    return r.value;
  });

  app.get('/api/v1/memtrace/report', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const name = typeof q.file === 'string' ? q.file : '';
    if (dir === null)
      return reply.code(404).send(error(404, 'no trace directory: start memlens serve with --memtrace-dir DIR'));
    if (!validName(name)) return reply.code(400).send(error(400, 'file: a .ctf file name in the trace directory'));
    const r = await gate.run(async (): Promise<MemtraceReportBody | [number, string]> => {
      let root: string;
      try {
        root = await realpath(dir);
      } catch {
        return [404, `no trace ${name}`];
      }
      let path: string;
      try {
        path = await realpath(join(root, name));
      } catch {
        return [404, `no trace ${name}`];
      }
      // A symbolic link may point out of the directory: refused.
      if (!path.startsWith(root + sep)) return [400, 'file: outside the trace directory'];
      const f = await regularFileIn(root, name);
      if (f === null) return [400, `file: ${name} is not a regular file`];
      const key = `${name}\u0000${f.mtimeMs}\u0000${f.sizeBytes}`;
      const cached = cache.get(key);
      if (cached !== undefined) return cached;
      const { decoder, analyzer, lwt } = createMemtraceAnalysis(name);
      try {
        await feedMemtraceFile(f.path, decoder, { regularOnly: true });
      } catch (e) {
        if (e instanceof NotRegularFileError) return [400, `file: ${name} is not a regular file`];
        if (e instanceof UserError) return [422, e.message.replace(f.path, name)];
        throw e;
      }
      const report = buildMemtraceReport(analyzer, decoder, { path: name, lwtPrefixes: [], top: 25 });
      const info = decoder.info;
      const bps = info === undefined ? 0 : info.wordSizeBits / 8 / info.sampleRate;
      const body: MemtraceReportBody = {
        type: 'memtrace-report',
        v,
        report,
        flame: flameData(decoder, stacksOf(decoder, analyzer.nodeSamples), bps, lwt, 3000),
      };
      if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value ?? '');
      cache.set(key, body);
      return body;
    });
    if (r === undefined) return reply.code(503).header('Retry-After', '5').send(busy);
    if (Array.isArray(r.value)) {
      const [code, message] = r.value;
      return reply.code(code).send(error(code, message));
    }
    return r.value;
  });
}
