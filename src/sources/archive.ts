// A ProcSource over a capture archive (scripts/capture.sh), so that every analysis runs on a
// board's capture exactly as on the live system. Files that could not be read at capture time
// read back as 'permission' or 'missing', as the live read would have reported them, so that
// figures become null ("n/a") rather than 0.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ParseError, UserError, errnoCode } from '../base/errors.js';
import { archiveHostname, archivePageSize, archiveTime } from '../parsers/archive-meta.js';
import { ArchiveReader, type ArchiveEntry, type CaptureArchive } from '../parsers/archive.js';
import { parsePasswd } from '../parsers/proc/passwd.js';
import type { ProcSource, ReadResult } from './proc-source.js';

const utf8 = new TextDecoder('utf-8');
const PID_FILE = /^proc\/(\d+)\//;

/** Reads and checks an archive file ("-" = standard input; gzip-compressed archives are accepted). */
export async function loadArchive(path: string): Promise<CaptureArchive> {
  const label = path === '-' ? 'standard input' : path;
  let bytes: Uint8Array;
  try {
    bytes = path === '-' ? await readStdin() : await readFile(path);
  } catch (e) {
    throw new UserError(`cannot read archive ${label}: ${errnoCode(e) ?? String(e)}`);
  }
  // A capture piped through gzip on the board (`sh | gzip > board.snap.gz`): RFC 1952 magic.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new UserError(`archive ${label} is a corrupt gzip file: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const reader = new ArchiveReader(label);
  try {
    reader.push(bytes);
    const archive = reader.end();
    if (!archive) throw new UserError(`${label} is not a memlens capture archive (make one with: memlens capture)`);
    return archive;
  } catch (e) {
    if (e instanceof ParseError) throw new UserError(`corrupt archive: ${e.message}`);
    throw e;
  }
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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

  return {
    description: `archive ${label} (captured ${time.toISOString()} on ${host})`,
    listPids: () => Promise.resolve([...sortedPids]),
    readBytes(path: string): Promise<ReadResult<Uint8Array>> {
      const entry = lookup(path);
      return Promise.resolve(entry?.kind === 'file' ? { ok: true, value: entry.data } : notRead(entry));
    },
    readText(path: string): Promise<ReadResult<string>> {
      const entry = lookup(path);
      return Promise.resolve(entry?.kind === 'file' ? { ok: true, value: utf8.decode(entry.data) } : notRead(entry));
    },
    readLink(path: string): Promise<ReadResult<string>> {
      const entry = lookup(path);
      return Promise.resolve(entry?.kind === 'link' ? { ok: true, value: entry.target } : notRead(entry));
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
