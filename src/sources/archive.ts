// A ProcSource over a capture archive (scripts/capture.sh), so that every analysis runs on a
// board's capture exactly as on the live system. Files that could not be read at capture time
// read back as 'permission' or 'missing', as the live read would have reported them, so that
// figures become null ("n/a") rather than 0.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ParseError, UserError, errnoCode } from '../base/errors.js';
import { archiveHostname, archivePageSize, archiveTime } from '../parsers/archive-meta.js';
import {
  ARCHIVE_LIMITS,
  ArchiveReader,
  type ArchiveEntry,
  type ArchiveLimits,
  type CaptureArchive,
  type SeriesSummary,
} from '../parsers/archive.js';
import { parsePasswd } from '../parsers/proc/passwd.js';
import type { ProcSource, ReadResult } from './proc-source.js';

const utf8 = new TextDecoder('utf-8');
const PID_FILE = /^proc\/(\d+)\//;

/**
 * Reads and checks an archive file ("-" = standard input; gzip-compressed archives are accepted):
 * its snapshot, or the newest complete one of a series.
 */
export async function loadArchive(path: string): Promise<CaptureArchive> {
  return (await loadArchiveSeries(path)).last;
}

/**
 * Reads an archive file snapshot by snapshot: `onSnapshot` gets each as it completes (only the
 * newest is kept here), so a long series costs the memory of one snapshot.
 */
export async function loadArchiveSeries(
  path: string,
  onSnapshot?: (snapshot: CaptureArchive) => void | Promise<void>,
): Promise<{ last: CaptureArchive; summary: SeriesSummary }> {
  const label = path === '-' ? 'standard input' : path;
  return readArchiveSeriesStream(
    path === '-' ? process.stdin : createReadStream(path),
    label,
    ARCHIVE_LIMITS,
    onSnapshot,
  );
}

/**
 * Reads an archive as it streams in, never more of it than needed to judge it: the first bytes
 * must be the magic line (or gzip's, RFC 1952: 1f 8b, then the same inside), and a record or an
 * archive over ARCHIVE_LIMITS fails as soon as it says so or crosses them. So /dev/zero, `yes`, or a
 * gzip bomb fail after one chunk or at a bound, instead of being read into memory whole.
 */
export async function readArchiveStream(
  input: Readable,
  label: string,
  limits: ArchiveLimits = ARCHIVE_LIMITS,
): Promise<CaptureArchive> {
  return (await readArchiveSeriesStream(input, label, limits)).last;
}

/**
 * readArchiveStream for a series: each snapshot goes to `onSnapshot` as it completes (awaited
 * before more is read, so a slow consumer holds the stream back instead of queueing snapshots).
 */
export async function readArchiveSeriesStream(
  input: Readable,
  label: string,
  limits: ArchiveLimits = ARCHIVE_LIMITS,
  onSnapshot?: (snapshot: CaptureArchive) => void | Promise<void>,
): Promise<{ last: CaptureArchive; summary: SeriesSummary }> {
  const completed: CaptureArchive[] = [];
  const reader = new ArchiveReader(label, limits, onSnapshot === undefined ? undefined : (s) => completed.push(s));
  const notArchive = (): UserError =>
    new UserError(`${label} is not a memlens capture archive (make one with: memlens capture)`);
  const raw = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    // The first bytes decide between gzip and plain.
    let head = Buffer.alloc(0);
    while (head.length < 2) {
      const next = await raw.next();
      if (next.done === true) break;
      head = Buffer.concat([head, next.value]);
    }
    const rest = async function* (): AsyncGenerator<Buffer> {
      yield head;
      for (let next = await raw.next(); next.done !== true; next = await raw.next()) yield next.value;
    };
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const chunks: AsyncIterable<Buffer> = gzip ? gunzipped(Readable.from(rest())) : rest();
    const handOver = async (): Promise<void> => {
      if (onSnapshot === undefined) return;
      for (let s = completed.shift(); s !== undefined; s = completed.shift()) await onSnapshot(s);
    };
    for await (const chunk of chunks) {
      reader.push(chunk);
      if (reader.rejected) throw notArchive();
      await handOver();
    }
    const summary = reader.finish();
    const last = reader.end();
    await handOver();
    if (summary === undefined || last === undefined) throw notArchive();
    return { last, summary };
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (e instanceof ParseError) throw new UserError(`corrupt archive: ${e.message}`);
    // zlib's errors carry its codes (Z_DATA_ERROR, Z_BUF_ERROR for a truncated stream).
    if (errnoCode(e)?.startsWith('Z_') === true)
      throw new UserError(`archive ${label} is a corrupt gzip file: ${e instanceof Error ? e.message : String(e)}`);
    throw new UserError(`cannot read archive ${label}: ${errnoCode(e) ?? String(e)}`);
  } finally {
    // Stop reading: the rest of a refused input (or of an endless one) is never pulled.
    await raw.return?.();
    if (input !== process.stdin) input.destroy();
  }
}

