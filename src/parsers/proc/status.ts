// /proc/PID/status (fs/proc/array.c proc_pid_status, task_mem in fs/proc/task_mmu.c).
// Cheap to read for every process: O(1) in the kernel, world-readable, independent of RSS.
// Kernel threads have no mm, so their status has no Vm*/Rss* lines at all.
import { ParseError } from '../../base/errors.js';
import type { Bytes } from '../../base/units.js';

export interface ProcStatus {
  /** The task's comm, unescaped (at most 15 bytes in the kernel, TASK_COMM_LEN = 16). */
  name: string;
  tgid: number;
  pid: number;
  ppid: number;
  /** Real, effective, saved and filesystem uid. */
  uids: [number, number, number, number];
  threads: number | undefined;
  /** From the "Kthread:" line (newer kernels); undefined when the kernel does not print it. */
  kthread: boolean | undefined;
  vmSizeBytes: Bytes | undefined;
  vmRssBytes: Bytes | undefined;
  rssAnonBytes: Bytes | undefined;
  rssFileBytes: Bytes | undefined;
  rssShmemBytes: Bytes | undefined;
  vmSwapBytes: Bytes | undefined;
  vmPteBytes: Bytes | undefined;
  hugetlbBytes: Bytes | undefined;
}

/**
 * Undoes the escaping of the Name line. The kernel escapes only '\n' and '\\' there
 * (fs/proc/array.c proc_task_name: seq_escape_str(..., ESCAPE_SPACE | ESCAPE_SPECIAL, "\n\\")),
 * so "\\n" is a newline and "\\\\" a backslash; every other byte is printed as is.
 */
export function unescapeStatusName(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(n|\\)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

const SIZE_KEYS: Record<string, keyof ProcStatus> = {
  VmSize: 'vmSizeBytes',
  VmRSS: 'vmRssBytes',
  RssAnon: 'rssAnonBytes',
  RssFile: 'rssFileBytes',
  RssShmem: 'rssShmemBytes',
  VmSwap: 'vmSwapBytes',
  VmPTE: 'vmPteBytes',
  HugetlbPages: 'hugetlbBytes',
};

/**
 * The lines used: the key (before the line's first colon; none of these has a colon), then the
 * rest of the line cut into the blanks, the digits and what follows, as intAt and kbLineBytes
 * (fields.ts) read them. Lines end at '\n' alone: a comm may hold '\r' and is printed as is, so
 * the regular expression has no multiline flag, whose ^ and $ would also break at '\r'.
 */
const WANTED_LINE =
  /(?:^|\n)(Name|Tgid|Pid|PPid|Uid|Threads|Kthread|VmSize|VmRSS|RssAnon|RssFile|RssShmem|VmSwap|VmPTE|HugetlbPages):([ \t]*)(\d*)([^\n]*)/g;

/** The keys of WANTED_LINE. */
const WANTED_KEYS = new Set(['Name', 'Tgid', 'Pid', 'PPid', 'Uid', 'Threads', 'Kthread', ...Object.keys(SIZE_KEYS)]);

/**
 * The lines of a status whose keys come in a given order (every status of one kernel has the same
 * lines, kernel threads fewer): a regular expression that matches exactly such a text, with the
 * value of each wanted line captured (the whole rest for Name and Uid, else the number, with " kB"
 * after it for a size), and the wanted keys in capture order.
 */
interface StatusLayout {
  lines: RegExp;
  keys: string[];
}

/** The layouts of the last texts parsed, the latest first: a cache, the results do not depend on it. */
const layouts: StatusLayout[] = [];
const LAYOUTS_KEPT = 4;

/** The layout of `text`; undefined when a line has no key of plain letters, digits and '_'. */
function statusLayout(text: string): StatusLayout | undefined {
  const lines = text.split('\n');
  if (lines.pop() !== '') return undefined;
  let pattern = '^';
  const keys: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const key = line.slice(0, colon);
    if (colon <= 0 || !/^\w+$/.test(key)) return undefined;
    if (!WANTED_KEYS.has(key)) pattern += `${key}:[^\\n]*\\n`;
    else {
      keys.push(key);
      if (key === 'Name' || key === 'Uid') pattern += `${key}:([^\\n]*)\\n`;
      else if (SIZE_KEYS[key] !== undefined) pattern += `${key}:[ \\t]*(\\d+) kB\\n`;
      else pattern += `${key}:[ \\t]*(\\d+)[^\\n]*\\n`;
    }
  }
  return { lines: new RegExp(`${pattern}$`), keys };
}

