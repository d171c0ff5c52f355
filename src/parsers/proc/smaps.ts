// /proc/PID/smaps and /proc/PID/smaps_rollup (fs/proc/task_mmu.c show_smap, show_smaps_rollup;
// Documentation/filesystems/proc.rst "smaps"). Both print the same "Key: value kB" counters;
// the rollup sums them over all VMAs in one page-table walk and adds Pss_Anon/File/Shmem (5.3+,
// commit ee2ad71b0756; smaps_rollup itself is 4.14+, commit 493b0e9d945f).
// Hugetlb pages are NOT in Rss/Pss/Private_*/Shared_* but only in *_Hugetlb.
import { ParseError } from '../../base/errors.js';
import type { Bytes } from '../../base/units.js';
import { kbLineBytes } from './fields.js';
import { looksLikeVmaHeader, parseVmaHeader, type VmaHeader } from './maps.js';

/** The memory counters of one VMA (smaps) or of the whole process (smaps_rollup), in bytes. */
export interface SmapsCounters {
  /** Size of the VMA (smaps only; the rollup has no Size line). */
  sizeBytes: Bytes | undefined;
  rssBytes: Bytes;
  pssBytes: Bytes;
  pssDirtyBytes: Bytes | undefined;
  /** Rollup only (5.3+). */
  pssAnonBytes: Bytes | undefined;
  pssFileBytes: Bytes | undefined;
  pssShmemBytes: Bytes | undefined;
  sharedCleanBytes: Bytes;
  sharedDirtyBytes: Bytes;
  privateCleanBytes: Bytes;
  privateDirtyBytes: Bytes;
  anonymousBytes: Bytes;
  /** Includes the swapped part of shmem behind shmem mappings. */
  swapBytes: Bytes;
  /** Excludes shmem swap (proc.rst). Undefined before 4.3. */
  swapPssBytes: Bytes | undefined;
  lockedBytes: Bytes;
  sharedHugetlbBytes: Bytes;
  privateHugetlbBytes: Bytes;
  /**
   * Pages referenced (accessed) since the last `clear_refs` 1-3 (proc.rst); absent lines stay
   * undefined. memlens dirty's accessed-page fallback sums it.
   */
  referencedBytes?: Bytes;
  /** Anonymous memory in transparent huge pages (one write marks 2 MiB soft-dirty there). */
  anonHugePagesBytes?: Bytes;
}

/** USS: the pages mapped only by this process (proc.rst: Private_Clean + Private_Dirty). */
export function ussBytes(c: SmapsCounters): Bytes {
  return (c.privateCleanBytes + c.privateDirtyBytes) as Bytes;
}

const KEYS: Record<string, keyof SmapsCounters> = {
  Size: 'sizeBytes',
  Rss: 'rssBytes',
  Pss: 'pssBytes',
  Pss_Dirty: 'pssDirtyBytes',
  Pss_Anon: 'pssAnonBytes',
  Pss_File: 'pssFileBytes',
  Pss_Shmem: 'pssShmemBytes',
  Shared_Clean: 'sharedCleanBytes',
  Shared_Dirty: 'sharedDirtyBytes',
  Private_Clean: 'privateCleanBytes',
  Private_Dirty: 'privateDirtyBytes',
  Anonymous: 'anonymousBytes',
  Swap: 'swapBytes',
  SwapPss: 'swapPssBytes',
  Locked: 'lockedBytes',
  Shared_Hugetlb: 'sharedHugetlbBytes',
  Private_Hugetlb: 'privateHugetlbBytes',
  Referenced: 'referencedBytes',
  AnonHugePages: 'anonHugePagesBytes',
};

function emptyCounters(): SmapsCounters {
  const z = 0 as Bytes;
  return {
    sizeBytes: undefined,
    rssBytes: z,
    pssBytes: z,
    pssDirtyBytes: undefined,
    pssAnonBytes: undefined,
    pssFileBytes: undefined,
    pssShmemBytes: undefined,
    sharedCleanBytes: z,
    sharedDirtyBytes: z,
    privateCleanBytes: z,
    privateDirtyBytes: z,
    anonymousBytes: z,
    swapBytes: z,
    swapPssBytes: undefined,
    lockedBytes: z,
    sharedHugetlbBytes: z,
    privateHugetlbBytes: z,
  };
}

/** Applies one counter line; returns false when the line is not a "kB" counter. */
function applyLine(c: SmapsCounters, line: string): boolean {
  const colon = line.indexOf(':');
  if (colon <= 0) return false;
  const field = KEYS[line.slice(0, colon)];
  if (field === undefined) return true; // a counter we do not use (KSM, THPeligible, VmFlags, …)
  const v = kbLineBytes(line, colon, line.length);
  if (Number.isNaN(v)) return false;
  (c as unknown as Record<string, number>)[field] = v;
  return true;
}

/**
 * The body of a rollup in the shape the kernel prints (show_smaps_rollup: SEQ_PUT_DEC lines,
 * "Key:   N kB"), every line a counter. Such a body is read with one regular expression
 * (ROLLUP_COUNTER); any other body goes line by line (parseRollupLines), which also says what is
 * wrong with it.
 */
