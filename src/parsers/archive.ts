// The memlens capture archive (written by scripts/capture.sh, which documents the format):
//   "memlens-capture 1\n", then records "<kind> <length> <name>\n" <payload> "\n",
//   then "end <number of records>\n".
// Pure: bytes in, a typed archive out. Format detection follows the project rule: undefined
// when the bytes are not a capture archive at all, ParseError when they are one but corrupt or
// truncated. The reader is incremental so that an archive can arrive through a pipe in chunks
// of any size; parseArchive() is the one-shot form.
import { ParseError } from '../base/errors.js';

export const ARCHIVE_MAGIC = 'memlens-capture ';
export const ARCHIVE_VERSION = 1;

/** Why a file could not be read at capture time (the reading command's message is kept). */
export type UnreadableReason = 'permission' | 'missing' | 'error';

export type ArchiveEntry =
  | { kind: 'file'; name: string; data: Uint8Array }
  | { kind: 'link'; name: string; target: string }
  | { kind: 'unreadable'; name: string; reason: UnreadableReason; message: string };

export interface CaptureArchive {
  version: number;
  /** Files, link targets and unreadable files by name ("proc/meminfo", "proc/42/exe", "etc/passwd"). */
  entries: Map<string, ArchiveEntry>;
  /** Metadata written by the script: time, epoch, pagesize, hostname, uname, uid, shell-pid, end-time. */
  meta: Map<string, string>;
  /** Number of records, as counted by the end marker. */
  recordCount: number;
}

/**
 * What an archive may claim, so that no input makes the reader's memory grow without bound (the
 * archive is kept whole: every analysis reads it like /proc). Checked as the bytes arrive, so an
 * archive over a bound fails after reading at most that bound, not after reading it all.
 *  - one record: 128 MiB. The largest /proc file captured is a process's smaps, about 650 bytes
 *    per mapping (measured on Linux 6.x); at the default vm.max_map_count of 65530 mappings
 *    (Documentation/admin-guide/sysctl/vm.rst) that is about 42 MiB, so 128 MiB is three times it.
 *  - the whole archive: 1 GiB of bytes (after gunzip), the reader's memory bound with its records.
 *  - records: 1,000,000 (each costs a map entry besides its bytes); a process writes about ten
 *    (status, stat, statm, cmdline, comm, smaps_rollup, smaps, maps, cgroup, exe), so this is room
 *    for some 100,000 processes, far above kernel.pid_max's default of 32768 pids.
 */
export interface ArchiveLimits {
  maxRecordBytes: number;
  maxArchiveBytes: number;
  maxRecords: number;
}

export const ARCHIVE_LIMITS: ArchiveLimits = {
  maxRecordBytes: 128 * 1024 * 1024,
  maxArchiveBytes: 1024 * 1024 * 1024,
  maxRecords: 1_000_000,
};

const MAGIC_BYTES = new TextEncoder().encode(ARCHIVE_MAGIC);
/** Longest header line accepted: names are short /proc paths, so anything longer is corruption. */
const MAX_LINE_BYTES = 4096;
const NEWLINE = 0x0a;

const utf8 = new TextDecoder('utf-8');
/** Header lines are ASCII by construction; decoding them strictly catches binary garbage. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

type State =
  | { at: 'magic' }
  | { at: 'header' }
  // The payload is gathered in parts and joined when complete, so that a corrupt length cannot
  // make the reader allocate more than the input actually holds.
  | { at: 'payload'; kind: string; name: string; length: number; parts: Uint8Array[]; filled: number }
  | { at: 'separator'; kind: string; name: string; data: Uint8Array }
  | { at: 'done' };

/** Incremental reader: push() chunks as they come, then end(). */
export class ArchiveReader {
  private state: State = { at: 'magic' };
  /** Bytes of the current line (magic, header or end marker) not yet complete. */
  private line: number[] = [];
  /** Offset in the whole stream of the next byte pushed, for error messages. */
  private offset = 0;
  /** Stream offset where the current line began. */
  private lineStart = 0;
  private notArchive = false;
  private version = 0;
  private recordCount = 0;
  private readonly entries = new Map<string, ArchiveEntry>();
  private readonly meta = new Map<string, string>();

