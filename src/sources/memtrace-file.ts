// Reads a memtrace trace file into the streaming decoder, 1 MiB at a time, so a trace of any
// size is decoded with memory bounded by the decoder's state. Not-a-memtrace files are refused
// with one line (UserError), before anything is decoded.
import { open } from 'node:fs/promises';
import { ParseError, UserError, errnoCode } from '../base/errors.js';
import { MemtraceDecoder } from '../parsers/memtrace/decoder.js';
import { DETECT_BYTES, detectMemtrace } from '../parsers/memtrace/detect.js';
import type { MemtraceVisitor } from '../parsers/memtrace/types.js';

const CHUNK_BYTES = 1024 * 1024;

/** Decodes the whole file through `visitor`; returns the decoder (info, counts, integrity, locations). */
export async function readMemtraceFile(path: string, visitor: MemtraceVisitor): Promise<MemtraceDecoder> {
  const decoder = new MemtraceDecoder(visitor, path);
  await feedMemtraceFile(path, decoder);
  return decoder;
}

/** Feeds the whole file to an existing decoder, then ends it. */
export async function feedMemtraceFile(path: string, decoder: MemtraceDecoder): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    const code = errnoCode(e);
    throw new UserError(`cannot open ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(e))}`);
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
        if (detectMemtrace(chunk.subarray(0, DETECT_BYTES), path) === undefined) throw new UserError(`${path}: not a memtrace trace (no CTF magic)`);
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
