// How the raw fields of a traced call read for people: the dashboard's calls table shows these.
// Flag values are Linux's generic ones (include/uapi/asm-generic/mman-common.h,
// include/uapi/linux/mman.h), which x86-64 and arm64 use; `memlens trace` prints the same fields
// raw (prot as rwx, flags in hex).
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../base/linux-flags.js';
import type { MemEventJson } from './events.js';

const MAP_FLAGS: [number, string][] = [
  [0x10, 'fixed'],
  [0x20, 'anon'],
  [0x100, 'growsdown'],
  [0x800, 'denywrite'],
  [0x1000, 'executable'],
  [0x2000, 'locked'],
  [0x4000, 'noreserve'],
  [0x8000, 'populate'],
  [0x10000, 'nonblock'],
  [0x20000, 'stack'],
  [0x40000, 'hugetlb'],
  [0x80000, 'sync'],
  [0x100000, 'fixed_noreplace'],
];
const MAP_TYPE = 0x0f;
const MAP_HUGETLB = 0x40000;
/** With MAP_HUGETLB, bits 26–31 hold log2 of the huge page size (MAP_HUGE_SHIFT). */
const MAP_HUGE_SHIFT = 26;

const MREMAP_FLAGS: [number, string][] = [
  [MREMAP_MAYMOVE, 'maymove'],
  [MREMAP_FIXED, 'fixed'],
  [MREMAP_DONTUNMAP, 'dontunmap'],
];

/** PROT_* bits as rwx ("r-x"), as `memlens trace` prints them; PROT_NONE reads "---". */
export function protText(prot: number | null): string {
  if (prot === null) return '';
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}`;
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
  const words = [type === 1 ? 'shared' : type === 2 ? 'private' : type === 3 ? 'shared_validate' : `type ${type}`];
  let rest = flags & ~MAP_TYPE;
  if ((flags & MAP_HUGETLB) !== 0 && flags >>> MAP_HUGE_SHIFT !== 0) {
    const log2 = flags >>> MAP_HUGE_SHIFT;
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
