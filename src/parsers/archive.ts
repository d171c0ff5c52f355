// The memlens capture archive (written by scripts/capture.sh, which documents the format):
//   "memlens-capture <version>\n", then one snapshot (version 1) or a series of them (versions 2
//   and 3; 3 carries a process's cmdline and exe over from the snapshot before, see below),
//   each: records "<kind> <length> <name>\n" <payload> "\n", then "end <records of the snapshot>\n".
// Pure: bytes in, typed snapshots out. Format detection follows the project rule: undefined
// when the bytes are not a capture archive at all, ParseError when they are one but corrupt.
// Truncation: a version 1 archive (one snapshot) cut short is an error; a series cut short (a
// board that lost power, a dropped ssh connection) keeps its complete snapshots, and the partial
// last one is skipped and counted (SeriesSummary.truncated), unless no snapshot is complete.
// The reader is incremental so that an archive can arrive through a pipe in chunks of any size,
// and it hands each snapshot over as it completes (onSnapshot), so a long series is never held
// whole; parseArchive() and parseArchiveSeries() are the one-shot forms.
import { ParseError } from '../base/errors.js';
import { statStartTime } from './proc/stat.js';

export const ARCHIVE_MAGIC = 'memlens-capture ';
/**
 * The format version scripts/capture.sh writes for a series: the one place it is named on this
 * side (a test checks the script's magic line against it). A single capture is written as
 * version 2 (SINGLE_CAPTURE_VERSION), which it is in every respect, so that releases before
 * version 3 read it; version 1 (one snapshot, no series) still reads.
 */
export const ARCHIVE_VERSION = 3;
export const SINGLE_CAPTURE_VERSION = 2;
/** Versions this reader accepts. */
const READABLE_VERSIONS: readonly number[] = [1, SINGLE_CAPTURE_VERSION, ARCHIVE_VERSION];

/** Why a file could not be read at capture time (the reading command's message is kept). */
export type UnreadableReason = 'permission' | 'missing' | 'error';

export type ArchiveEntry =
  | { kind: 'file'; name: string; data: Uint8Array }
  | { kind: 'link'; name: string; target: string }
  | { kind: 'unreadable'; name: string; reason: UnreadableReason; message: string };

export interface CaptureArchive {
  version: number;
  /** Position of this snapshot in its archive, from 0 (always 0 for version 1). */
  index: number;
  /** Files, link targets and unreadable files by name ("proc/meminfo", "proc/42/exe", "etc/passwd"). */
  entries: Map<string, ArchiveEntry>;
  /** Metadata written by the script: time, epoch, pagesize, hostname, uname, uid, shell-pid, end-time. */
  meta: Map<string, string>;
  /** Number of records, as counted by the end marker. */
  recordCount: number;
}

/** What the whole archive held, once read: its snapshots and the partial one skipped, if any. */
export interface SeriesSummary {
  version: number;
  /** Complete snapshots. */
  snapshots: number;
  /** 1 when the stream ended inside a snapshot (a series cut short), which was skipped; else 0. */
  truncated: number;
  /** Why the skipped snapshot is incomplete (the message a version 1 archive would fail with). */
  truncatedReason: string | null;
}

/**
 * What an archive may claim, so that no input makes the reader's memory grow without bound (the
 * archive is kept whole: every analysis reads it like /proc). Checked as the bytes arrive, so an
 * archive over a bound fails after reading at most that bound, not after reading it all.
 *  - one record: 128 MiB. The largest /proc file captured is a process's smaps, about 650 bytes
 *    per mapping (measured on Linux 6.x); at the default vm.max_map_count of 65530 mappings
 *    (Documentation/admin-guide/sysctl/vm.rst) that is about 42 MiB, so 128 MiB is three times it.
 *  - one snapshot: 1 GiB of bytes (after gunzip), the reader's memory bound with its records (the
 *    snapshots of a series are handed over one by one, so a series may be longer in all).
 *  - snapshots of a series: 100,000 (a day at one a second); each becomes a point of history.
 *  - records of one snapshot: 1,000,000 (each costs a map entry besides its bytes); a process writes about ten
 *    (status, stat, statm, cmdline, comm, smaps_rollup, smaps, maps, cgroup, exe), so this is room
 *    for some 100,000 processes, far above kernel.pid_max's default of 32768 pids.
 */