const PLAIN_ROLLUP_BODY = /^(?:[A-Za-z_]+:[ \t]*\d+ kB\n)*$/;
const ROLLUP_COUNTER = /\n([A-Za-z_]+):[ \t]*(\d+) kB(?=\n)/g;

/**
 * A plain rollup body with given keys in a given order: a sticky regular expression that matches
 * exactly such a body (the keys are [A-Za-z_]+, nothing to escape) with each number captured, and
 * the counter each number goes to.
 */
interface RollupLayout {
  body: RegExp;
  fields: (keyof SmapsCounters | undefined)[];
}

/** The layout of the last plain body parsed: a cache, the results do not depend on it. */
let lastLayout: RollupLayout | undefined;

function rollupLayout(keys: string[]): RollupLayout {
  return {
    body: new RegExp(`${keys.map((k) => `${k}:[ \\t]*(\\d+) kB\\n`).join('')}$`, 'y'),
    fields: keys.map((k) => (Object.hasOwn(KEYS, k) ? KEYS[k] : undefined)),
  };
}

/**
 * Parses /proc/PID/smaps_rollup. Returns undefined for text that is not a rollup (no
 * "[rollup]" header); an empty text (a process without mm, e.g. a kernel thread) is also
 * undefined.
 */
export function parseSmapsRollup(text: string, source = 'smaps_rollup'): SmapsCounters | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  const header = text.slice(0, nl);
  if (!header.endsWith('[rollup]')) return undefined;
  // A snapshot parses one rollup per process in a short-lived program, i.e. mostly in V8's
  // interpreter: native regular expressions over the whole text cost a fraction of a loop in
  // JavaScript over its lines. The result is the same: in a plain body every line is
  // "Key: N kB", each is applied in turn, and a later line of a key overwrites an earlier one.
  // Fastest: the body has the keys, in the order, of the previous plain body (every rollup of one
  // kernel has), and one match cuts out all the numbers.
  const same = lastLayout;
  if (same !== undefined) {
    same.body.lastIndex = nl + 1;
    const m = same.body.exec(text);
    if (m !== null) {
      const c = emptyCounters();
      const { fields } = same;
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i];
        if (field !== undefined) (c as unknown as Record<string, number>)[field] = Number(m[i + 1]) * 1024;
      }
      return c;
    }
  }
  if (text.length > nl + 1 && PLAIN_ROLLUP_BODY.test(text.slice(nl + 1))) {
    const c = emptyCounters();
    const keys: string[] = [];
    ROLLUP_COUNTER.lastIndex = nl;
    for (let m = ROLLUP_COUNTER.exec(text); m !== null; m = ROLLUP_COUNTER.exec(text)) {
      const key = m[1] as string;
      keys.push(key);
      const field = Object.hasOwn(KEYS, key) ? KEYS[key] : undefined;
      if (field !== undefined) (c as unknown as Record<string, number>)[field] = Number(m[2]) * 1024;
    }
    if (!keys.includes('Rss')) throw new ParseError('no Rss line', source);
    lastLayout = rollupLayout(keys);
    return c;
  }
  return parseRollupLines(text, nl, source);
}

/** The rollup's counters, line by line, for a body that is not plain (see PLAIN_ROLLUP_BODY). */
function parseRollupLines(text: string, nl: number, source: string): SmapsCounters {
  const c = emptyCounters();
  let start = nl + 1;
  let lineNo = 1;
  let sawRss = false;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    lineNo++;
    start = end + 1;
    if (line === '') continue;
    if (line.startsWith('Rss:')) sawRss = true;
    if (!applyLine(c, line))
      throw new ParseError(`unexpected line ${JSON.stringify(line.slice(0, 60))}`, source, lineNo);
  }
  if (!sawRss) throw new ParseError('no Rss line', source);
  return c;
}

export interface SmapsVma extends VmaHeader {
  counters: SmapsCounters;
  /** The two-letter VmFlags (proc.rst), e.g. "rd", "wr", "sh", "ht". */
  vmFlags: string[];
}

/** Parses /proc/PID/smaps into its VMAs. Returns undefined when the text is not smaps. */
export function parseSmaps(text: string, source = 'smaps'): SmapsVma[] | undefined {
  const out: SmapsVma[] = [];
  let cur: SmapsVma | undefined;
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line === '') continue;
    if (looksLikeVmaHeader(line)) {
      const h = parseVmaHeader(line);
      if (!h) {
        if (out.length === 0) return undefined;
        throw new ParseError(`bad VMA header ${JSON.stringify(line.slice(0, 60))}`, source, lineNo);
      }
      cur = { ...h, counters: emptyCounters(), vmFlags: [] };
      out.push(cur);
      continue;
    }
    if (!cur) return undefined;
    if (line.startsWith('VmFlags:')) {
      cur.vmFlags = line
        .slice(8)
        .trim()
        .split(/\s+/)
        .filter((s) => s !== '');
      continue;
    }
    if (!applyLine(cur.counters, line)) {
      // THPeligible and ProtectionKey are bare integers; anything else is unexpected.
      if (/^[A-Za-z_]+:\s*-?\d+\s*$/.test(line)) continue;
      throw new ParseError(`unexpected line ${JSON.stringify(line.slice(0, 60))}`, source, lineNo);
    }
  }
  return out;
}
