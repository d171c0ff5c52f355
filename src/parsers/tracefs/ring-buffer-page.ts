// Decodes one ring-buffer sub-buffer as handed out by per_cpu/cpuN/trace_pipe_raw.
//
// Layout (kernel/trace/ring_buffer.c struct buffer_data_page, ring_buffer_read_page(); the same
// algorithm as libtraceevent's kbuffer-parse.c):
//   page header: u64 time_stamp, then the commit word (local_t). Its low 27 bits are the bytes of
//   event data; bit 31 (RB_MISSED_EVENTS) says events were lost before this page, bit 30
//   (RB_MISSED_STORED) that their count is stored as a long right after the data.
//   records: a 32-bit header (type_len:5, time_delta:27, type_len in the low bits on little-endian,
//   the high bits on big-endian) followed by array[]:
//     1..28  data, payload type_len*4 bytes at array[0]
//     0      data, array[0] = payload length + 4, payload at array[1]
//     29     padding: time_delta 0 means "rest of page empty"; else array[0] bytes are skipped
//     30     time extend: ts += (array[0] << 27) + time_delta
//     31     absolute time stamp: ts = (array[0] << 27) + time_delta, top 5 bits kept (rb_fix_abs_ts)
import { Cursor, EndOfDataError } from '../../base/cursor.js';
import type { EntryHeaderTypes, PageLayout } from './page-layout.js';

const MISSED_EVENTS = 1 << 31;
const MISSED_STORED = 1 << 30;
const COMMIT_MASK = (1 << 27) - 1;
const TS_SHIFT = 27n;
const TS_MSB = 0xf8n << 56n;

/** Receives each data record: its absolute timestamp and where its payload lies in `view`. */
export type RecordSink = (ktimeNs: bigint, view: DataView, payloadOffset: number, payloadLength: number) => void;

export interface PageSummary {
  timestampNs: bigint;
  commitBytes: number;
  /** Events lost just before this page: 0, a count, or -1 when the kernel could not store the count. */
  missedEvents: number;
  records: number;
  timeExtends: number;
  timeStamps: number;
  paddings: number;
  /** 1 when the page ended in a record that passes the commit end (the rest is skipped). */
  malformed: number;
}

/**
 * Decodes the page starting at `pageOffset` in `view` (which must hold layout.pageSize bytes from
 * there) and calls `sink` for every data record, in order.
 */
export function decodePage(
  view: DataView,
  pageOffset: number,
  layout: PageLayout,
  types: EntryHeaderTypes,
  sink: RecordSink,
  /** Called before the page's records when it reports lost events (a count, or -1: unknown), with the page's time. */
  onMissed?: (missed: number, pageTimestampNs: bigint) => void,
): PageSummary {
  const le = layout.littleEndian;
  const page = new Cursor(new DataView(view.buffer, view.byteOffset + pageOffset, layout.pageSize), le);
  page.seek(layout.timestampOffset);
  let ts = page.u64();
  page.seek(layout.commitOffset);
  // Flags and length live in the low 32 bits of the word on every layout the kernel uses.
  const commitWord = layout.commitSize === 8 ? Number(page.u64() & 0xffffffffn) : page.u32();
  const commitBytes = commitWord & COMMIT_MASK;
  const summary: PageSummary = {
    timestampNs: ts,
    commitBytes,
    missedEvents: 0,
    records: 0,
    timeExtends: 0,
    timeStamps: 0,
    paddings: 0,
    malformed: 0,
  };
  const dataEnd = layout.dataOffset + commitBytes;
  if (dataEnd > layout.pageSize) {
    summary.malformed = 1;
    return summary;
  }
  if ((commitWord & MISSED_EVENTS) !== 0) {
    if ((commitWord & MISSED_STORED) !== 0 && dataEnd + layout.commitSize <= layout.pageSize) {
      page.seek(dataEnd);
      summary.missedEvents = layout.commitSize === 8 ? Number(page.u64()) : page.u32();
    } else {
      summary.missedEvents = -1;
    }
  }
  if (summary.missedEvents !== 0) onMissed?.(summary.missedEvents, ts);
  const base = view.byteOffset + pageOffset;
  const cur = new Cursor(new DataView(view.buffer, base, dataEnd), le, layout.dataOffset);
  try {
    while (cur.offset < dataEnd) {
      const word = cur.u32();
      const typeLen = le ? word & 31 : word >>> 27;
      const delta = le ? word >>> 5 : word & COMMIT_MASK;
      if (typeLen === types.padding) {
        if (delta === 0) break; // a null padding: nothing more on this page
        const skip = cur.u32();
        summary.paddings++;
        ts += BigInt(delta);
        // array[0] counts itself: the record is 4 + array[0] bytes from its header.
        if (skip < 4) {
          summary.malformed = 1;
          break;
        }
        cur.seek(cur.offset - 4 + skip);
      } else if (typeLen === types.timeExtend) {
        const high = cur.u32();
        ts += (BigInt(high) << TS_SHIFT) + BigInt(delta);
        summary.timeExtends++;
      } else if (typeLen === types.timeStamp) {
        const high = cur.u32();
        ts = ((BigInt(high) << TS_SHIFT) + BigInt(delta)) | (ts & TS_MSB);
        summary.timeStamps++;
      } else if (typeLen === 0) {
        const lengthPlus4 = cur.u32();
        const length = (lengthPlus4 - 4 + 3) & ~3;
        const at = cur.offset;
        cur.skip(length);
        ts += BigInt(delta);
        summary.records++;
        sink(ts, view, pageOffset + at, lengthPlus4 - 4);
      } else if (typeLen <= types.dataMaxTypeLen) {
        const length = typeLen * 4;
        const at = cur.offset;
        cur.skip(length);
        ts += BigInt(delta);
        summary.records++;
        sink(ts, view, pageOffset + at, length);
      } else {
        summary.malformed = 1;
        break;
      }
    }
  } catch (e) {
    if (!(e instanceof EndOfDataError)) throw e;
    summary.malformed = 1;
  }
  return summary;
}
