// The layout of one ring-buffer sub-buffer ("page") as read from per_cpu/cpuN/trace_pipe_raw,
// taken from events/header_page and checked against events/header_event. Both files are printed by
// ring_buffer_print_page_header() and ring_buffer_print_entry_header() in kernel/trace/ring_buffer.c.
import { ParseError } from '../../base/errors.js';
import { parseFieldLines } from './event-format.js';

export interface PageLayout {
  timestampOffset: number;
  /** The commit word: a local_t, 8 bytes on 64-bit kernels, 4 on 32-bit ones. */
  commitOffset: number;
  commitSize: 4 | 8;
  /** Where event records start. */
  dataOffset: number;
  /** Bytes of one sub-buffer, header included (the unit trace_pipe_raw hands out). */
  pageSize: number;
  littleEndian: boolean;
}

/** The record types of the compressed entry header (include/linux/ring_buffer.h enum ring_buffer_type). */
export interface EntryHeaderTypes {
  padding: number;
  timeExtend: number;
  timeStamp: number;
  dataMaxTypeLen: number;
}

export function parsePageLayout(headerPage: string, littleEndian: boolean, source = 'events/header_page'): PageLayout {
  const fields = parseFieldLines(headerPage, source);
  const get = (name: string) => {
    const f = fields.find((x) => x.name === name);
    if (!f) throw new ParseError(`no "${name}" field`, source);
    return f;
  };
  const ts = get('timestamp');
  const commit = get('commit');
  const data = get('data');
  if (ts.size !== 8) throw new ParseError(`timestamp size ${ts.size}, expected 8`, source);
  if (commit.size !== 4 && commit.size !== 8)
    throw new ParseError(`commit size ${commit.size}, expected 4 or 8`, source);
  return {
    timestampOffset: ts.offset,
    commitOffset: commit.offset,
    commitSize: commit.size,
    dataOffset: data.offset,
    pageSize: data.offset + data.size,
    littleEndian,
  };
}

/**
 * Checks events/header_event: memlens decodes the 5-bit type_len / 27-bit time_delta header and the
 * padding / time-extend / time-stamp types; a kernel that describes anything else is refused.
 */
export function parseEntryHeader(headerEvent: string, source = 'events/header_event'): EntryHeaderTypes {
  const bits = (name: string) => new RegExp(`^\\s*${name}\\s*:\\s*(\\d+)\\s*bits`, 'm').exec(headerEvent)?.[1];
  const type = (name: string) => new RegExp(`^\\s*${name}\\s*:\\s*type\\s*==\\s*(\\d+)`, 'm').exec(headerEvent)?.[1];
  if (bits('type_len') !== '5' || bits('time_delta') !== '27')
    throw new ParseError('entry header is not type_len:5 time_delta:27', source);
  const padding = type('padding');
  const timeExtend = type('time_extend');
  const timeStamp = type('time_stamp');
  const dataMax = /data max type_len\s*==\s*(\d+)/.exec(headerEvent)?.[1];
  if (padding === undefined || timeExtend === undefined || timeStamp === undefined || dataMax === undefined) {
    throw new ParseError('entry header lacks the padding/time_extend/time_stamp/data types', source);
  }
  return {
    padding: Number(padding),
    timeExtend: Number(timeExtend),
    timeStamp: Number(timeStamp),
    dataMaxTypeLen: Number(dataMax),
  };
}

/** The types of the kernels memlens knows (29/30/31, data up to 28); parseEntryHeader confirms them. */
export const DEFAULT_ENTRY_TYPES: EntryHeaderTypes = { padding: 29, timeExtend: 30, timeStamp: 31, dataMaxTypeLen: 28 };