export interface ArchiveLimits {
  maxRecordBytes: number;
  maxArchiveBytes: number;
  maxRecords: number;
  maxSnapshots: number;
}

export const ARCHIVE_LIMITS: ArchiveLimits = {
  maxRecordBytes: 128 * 1024 * 1024,
  maxArchiveBytes: 1024 * 1024 * 1024,
  maxRecords: 1_000_000,
  maxSnapshots: 100_000,
};

/**
 * Files a snapshot of a series after the first may leave out, which then read as the first
 * snapshot's: what does not change while the machine runs (scripts/capture.sh writes them once,
 * to keep each round cheap). Process files are never carried.
 */
export function carriedFromFirst(name: string): boolean {
  return !/^proc\/\d+\//.test(name);
}

/** Metadata carried the same way; the time (time, epoch, end-time) is each snapshot's own. */
const CARRIED_META: ReadonlySet<string> = new Set(['pagesize', 'hostname', 'uname', 'uid', 'shell-pid', 'every-ms']);

const MAGIC_BYTES = new TextEncoder().encode(ARCHIVE_MAGIC);
/** Longest header line accepted: names are short /proc paths, so anything longer is corruption. */
const MAX_LINE_BYTES = 4096;
const NEWLINE = 0x0a;

const utf8 = new TextDecoder('utf-8');

/** A process's files that version 3 leaves out while its start time and name are unchanged. */
const CARRIED_PROCESS_FILES = ['cmdline', 'exe'] as const;

/**
 * Version 3: a process whose snapshot has its stat but no cmdline takes cmdline and exe from the
 * snapshot before, when its stat there shows the same start time (the pid names the same process;
 * scripts/capture.sh left them out because the name was unchanged too). A different start time
 * (a reused pid) carries nothing: the files then read as absent, never as another process's.
 */
