// The streaming shell shared by the line-oriented tracer outputs (SystemTap, bpftrace): bytes in
// chunks of any size, split into lines, each line turned into records by the subclass; lines it
// cannot read are skipped and counted, with the first few kept for a diagnostic.
import { LineSplitter } from './line-splitter.js';
import type { TracerLineRecord } from './trace-records.js';

export abstract class LineRecordParser {
  private readonly splitter = new LineSplitter();
  private skipped = 0;
  /** The first malformed lines, for a diagnostic. */
  readonly samples: string[] = [];

  /** Lines skipped because they were malformed (including overlong ones). */
  get malformed(): number {
    return this.skipped + this.splitter.overlong;
  }

  push(chunk: Uint8Array): TracerLineRecord[] {
    const out: TracerLineRecord[] = [];
    for (const line of this.splitter.push(chunk)) this.line(line, out);
    return out;
  }

  end(): TracerLineRecord[] {
    const out: TracerLineRecord[] = [];
    const last = this.splitter.end();
    if (last !== undefined) this.line(last, out);
    return out;
  }

  /** Counts one malformed line and keeps its description among the first five. */
  protected skip(description: string): void {
    this.skipped++;
    if (this.samples.length < 5) this.samples.push(description);
  }

  protected abstract line(bytes: Uint8Array, out: TracerLineRecord[]): void;
}