/** The decompressed chunks of a gzip stream; an error of either side ends the iteration with it. */
function gunzipped(compressed: Readable): AsyncIterable<Buffer> {
  const gunzip = createGunzip();
  // pipeline destroys both streams on an error, so it surfaces in the consumer's iteration.
  pipeline(compressed, gunzip).catch(() => undefined);
  return gunzip;
}

export async function openArchiveSource(path: string): Promise<ProcSource> {
  return archiveSource(await loadArchive(path), path === '-' ? 'standard input' : basename(path));
}

/** The ProcSource view of an already parsed archive. */
export function archiveSource(archive: CaptureArchive, label: string): ProcSource {
  const time = archiveTime(archive);
  if (!time) throw new UserError(`archive ${label} does not record when it was captured`);
  const host = archiveHostname(archive) ?? 'unknown';
  const pids = new Set<number>();
  for (const name of archive.entries.keys()) {
    const m = PID_FILE.exec(name);
    if (m) pids.add(Number(m[1]));
  }
  const sortedPids = [...pids].sort((a, b) => a - b);
  let users: Map<number, string> | undefined;

  // Paths are relative to the proc root, as for the live source.
  const lookup = (path: string): ArchiveEntry | undefined => archive.entries.get(`proc/${path.replace(/^\/+/, '')}`);
  const notRead = (entry: ArchiveEntry | undefined): { ok: false; reason: 'missing' | 'permission' } => ({
    ok: false,
    // 'error' (an unexpected failure) and files the script does not capture read as missing:
    // the analyses treat both like a process that went away.
    reason: entry?.kind === 'unreadable' && entry.reason === 'permission' ? 'permission' : 'missing',
  });
  const readBytesSync = (path: string): ReadResult<Uint8Array> => {
    const entry = lookup(path);
    return entry?.kind === 'file' ? { ok: true, value: entry.data } : notRead(entry);
  };

  return {
    description: `archive ${label} (captured ${time.toISOString()} on ${host})`,
    listPids: () => Promise.resolve([...sortedPids]),
    readBytes: (path: string) => Promise.resolve(readBytesSync(path)),
    readBytesSync,
    readText(path: string): Promise<ReadResult<string>> {
      const entry = lookup(path);
      return Promise.resolve(entry?.kind === 'file' ? { ok: true, value: utf8.decode(entry.data) } : notRead(entry));
    },
    readLink(path: string): Promise<ReadResult<string>> {
      const entry = lookup(path);
      return Promise.resolve(entry?.kind === 'link' ? { ok: true, value: entry.target } : notRead(entry));
    },
    listDir(path: string): Promise<ReadResult<string[]>> {
      // An archive holds files, not directories: a directory is there when some file is below it.
      const prefix = `proc/${path.replace(/^\/+|\/+$/g, '')}/`;
      const names = new Set<string>();
      for (const name of archive.entries.keys())
        if (name.startsWith(prefix)) names.add(name.slice(prefix.length).split('/', 1)[0] ?? '');
      return Promise.resolve(names.size > 0 ? { ok: true, value: [...names] } : { ok: false, reason: 'missing' });
    },
    hostname: () => Promise.resolve(host),
    time: () => time,
    pageSize: () => {
      try {
        return Promise.resolve(archivePageSize(archive, label));
      } catch (e) {
        if (e instanceof ParseError) return Promise.reject(new UserError(`corrupt archive: ${e.message}`));
        throw e;
      }
    },
    userNames: () => {
      if (!users) {
        const passwd = archive.entries.get('etc/passwd');
        users = passwd?.kind === 'file' ? parsePasswd(utf8.decode(passwd.data)) : new Map<number, string>();
      }
      return Promise.resolve(users);
    },
  };
}

/** The first and the newest complete snapshot of an archive (the same one when it holds one). */
export async function loadSeriesEnds(
  path: string,
): Promise<{ first: CaptureArchive; last: CaptureArchive; summary: SeriesSummary; label: string }> {
  let first: CaptureArchive | undefined;
  const { last, summary } = await loadArchiveSeries(path, (s) => {
    first ??= s;
  });
  return { first: first ?? last, last, summary, label: path === '-' ? 'standard input' : basename(path) };
}