  constructor(
    private readonly source = 'archive',
    private readonly limits: ArchiveLimits = ARCHIVE_LIMITS,
  ) {}

  /**
   * True once the first bytes differ from the magic line: the input is not an archive and no
   * further byte will be looked at, so a reader of a stream stops reading it.
   */
  get rejected(): boolean {
    return this.notArchive;
  }

  push(chunk: Uint8Array): void {
    if (this.notArchive) return;
    // The whole-archive bound: the bytes up to it are read as usual (an earlier error, or "not an
    // archive", wins), and not one byte past it is kept.
    const room = this.limits.maxArchiveBytes - this.offset;
    if (chunk.length > room) {
      this.pushWithin(chunk.subarray(0, room));
      if (this.rejected) return; // pushWithin may have found it is no archive
      this.fail(`longer than the limit of ${this.limits.maxArchiveBytes} bytes`, this.limits.maxArchiveBytes);
    }
    this.pushWithin(chunk);
  }

  private pushWithin(chunk: Uint8Array): void {
    let k = 0;
    while (k < chunk.length) {
      const state = this.state;
      switch (state.at) {
        case 'magic':
        case 'header': {
          const nl = chunk.indexOf(NEWLINE, k);
          const end = nl < 0 ? chunk.length : nl;
          if (state.at === 'magic' && this.offset < MAGIC_BYTES.length) {
            // Decide "mine or not" as early as the bytes allow, before any framing error.
            const probe = chunk.subarray(k, Math.min(end + (nl < 0 ? 0 : 1), k + MAGIC_BYTES.length - this.offset));
            for (let p = 0; p < probe.length; p++) {
              if (probe[p] !== MAGIC_BYTES[this.offset + p]) {
                this.notArchive = true;
                return;
              }
            }
          }
          if (this.line.length === 0) this.lineStart = this.offset;
          if (this.line.length + (end - k) > MAX_LINE_BYTES)
            this.fail(`header line longer than ${MAX_LINE_BYTES} bytes`, this.lineStart);
          for (let p = k; p < end; p++) this.line.push(chunk[p] as number);
          if (nl < 0) {
            this.offset += chunk.length - k;
            return;
          }
          const lineStart = this.lineStart;
          const text = this.lineText(lineStart);
          this.line = [];
          this.offset += nl + 1 - k;
          k = nl + 1;
          if (state.at === 'magic') this.onMagic(text, lineStart);
          else this.onHeader(text, lineStart);
          break;
        }
        case 'payload': {
          const want = state.length - state.filled;
          const take = Math.min(want, chunk.length - k);
          state.parts.push(chunk.slice(k, k + take));
          state.filled += take;
          k += take;
          this.offset += take;
          if (state.filled === state.length)
            this.state = {
              at: 'separator',
              kind: state.kind,
              name: state.name,
              data: joinParts(state.parts, state.length),
            };
          break;
        }
        case 'separator': {
          if (chunk[k] !== NEWLINE)
            this.fail(`record ${state.name} is not followed by a newline (its length is wrong)`, this.offset);
          k += 1;
          this.offset += 1;
          this.addRecord(state.kind, state.name, state.data);
          this.state = { at: 'header' };
          break;
        }
        case 'done':
          this.fail('data after the end marker', this.offset);
      }
    }
  }

  /** The archive; undefined when the bytes were not a capture archive (or there were none). */
  end(): CaptureArchive | undefined {
    if (this.notArchive || this.offset === 0) return undefined;
    switch (this.state.at) {
      case 'done':
        return { version: this.version, entries: this.entries, meta: this.meta, recordCount: this.recordCount };
      case 'payload':
        return this.fail(
          `truncated inside record ${this.state.name} (${this.state.filled} of ${this.state.length} bytes)`,
          this.offset,
        );
      case 'separator':
        return this.fail(`truncated after record ${this.state.name}`, this.offset);
      case 'magic':
      case 'header':
        return this.fail('truncated: no end marker (the capture was interrupted)', this.offset);
    }
  }

