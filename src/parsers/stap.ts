// Reads the output of tracing/memlens.stp (SystemTap), line format version 1, documented at the
// top of that script and in the README ("SystemTap"). One space between fields; names escaped so
// that they hold no space (\xHH for every byte outside 0x21..0x7e and for '\' and '"'; "" is the
// empty name). Malformed lines are skipped and counted, never fatal: a trace that is half
// garbage still gives its good half. The first line must be the header: input without it is not
// memlens.stp output and is an error, as is a header of another format version.
import { ParseError } from '../base/errors.js';
import { isMemCall } from '../wire/events.js';
import { LineRecordParser } from './line-record-parser.js';
import {
  buildMemEvent,
  PRINTED_ARG_COUNT,
  PRINTED_LIFECYCLE_FIELDS,
  printedCallArgs,
  printedLifecycle,
  type CallHead,
  type PrintedFields,
  type TracerLineRecord,
} from './trace-records.js';

export const STAP_FORMAT_VERSION = 1;
const HEADER = '#memlens-stap';

const utf8 = new TextDecoder('utf-8', { fatal: false });

const HEX_U64 = /^0x[0-9a-fA-F]{1,16}$/;
const DEC_I64 = /^-?[0-9]{1,20}$/;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** Why a line was rejected; thrown inside, counted outside. */
class BadLine extends Error {}

function hexU64(t: string | undefined): bigint {
  if (t === undefined || !HEX_U64.test(t)) throw new BadLine(`not a 0x number: ${t}`);
  return BigInt(t);
}

function decI64(t: string | undefined): bigint {
  if (t === undefined || !DEC_I64.test(t)) throw new BadLine(`not a decimal number: ${t}`);
  const v = BigInt(t);
  if (v < I64_MIN || v > I64_MAX) throw new BadLine(`out of range: ${t}`);
  return v;
}

function id(t: string | undefined): number {
  const v = decI64(t);
  if (v <= 0n || v > 0x7fffffffn) throw new BadLine(`not a process or thread id: ${t}`);
  return Number(v);
}

function timeNs(t: string | undefined): bigint {
  const v = decI64(t);
  if (v < 0n) throw new BadLine(`negative time: ${t}`);
  return v;
}

/** Undoes the script's esc(): \xHH becomes the byte; the bytes are then read as UTF-8. */
export function unescapeStapName(t: string | undefined): string {
  if (t === undefined || t === '') throw new BadLine('missing name');
  if (t === '""') return '';
  const out: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x5c) {
      const hex = t.slice(i + 1, i + 4);
      if (!/^x[0-9a-fA-F]{2}$/.test(hex)) throw new BadLine(`bad escape in name: ${t}`);
      out.push(parseInt(hex.slice(1), 16));
      i += 3;
    } else {
      out.push(c);
    }
  }
  return utf8.decode(new Uint8Array(out));
}

/**
 * Format detection on the first line: undefined when it is not memlens.stp's header (not this
 * format: another file, such as a README), true for the header of the version this memlens reads;
 * a ParseError for memlens.stp output of another version (this format, but not readable here).
 */
