// Reads a memtrace trace file into the streaming decoder, 1 MiB at a time, so a trace of any
// size is decoded with memory bounded by the decoder's state. Not-a-memtrace files are refused
// with one line (UserError), before anything is decoded.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ParseError, UserError, errnoCode } from '../base/errors.js';
import type { MemtraceDecoder } from '../parsers/memtrace/decoder.js';
import { DETECT_BYTES, detectMemtrace } from '../parsers/memtrace/detect.js';

const CHUNK_BYTES = 1024 * 1024;

export interface FeedOptions {
  /**
   * Open only a regular file (the server: the file is named by a client). Opening a FIFO for
   * reading blocks until a writer appears (man 7 fifo), and it blocks a thread of libuv's pool of
   * four, on which every file read of the process waits: five such requests stalled the whole
   * server. So the path is checked with lstat (no FIFO, device, socket or symbolic link), opened
   * with O_NONBLOCK (a FIFO swapped in after the check opens at once instead of blocking; for a
   * regular file the flag changes nothing, man 2 open) and O_NOFOLLOW, and the opened file is
   * checked again with fstat: still a regular file, and the same one (device and inode).
   * The command line may read a FIFO (memlens memtrace <(zcat trace.ctf.gz)): its user chose it.
   */
  regularOnly?: boolean;
}

/** Thrown for a path that is not a regular file when FeedOptions.regularOnly is set. */
export class NotRegularFileError extends UserError {
  override name = 'NotRegularFileError';
}

async function openRegular(path: string): Promise<FileHandle> {
  const before = await lstat(path);
  if (!before.isFile()) throw new NotRegularFileError(`${path}: not a regular file`);
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const after = await handle.stat();
    if (!after.isFile() || after.dev !== before.dev || after.ino !== before.ino)
      throw new NotRegularFileError(`${path}: not a regular file`);
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}

/** Feeds the whole file to an existing decoder, then ends it. */
export async function feedMemtraceFile(path: string, decoder: MemtraceDecoder, opts: FeedOptions = {}): Promise<void> {
  let handle;
  try {
    handle = opts.regularOnly === true ? await openRegular(path) : await open(path, 'r');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = errnoCode(e);
    throw new UserError(
      `cannot open ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'ELOOP' ? 'not a regular file' : (code ?? String(e))}`,
    );
  }
  try {
    const buf = new Uint8Array(CHUNK_BYTES);
    let first = true;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (first) {
        first = false;
        if (detectMemtrace(chunk.subarray(0, DETECT_BYTES), path) === undefined)
          throw new UserError(`${path}: not a memtrace trace (no CTF magic)`);
      }
      // The decoder copies what it keeps, so the read buffer can be reused.
      decoder.push(chunk);
    }
    if (first) throw new UserError(`${path}: empty file, not a memtrace trace`);
    decoder.end();
  } catch (e) {
    if (e instanceof ParseError) throw new UserError(e.message);
    if (errnoCode(e) === 'EISDIR') throw new UserError(`${path}: is a directory`);
    throw e;
  } finally {
    await handle.close();
  }
}