  private lineText(at: number): string {
    try {
      return strictUtf8.decode(Uint8Array.from(this.line));
    } catch {
      return this.fail('header line is not text', at);
    }
  }

  private onMagic(text: string, at: number): void {
    const m = /^memlens-capture ([0-9]{1,6})$/.exec(text);
    if (!m) return this.fail(`bad first line ${JSON.stringify(text)}`, at);
    const version = Number(m[1]);
    if (version !== ARCHIVE_VERSION)
      return this.fail(
        `archive format version ${version} is not supported (this memlens reads version ${ARCHIVE_VERSION})`,
        at,
      );
    this.version = version;
    this.state = { at: 'header' };
  }

  private onHeader(text: string, at: number): void {
    const endMark = /^end ([0-9]{1,12})$/.exec(text);
    if (endMark) {
      const count = Number(endMark[1]);
      if (count !== this.recordCount)
        this.fail(`end marker counts ${count} records but the archive holds ${this.recordCount}`, at);
      this.state = { at: 'done' };
      return;
    }
    const m = /^([FLEM]) ([0-9]{1,15}) ([\x21-\x7e]+)$/.exec(text);
    if (!m) return this.fail(`bad record header ${JSON.stringify(text.slice(0, 80))}`, at);
    const [, kind = '', lengthText = '', name = ''] = m;
    const length = Number(lengthText);
    if (!Number.isSafeInteger(length) || length > this.limits.maxRecordBytes)
      return this.fail(
        `record ${name} claims ${lengthText} bytes, more than the limit of ${this.limits.maxRecordBytes}`,
        at,
      );
    if (this.recordCount >= this.limits.maxRecords)
      return this.fail(`more than the limit of ${this.limits.maxRecords} records`, at);
    this.state =
      length === 0
        ? { at: 'separator', kind, name, data: new Uint8Array(0) }
        : { at: 'payload', kind, name, length, parts: [], filled: 0 };
  }

  private addRecord(kind: string, name: string, data: Uint8Array): void {
    this.recordCount += 1;
    const at = this.offset;
    if (kind === 'M') {
      if (this.meta.has(name)) this.fail(`metadata ${name} appears twice`, at);
      this.meta.set(name, dropFinalNewline(utf8.decode(data)));
      return;
    }
    if (this.entries.has(name)) this.fail(`${name} appears twice`, at);
    if (kind === 'F') {
      this.entries.set(name, { kind: 'file', name, data });
    } else if (kind === 'L') {
      this.entries.set(name, { kind: 'link', name, target: dropFinalNewline(utf8.decode(data)) });
    } else {
      const text = dropFinalNewline(utf8.decode(data));
      const space = text.indexOf(' ');
      const reason = space < 0 ? text : text.slice(0, space);
      if (reason !== 'permission' && reason !== 'missing' && reason !== 'error')
        this.fail(`record ${name} has an unknown reason ${JSON.stringify(reason.slice(0, 40))}`, at);
      this.entries.set(name, { kind: 'unreadable', name, reason, message: space < 0 ? '' : text.slice(space + 1) });
    }
  }

  private fail(message: string, at: number): never {
    throw new ParseError(`${message} (at byte ${at})`, this.source);
  }
}

function joinParts(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0]) return parts[0];
  const data = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return data;
}

function dropFinalNewline(s: string): string {
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

/** One-shot parse: undefined when the bytes are not a capture archive, ParseError when corrupt. */
export function parseArchive(bytes: Uint8Array, source = 'archive'): CaptureArchive | undefined {
  const reader = new ArchiveReader(source);
  reader.push(bytes);
  return reader.end();
}