export function detectStapHeader(firstLine: string, source = 'input'): true | undefined {
  const line = firstLine.endsWith('\r') ? firstLine.slice(0, -1) : firstLine;
  if (!/^#memlens-stap(\s|$)/.test(line)) return undefined;
  const version = line.slice(HEADER.length).trim();
  if (version !== String(STAP_FORMAT_VERSION))
    throw new ParseError(
      `format version "${version}" of memlens.stp output; this memlens reads version ${STAP_FORMAT_VERSION}`,
      source,
      1,
    );
  return true;
}

/**
 * Parses one line (without its newline). Returns undefined for lines that carry nothing (blank,
 * comments); throws BadLine for malformed lines and ParseError for a header of another version.
 */
function parseLine(raw: string, host: string, source: string, lineNo: number): TracerLineRecord | undefined {
  // Tolerate CRLF (a trace saved through a Windows editor).
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line === '') return undefined;
  if (line.startsWith('#')) {
    if (!line.startsWith(HEADER)) return undefined;
    const version = line.slice(HEADER.length).trim();
    if (version !== String(STAP_FORMAT_VERSION))
      throw new ParseError(
        `format version "${version}" of memlens.stp output; this memlens reads version ${STAP_FORMAT_VERSION}`,
        source,
        lineNo,
      );
    return { kind: 'started' };
  }
  const f = line.split(' ');
  const kind = f[0];
  const expect = (n: number): void => {
    if (f.length !== n) throw new BadLine(`${kind ?? ''} line with ${f.length} fields, expected ${n}`);
  };
  switch (kind) {
    case 'C': {
      const call = f[7];
      const head: CallHead = {
        ktimeNs: timeNs(f[1]),
        timeMs: Number(timeNs(f[2]) / 1_000_000n),
        host,
        pid: id(f[3]),
        tid: id(f[4]),
        name: unescapeStapName(f[5]),
        thread: unescapeStapName(f[6]),
      };
      if (!isMemCall(call)) throw new BadLine(`unknown call ${call ?? ''}`);
      const n = PRINTED_ARG_COUNT[call];
      expect(9 + n);
      const args = printedCallArgs(
        call,
        (i) => hexU64(f[8 + i]),
        (i) => decI64(f[8 + i]),
      );
      return { kind: 'call', event: buildMemEvent(head, args, decI64(f[8 + n])) };
    }
    case 'F':
    case 'E':
    case 'X':
    case 'R': {
      expect(3 + PRINTED_LIFECYCLE_FIELDS[kind]);
      const fields: PrintedFields = {
        id: (i) => id(f[3 + i]),
        bits: (i) => hexU64(f[3 + i]),
        text: (i) => unescapeStapName(f[3 + i]),
      };
      return { kind: 'lifecycle', event: printedLifecycle(kind, timeNs(f[1]), fields) };
    }
    case 'U': {
      expect(4);
      const n = decI64(f[3]);
      if (n < 0n) throw new BadLine('negative count');
      return { kind: 'unpaired', count: Number(n) };
    }
    case 'L': {
      // SystemTap's own losses: probe handlers it skipped and output its buffer could not take.
      // Each of the script's handlers prints at most one line, so each is at most one event.
      expect(5);
      const skipped = decI64(f[3]);
      const failures = decI64(f[4]);
      if (skipped < 0n || failures < 0n) throw new BadLine('negative count');
      return { kind: 'lost', count: Number(skipped + failures) };
    }
    default:
      throw new BadLine(`unknown line kind ${kind ?? ''}`);
  }
}

/** Streams memlens.stp output: push chunks as they come, in any sizes. */
export class StapOutputParser extends LineRecordParser {
  private lineNo = 0;

  constructor(
    private readonly host: string,
    private readonly source = 'SystemTap output',
  ) {
    super();
  }

  /** True once the header line was read: the input is memlens.stp output. */
  get started(): boolean {
    return this.lineNo > 0;
  }

  protected line(bytes: Uint8Array, out: TracerLineRecord[]): void {
    this.lineNo++;
    // The format is ASCII; latin1 (one character per byte) keeps any stray byte as it is, so a
    // line with raw bytes in a name (another producer) still splits at the right spaces.
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    if (this.lineNo === 1) {
      // The script's `probe begin` prints the header before anything else. Without it this is
      // another file: refused whole, rather than read as lines that are all "malformed".
      if (detectStapHeader(text, this.source) === undefined) {
        const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
        throw new ParseError(
          `not memlens.stp output: the first line is ${JSON.stringify(shown)}, not the header "${HEADER} ${STAP_FORMAT_VERSION}"`,
          this.source,
          1,
        );
      }
      out.push({ kind: 'started' });
      return;
    }
    try {
      const r = parseLine(text, this.host, this.source, this.lineNo);
      if (r !== undefined) out.push(r);
    } catch (e) {
      if (!(e instanceof BadLine)) throw e;
      this.skip(`line ${this.lineNo}: ${e.message}`);
    }
  }
}
