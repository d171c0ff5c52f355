// A streaming reader of trace_pipe_raw output: bytes arrive in chunks of any size (a read() of
// the kernel gives whole sub-buffers, a captured file or a pipe does not), whole pages are
// decoded as soon as they are complete, and the per-page counters are summed.
import type { EntryHeaderTypes, PageLayout } from './page-layout.js';
import { decodePage, type RecordSink } from './ring-buffer-page.js';

export interface StreamTotals {
  pages: number;
  records: number;
  /** Lost events the pages reported (their MISSED_STORED counts). */
  missedEvents: number;
  /** Pages that said events were lost but could not say how many. */
  pagesWithUnknownLoss: number;
  malformedPages: number;
  timeExtends: number;
}

export class PageStream {
  private readonly partial: Uint8Array;
  private partialLength = 0;
  readonly totals: StreamTotals = {
    pages: 0,
    records: 0,
    missedEvents: 0,
    pagesWithUnknownLoss: 0,
    malformedPages: 0,
    timeExtends: 0,
  };

  constructor(
    private readonly layout: PageLayout,
    private readonly types: EntryHeaderTypes,
    private readonly sink: RecordSink,
    /** Called with each page's loss report (count, or -1 for unknown) and its time, before its records. */
    private readonly onMissed?: (missed: number, pageTimestampNs: bigint) => void,
  ) {
    this.partial = new Uint8Array(layout.pageSize);
  }

  /** Bytes held back waiting for the rest of a page. */
  get pendingBytes(): number {
    return this.partialLength;
  }

  push(chunk: Uint8Array): void {
    const size = this.layout.pageSize;
    let at = 0;
    if (this.partialLength > 0) {
      const take = Math.min(size - this.partialLength, chunk.length);
      this.partial.set(chunk.subarray(0, take), this.partialLength);
      this.partialLength += take;
      at = take;
      if (this.partialLength < size) return;
      this.decode(new DataView(this.partial.buffer, this.partial.byteOffset, size), 0);
      this.partialLength = 0;
    }
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (chunk.length - at >= size) {
      this.decode(view, at);
      at += size;
    }
    if (at < chunk.length) {
      this.partial.set(chunk.subarray(at), 0);
      this.partialLength = chunk.length - at;
    }
  }

  private decode(view: DataView, offset: number): void {
    const summary = decodePage(view, offset, this.layout, this.types, this.sink, this.onMissed);
    const t = this.totals;
    t.pages++;
    t.records += summary.records;
    t.malformedPages += summary.malformed;
    t.timeExtends += summary.timeExtends;
    if (summary.missedEvents > 0) t.missedEvents += summary.missedEvents;
    if (summary.missedEvents < 0) t.pagesWithUnknownLoss++;
  }
}
