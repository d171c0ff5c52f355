// The dashboard's OCaml view: traces in the directory given to `memlens serve --memtrace-dir`,
// listed and analysed on request. Read-only like the rest of the API: the page picks a file by
// name; names are checked to stay inside that directory. Reports are cached per file version.
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { UserError } from '../base/errors.js';
import { createMemtraceAnalysis } from '../analyses/memtrace/analyze.js';
import { flameData, stacksOf } from '../analyses/memtrace/folded.js';
import { buildMemtraceReport } from '../analyses/memtrace/report.js';
import { feedMemtraceFile } from '../sources/memtrace-file.js';
import type { MemtraceFilesBody, MemtraceReportBody } from '../wire/memtrace.js';
import { MESSAGES_WIRE_VERSION as v } from '../wire/messages.js';

// A plain file name ending in .ctf: no directory separators (and no NUL, checked apart).
const NAME = /^[^/\\]{1,255}\.ctf$/;
const validName = (n: string): boolean => NAME.test(n) && !n.includes('\u0000') && !n.startsWith('.') && basename(n) === n;
const CACHE_ENTRIES = 8;

function error(statusCode: number, message: string): { type: 'error'; v: number; statusCode: number; message: string } {
  return { type: 'error', v, statusCode, message };
}

export function registerMemtraceRoutes(app: FastifyInstance, dir: string | null): void {
  const cache = new Map<string, MemtraceReportBody>();

  app.get('/api/v1/memtrace/files', async (): Promise<MemtraceFilesBody> => {
    if (dir === null) return { type: 'memtrace-files', v, dir: null, files: [] };
    const names = (await readdir(dir)).filter(validName).sort();
    const files: MemtraceFilesBody['files'] = [];
    for (const name of names) {
      try {
        const s = await stat(join(dir, name));
        if (s.isFile()) files.push({ name, sizeBytes: s.size, mtimeMs: s.mtimeMs });
      } catch {
        // Removed between the listing and the stat: not listed.
      }
    }
    return { type: 'memtrace-files', v, dir, files };
  });

  app.get('/api/v1/memtrace/report', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const name = typeof q.file === 'string' ? q.file : '';
    if (dir === null) return reply.code(404).send(error(404, 'no trace directory: start memlens serve with --memtrace-dir DIR'));
    if (!validName(name)) return reply.code(400).send(error(400, 'file: a .ctf file name in the trace directory'));
    let path: string;
    let root: string;
    try {
      path = await realpath(join(dir, name));
      root = await realpath(dir);
    } catch {
      return reply.code(404).send(error(404, `no trace ${name}`));
    }
    // A symbolic link may point out of the directory: refused.
    if (!path.startsWith(root + sep)) return reply.code(400).send(error(400, 'file: outside the trace directory'));
    const s = await stat(path);
    const key = `${name}\u0000${s.mtimeMs}\u0000${s.size}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const { decoder, analyzer, lwt } = createMemtraceAnalysis(name);
    try {
      await feedMemtraceFile(path, decoder);
    } catch (e) {
      if (e instanceof UserError) return reply.code(422).send(error(422, e.message.replace(path, name)));
      throw e;
    }
    const report = buildMemtraceReport(analyzer, decoder, { path: name, lwtPrefixes: [], top: 25 });
    const info = decoder.info;
    const bps = info === undefined ? 0 : info.wordSizeBits / 8 / info.sampleRate;
    const body: MemtraceReportBody = { type: 'memtrace-report', v, report, flame: flameData(decoder, stacksOf(decoder, analyzer.nodeSamples), bps, lwt, 3000) };
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value ?? '');
    cache.set(key, body);
    return body;
  });
}
