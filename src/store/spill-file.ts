// A local, append-only file of batches that could not be written to the database yet (the database
// is down, or the in-memory bound was reached). Batches are read back in the order they were
// appended; the read position is kept in a small ".offset" file beside it, so a memlens that was
// killed resumes where it stopped. A batch whose commit succeeded but whose offset was not saved is
// replayed and then skipped by the store's batch-id check: exactly once either way.
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import type { QueuedBatch } from './buffered-writer.js';
import { decodeBatch, encodeBatch } from './spill-codec.js';

const READ_CHUNK = 1 << 20;

export class SpillFile {
  private fd: number;
  private readOffset: number;
  private next: { batch: QueuedBatch; end: number } | undefined;
  /** Lines that were not spill batches (skipped and counted, never fatal). */
  malformedLines = 0;
  appendedBatches = 0;

  constructor(
    readonly path: string,
    writable: boolean,
  ) {
    this.fd = openSync(path, writable ? 'a+' : 'r');
    const saved = existsSync(this.offsetPath) ? Number(readFileSync(this.offsetPath, 'utf8').trim()) : 0;
    this.readOffset = Number.isSafeInteger(saved) && saved >= 0 ? saved : 0;
  }

  private get offsetPath(): string {
    return `${this.path}.offset`;
  }

  /**
   * Appends one batch whole, or nothing: a write that fails part way (ENOSPC on a full disk) is cut
   * back off, so that the next batch appended after room is made does not follow a torn line and
   * get read back as part of it. Throws the write's error.
   */
  append(batch: QueuedBatch): void {
    const data = Buffer.from(encodeBatch(batch), 'utf8');
    const before = fstatSync(this.fd).size;
    try {
      let at = 0;
      while (at < data.length) at += writeSync(this.fd, data, at, data.length - at);
    } catch (e) {
      try {
        ftruncateSync(this.fd, before);
      } catch {
        // Could not cut it back: the torn line is skipped and counted as malformed when read.
      }
      throw e;
    }
    this.appendedBatches++;
  }

  /** The oldest batch not yet written, or undefined when none is complete in the file. */
  peek(): QueuedBatch | undefined {
    while (this.next === undefined) {
      const line = this.readLine(this.readOffset);
      if (line === undefined) return undefined;
      try {
        this.next = { batch: decodeBatch(line.text), end: line.end };
      } catch {
        this.malformedLines++;
        this.setOffset(line.end);
      }
    }
    return this.next.batch;
  }

  /** Marks the batch returned by peek() as written. */
  advance(): void {
    if (this.next === undefined) return;
    this.setOffset(this.next.end);
    this.next = undefined;
  }

  /** True when every complete batch has been read (a torn last line from a crash is not a batch). */
  drained(): boolean {
    return this.peek() === undefined;
  }

  unreadBytes(): number {
    return Math.max(0, fstatSync(this.fd).size - this.readOffset);
  }

  private setOffset(offset: number): void {
    this.readOffset = offset;
    // Write-then-rename: a crash leaves the old or the new offset, never a torn one. On a full disk
    // the saved offset stays behind (the next advance tries again): a run killed meanwhile replays
    // batches that are already stored, and the store skips them by batch id.
    try {
      writeFileSync(`${this.offsetPath}.tmp`, String(offset));
      renameSync(`${this.offsetPath}.tmp`, this.offsetPath);
    } catch {
      // kept in memory; saved at the next advance
    }
  }

  private readLine(from: number): { text: string; end: number } | undefined {
    const parts: Buffer[] = [];
    let pos = from;
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const n = readSync(this.fd, buf, 0, READ_CHUNK, pos);
      if (n === 0) return undefined;
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) {
        parts.push(buf.subarray(0, nl));
        return { text: Buffer.concat(parts).toString('utf8'), end: pos + nl + 1 };
      }
      parts.push(buf.subarray(0, n));
      pos += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Closes and deletes the file and its offset. */
  remove(): void {
    this.close();
    for (const p of [this.path, this.offsetPath, `${this.offsetPath}.tmp`]) {
      try {
        unlinkSync(p);
      } catch {
        // already gone
      }
    }
  }
}