function carryProcessFiles(entries: Map<string, ArchiveEntry>, before: ReadonlyMap<string, ArchiveEntry>): void {
  for (const [name, entry] of [...entries]) {
    const m = /^proc\/(\d+)\/stat$/.exec(name);
    if (!m || entry.kind !== 'file' || entries.has(`proc/${m[1]}/cmdline`)) continue;
    const prior = before.get(name);
    if (prior?.kind !== 'file') continue;
    const now = statStartTime(utf8.decode(entry.data));
    if (now === undefined || now !== statStartTime(utf8.decode(prior.data))) continue;
    for (const file of CARRIED_PROCESS_FILES) {
      const key = `proc/${m[1]}/${file}`;
      const carried = before.get(key);
      if (carried !== undefined && !entries.has(key)) entries.set(key, carried);
    }
  }
}
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
  /** Records of the snapshot being read. */
  private recordCount = 0;
  private entries = new Map<string, ArchiveEntry>();
  private meta = new Map<string, string>();
  /** Stream offset where the snapshot being read began (its size is bounded). */
  private snapshotStart = 0;
  private snapshots = 0;
  /** The first snapshot's entries and metadata a later one may leave out (carriedFromFirst). */
  private carriedEntries: Map<string, ArchiveEntry> | null = null;
  private carriedMeta: Map<string, string> | null = null;
  /** The newest complete snapshot. */
  private last: CaptureArchive | undefined;

  constructor(
    private readonly source = 'archive',
    private readonly limits: ArchiveLimits = ARCHIVE_LIMITS,
    /** Called with each snapshot as it completes, in order. */
    private readonly onSnapshot?: (snapshot: CaptureArchive) => void,
  ) {}

  /**
   * True once the first bytes differ from the magic line: the input is not an archive and no
   * further byte will be looked at, so a reader of a stream stops reading it.
   */
  get rejected(): boolean {
    return this.notArchive;
  }

  push(chunk: Uint8Array): void {
    // The snapshot bound: the bytes up to it are read as usual (an earlier error, or "not an
    // archive", wins), and not one byte past it is kept. A snapshot that ends inside the chunk
    // moves the bound on for the next one.
    let k = 0;
    while (k < chunk.length) {
      if (this.notArchive) return;
      const room = this.limits.maxArchiveBytes - (this.offset - this.snapshotStart);
      if (room <= 0)
        this.fail(
          `${this.version === 1 ? '' : 'snapshot '}longer than the limit of ${this.limits.maxArchiveBytes} bytes`,
          this.offset,
        );
      const part = chunk.subarray(k, k + room);
      this.pushWithin(part);
      k += part.length;
    }
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

  /**
   * The newest complete snapshot (the only one of a version 1 archive); undefined when the bytes
   * were not a capture archive (or there were none). finish() says what the whole archive held.
   */
  end(): CaptureArchive | undefined {
    return this.finish() === undefined ? undefined : this.last;
  }

  /**
   * Ends the stream: what it held, undefined when it was not a capture archive (or empty).
   * Throws ParseError for an archive cut short before its first complete snapshot.
   */
  finish(): SeriesSummary | undefined {
    if (this.notArchive || this.offset === 0) return undefined;
    const cut = this.truncation();
    if (cut !== null && (this.version === 1 || this.snapshots === 0 || this.state.at === 'magic'))
      return this.fail(cut, this.offset);
    return { version: this.version, snapshots: this.snapshots, truncated: cut === null ? 0 : 1, truncatedReason: cut };
  }

  /** Why the stream is incomplete where it ended; null at the end of a snapshot. */
  private truncation(): string | null {
    switch (this.state.at) {
      case 'done':
        return null;
      case 'payload':
        return `truncated inside record ${this.state.name} (${this.state.filled} of ${this.state.length} bytes)`;
      case 'separator':
        return `truncated after record ${this.state.name}`;
      case 'magic':
        return 'truncated: no end marker (the capture was interrupted)';
      case 'header':
        // A series between two snapshots is complete as far as it goes.
        if (this.version !== 1 && this.snapshots > 0 && this.recordCount === 0 && this.line.length === 0) return null;
        return 'truncated: no end marker (the capture was interrupted)';
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
    if (!READABLE_VERSIONS.includes(version))
      return this.fail(
        `archive format version ${version} is not supported (this memlens reads versions ${READABLE_VERSIONS.join(' and ')})`,
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
        this.fail(
          `end marker counts ${count} records but the ${this.version === 1 ? 'archive' : 'snapshot'} holds ${this.recordCount}`,
          at,
        );
      this.completeSnapshot(at);
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

  /** The end marker of a snapshot: it is handed over, and a series goes on with the next one. */
  private completeSnapshot(at: number): void {
    if (this.snapshots >= this.limits.maxSnapshots)
      this.fail(`more than the limit of ${this.limits.maxSnapshots} snapshots`, at);
    const entries = this.entries;
    const meta = this.meta;
    if (this.carriedEntries === null || this.carriedMeta === null) {
      this.carriedEntries = new Map([...entries].filter(([name]) => carriedFromFirst(name)));
      this.carriedMeta = new Map([...meta].filter(([key]) => CARRIED_META.has(key)));
    } else {
      for (const [name, e] of this.carriedEntries) if (!entries.has(name)) entries.set(name, e);
      for (const [key, value] of this.carriedMeta) if (!meta.has(key)) meta.set(key, value);
      if (this.version >= 3 && this.last !== undefined) carryProcessFiles(entries, this.last.entries);
    }
    const snapshot: CaptureArchive = {
      version: this.version,
      index: this.snapshots,
      entries,
      meta,
      recordCount: this.recordCount,
    };
    this.snapshots += 1;
    this.last = snapshot;
    this.onSnapshot?.(snapshot);
    if (this.version === 1) {
      this.state = { at: 'done' };
      return;
    }
    this.entries = new Map();
    this.meta = new Map();
    this.recordCount = 0;
    this.snapshotStart = this.offset;
    this.state = { at: 'header' };
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

/**
 * One-shot parse: the archive's newest complete snapshot (its only one, but for a series);
 * undefined when the bytes are not a capture archive, ParseError when corrupt.
 */
export function parseArchive(bytes: Uint8Array, source = 'archive'): CaptureArchive | undefined {
  const reader = new ArchiveReader(source);
  reader.push(bytes);
  return reader.end();
}

/** One-shot parse of every snapshot; undefined when the bytes are not a capture archive. */
export function parseArchiveSeries(
  bytes: Uint8Array,
  source = 'archive',
  limits: ArchiveLimits = ARCHIVE_LIMITS,
): { snapshots: CaptureArchive[]; summary: SeriesSummary } | undefined {
  const snapshots: CaptureArchive[] = [];
  const reader = new ArchiveReader(source, limits, (s) => snapshots.push(s));
  reader.push(bytes);
  const summary = reader.finish();
  return summary === undefined ? undefined : { snapshots, summary };
}
