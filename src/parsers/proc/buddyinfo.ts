// /proc/buddyinfo: free blocks of each zone by order (mm/vmstat.c frag_show_print):
//   "Node 0, zone   Normal     96     47      2 ..."
// one count per order 0..NR_PAGE_ORDERS-1 (11 on x86 with 4 KiB pages; other architectures and
// page sizes print another number of columns, so the count is taken from the line).
import { ParseError } from '../../base/errors.js';
import { lines } from './fields.js';

export interface BuddyZone {
  node: number;
  zone: string;
  /** Free blocks of order i (each 2^i pages) at index i. */
  freeBlocks: number[];
}

const LINE = /^Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)\s*$/;

export function parseBuddyinfo(text: string, source = 'buddyinfo'): BuddyZone[] {
  const out: BuddyZone[] = [];
  let n = 0;
  for (const line of lines(text)) {
    n++;
    if (line.trim() === '') continue;
    const m = LINE.exec(line);
    if (!m) throw new ParseError(`not a buddyinfo line: ${JSON.stringify(line.slice(0, 80))}`, source, n);
    out.push({ node: Number(m[1]), zone: m[2] ?? '', freeBlocks: (m[3] ?? '').trim().split(/\s+/).map(Number) });
  }
  return out;
}

/** Free pages of a zone: Σ blocks × 2^order. */
export function buddyFreePages(z: BuddyZone): number {
  return z.freeBlocks.reduce((s, blocks, order) => s + blocks * 2 ** order, 0);
}
