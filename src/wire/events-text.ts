// How the raw fields of a traced call read for people: the dashboard's calls table shows these.
// Flag values are Linux's generic ones, which x86-64 and arm64 use (src/base/linux-flags.ts says
// from which headers); `memlens trace` prints the same fields raw (prot as rwx, flags in hex).
import {
  MAP_ANONYMOUS,
  MAP_DENYWRITE,
  MAP_EXECUTABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGE_SHIFT,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_SYNC,
  MAP_TYPE,
  mapHugeLog2,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../base/linux-flags.js';
import type { MemEventJson } from './events.js';

const MAP_FLAGS: [number, string][] = [
  [MAP_FIXED, 'fixed'],
  [MAP_ANONYMOUS, 'anon'],
  [MAP_GROWSDOWN, 'growsdown'],
  [MAP_DENYWRITE, 'denywrite'],
  [MAP_EXECUTABLE, 'executable'],
  [MAP_LOCKED, 'locked'],
  [MAP_NORESERVE, 'noreserve'],
  [MAP_POPULATE, 'populate'],
  [MAP_NONBLOCK, 'nonblock'],
  [MAP_STACK, 'stack'],
  [MAP_HUGETLB, 'hugetlb'],
  [MAP_SYNC, 'sync'],
  [MAP_FIXED_NOREPLACE, 'fixed_noreplace'],
];

const MAP_TYPES = new Map<number, string>([
  [MAP_SHARED, 'shared'],
  [MAP_PRIVATE, 'private'],
  [MAP_SHARED_VALIDATE, 'shared_validate'],
]);

const MREMAP_FLAGS: [number, string][] = [
  [MREMAP_MAYMOVE, 'maymove'],
  [MREMAP_FIXED, 'fixed'],
  [MREMAP_DONTUNMAP, 'dontunmap'],
];

/**
 * PROT_* bits as rwx ("r-x"): how `memlens trace`, `memlens events` and the dashboard show them;
 * PROT_NONE reads "---", null (a call without a protection) "".
 */
export function protText(prot: number | null): string {
  if (prot === null) return '';
  return `${prot & PROT_READ ? 'r' : '-'}${prot & PROT_WRITE ? 'w' : '-'}${prot & PROT_EXEC ? 'x' : '-'}`;
}

function bitsText(flags: number, known: [number, string][]): string[] {
  const out: string[] = [];
  let rest = flags;
  for (const [bit, name] of known) {
    if ((flags & bit) !== 0) {
      out.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0) out.push(`0x${(rest >>> 0).toString(16)}`);
  return out;
}

/** mmap's MAP_* or mremap's MREMAP_* flags in words ("private anon"); empty for the other calls. */
export function flagsText(call: MemEventJson['call'], flags: number | null): string {
  if (flags === null) return '';
  if (call === 'mremap') return bitsText(flags, MREMAP_FLAGS).join(' ');
  if (call !== 'mmap') return '';
  const type = flags & MAP_TYPE;
  const words = [MAP_TYPES.get(type) ?? `type ${type}`];
  let rest = flags & ~MAP_TYPE;
  const log2 = mapHugeLog2(flags);
  if ((flags & MAP_HUGETLB) !== 0 && log2 !== 0) {
    words.push(`huge ${log2 >= 30 ? `${2 ** (log2 - 30)} GiB` : `${2 ** (log2 - 20)} MiB`}`);
    rest &= (1 << MAP_HUGE_SHIFT) - 1;
  }
  return [...words, ...bitsText(rest, MAP_FLAGS)].join(' ');
}

/**
 * What the call returned, in the same terms for every call: mmap and mremap the address of the
 * mapping, munmap and mprotect "ok", brk the new break; a failed call its errno name. brk does not fail with
 * an errno: when it cannot move the break it returns the old one (mm/mmap.c, SYSCALL_DEFINE1(brk)).
 */
export function resultText(e: MemEventJson): string {
  if (e.error !== null) return e.error;
  switch (e.call) {
    case 'munmap':
    case 'mprotect':
      return 'ok';
    case 'brk':
      return e.addr === '0x0' || e.addr === e.result ? e.result : `${e.result} (not moved)`;
    default:
      return e.result;
  }
}

/** The address argument: where the call asked for (mmap's hint, the range of munmap/mremap, brk's requested break). */
export function addressText(e: MemEventJson): string {
  if (e.call === 'brk') return e.addr === '0x0' ? 'query' : e.addr;
  if (e.call === 'mmap' && e.addr === '0x0') return 'any';
  return e.addr;
}
