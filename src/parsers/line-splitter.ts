// Splits a byte stream into lines at '\n', whatever the chunk boundaries. Works on bytes, not
// text, because traced names may hold any bytes and a chunk may end inside a UTF-8 sequence.

export class LineSplitter {
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  private skipping = false;
  /** Lines dropped because they grew past maxLineBytes without a newline. */
  overlong = 0;

  constructor(private readonly maxLineBytes = 1 << 20) {}

  /** The complete lines in this chunk (without their '\n'); the rest waits for the next chunk. */
  push(chunk: Uint8Array): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.skipping) {
        this.skipping = false;
      } else if (this.partBytes === 0) {
        lines.push(piece);
      } else {
        this.parts.push(piece);
        lines.push(this.take());
      }
      start = nl + 1;
    }
    if (start < chunk.length && !this.skipping) {
      // Copy: the caller may reuse the chunk's memory.
      this.parts.push(chunk.slice(start));
      this.partBytes += chunk.length - start;
      if (this.partBytes > this.maxLineBytes) {
        this.parts = [];
        this.partBytes = 0;
        this.skipping = true;
        this.overlong++;
      }
    }
    return lines;
  }

  /** The last line if the stream did not end with '\n'. */
  end(): Uint8Array | undefined {
    if (this.skipping) {
      this.skipping = false;
      return undefined;
    }
    return this.partBytes === 0 && this.parts.length === 0 ? undefined : this.take();
  }

  private take(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    this.parts = [];
    this.partBytes = 0;
    return out;
  }
}