function emptyStatus(): ProcStatus {
  return {
    name: '',
    tgid: -1,
    pid: -1,
    ppid: -1,
    uids: [-1, -1, -1, -1],
    threads: undefined,
    kthread: undefined,
    vmSizeBytes: undefined,
    vmRssBytes: undefined,
    rssAnonBytes: undefined,
    rssFileBytes: undefined,
    rssShmemBytes: undefined,
    vmSwapBytes: undefined,
    vmPteBytes: undefined,
    hugetlbBytes: undefined,
  };
}

/** The Name line's value, after "Name:". */
function applyName(st: ProcStatus, rest: string): void {
  // "Name:\t<comm>": one tab after the colon; the name itself may start with spaces.
  st.name = unescapeStatusName(rest.startsWith('\t') ? rest.slice(1) : rest.trimStart());
}

/** The Uid line's value, after "Uid:". */
function applyUid(st: ProcStatus, rest: string, source: string): void {
  const parts = rest.trim().split(/\s+/).map(Number);
  if (parts.length !== 4 || parts.some((x) => !Number.isInteger(x))) throw new ParseError(`bad Uid line`, source);
  st.uids = parts as [number, number, number, number];
}

/** The number of a wanted line other than Name and Uid (kB for the sizes). */
function applyNumber(st: ProcStatus, key: string, n: number): void {
  const sizeKey = SIZE_KEYS[key];
  if (sizeKey !== undefined) (st as unknown as Record<string, number>)[sizeKey] = n * 1024;
  else if (key === 'Tgid') st.tgid = n;
  else if (key === 'Pid') st.pid = n;
  else if (key === 'PPid') st.ppid = n;
  else if (key === 'Threads') st.threads = n;
  else st.kthread = n !== 0;
}

/**
 * Parses /proc/PID/status. Returns undefined when the text has no Name/Pid lines.
 * It is read for every process on every snapshot, in a program that lives a fraction of a second,
 * so this code mostly runs in V8's interpreter: rather than loops in JavaScript over the lines and
 * the digits, a native regular expression cuts out the values used, in one match when the text
 * has the lines of a status parsed before (statusLayout), else one match per line used
 * (WANTED_LINE). A later line of a key overwrites an earlier one (the kernel prints each key
 * once).
 */
export function parseStatus(text: string, source = 'status'): ProcStatus | undefined {
  for (let i = 0; i < layouts.length; i++) {
    const layout = layouts[i] as StatusLayout;
    const m = layout.lines.exec(text);
    if (m === null) continue;
    if (i > 0) layouts.unshift(...layouts.splice(i, 1));
    const st = emptyStatus();
    const { keys } = layout;
    let sawName = false;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      const value = m[k + 1] as string;
      if (key === 'Name') {
        applyName(st, value);
        sawName = true;
      } else if (key === 'Uid') applyUid(st, value, source);
      else applyNumber(st, key, Number(value));
    }
    return sawName && st.pid >= 0 ? st : undefined;
  }
  const st = parseStatusLines(text, source);
  const layout = st === undefined ? undefined : statusLayout(text);
  if (layout !== undefined) {
    layouts.unshift(layout);
    if (layouts.length > LAYOUTS_KEPT) layouts.pop();
  }
  return st;
}

/** parseStatus, one match of WANTED_LINE per line used. */
function parseStatusLines(text: string, source: string): ProcStatus | undefined {
  const st = emptyStatus();
  let sawName = false;
  WANTED_LINE.lastIndex = 0;
  for (let m = WANTED_LINE.exec(text); m !== null; m = WANTED_LINE.exec(text)) {
    const key = m[1] as string;
    const digits = m[3] as string;
    if (key === 'Name' || key === 'Uid') {
      const rest = `${m[2] as string}${digits}${m[4] as string}`;
      if (key === 'Name') {
        applyName(st, rest);
        sawName = true;
      } else applyUid(st, rest, source);
      continue;
    }
    // The decimal integer after the blanks, as intAt reads it (NaN without digits).
    const n = digits === '' ? NaN : Number(digits);
    // A size is "Key:   N kB", as kbLineBytes reads it: the line ends in " kB", and those three
    // characters are never digits, so the digits are those before them.
    if (Number.isNaN(n) || (SIZE_KEYS[key] !== undefined && !m[0].endsWith(' kB')))
      throw new ParseError(`bad ${key} line`, source);
    applyNumber(st, key, n);
  }
  if (!sawName || st.pid < 0) return undefined;
  return st;
}
