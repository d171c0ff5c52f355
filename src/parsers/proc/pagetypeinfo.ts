// /proc/pagetypeinfo (root only since 5.9, commit 60f30350fd69): mm/vmstat.c pagetypeinfo_show.
//   Page block order: 9
//   Pages per block:  512
//   <blank>
//   Free pages count per migrate type at order       0      1 ...
//   Node    0, zone      DMA, type    Unmovable      0      0 ...
//   <blank>
//   Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate
//   Node 0, zone      DMA            1            7            0            0            0            0
// The migrate types present depend on the kernel and its configuration (CMA only with CONFIG_CMA,
// HighAtomic since 4.4, Isolate with memory isolation), so the names are read from the header.
// Later kernels may add sections (e.g. "Number of mixed blocks"); unknown sections are skipped.
// A free count of 100,000 blocks or more is printed as ">100000" and the rest of that line's
// orders are not counted (mm/vmstat.c pagetypeinfo_showfree_print stops counting there, since
// 5.5, commit 93b3a674485f, to keep the zone lock short): read as 100000, and the type is marked.
import { ParseError } from '../../base/errors.js';
import { lines } from './fields.js';

export interface PagetypeZone {
  node: number;
  zone: string;
  /** Free blocks by migrate type, then by order. */
  freeBlocks: Map<string, number[]>;
  /** Page blocks (of pagesPerBlock pages) by migrate type. */
  pageblocks: Map<string, number>;
  /** Migrate types with a count printed as ">100000": their counts are lower bounds. */
  capped: Set<string>;
}

export interface Pagetypeinfo {
  pageblockOrder: number;
  pagesPerBlock: number;
  zones: PagetypeZone[];
}

const FREE = /^Node\s+(\d+),\s+zone\s+(\S+),\s+type\s+(\S+)((?:\s+>?\d+)+)\s*$/;
const BLOCKS_HEADER = /^Number of blocks type((?:\s+\S+)+)\s*$/;
const BLOCKS = /^Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)\s*$/;

function numbers(s: string | undefined): number[] {
  return (s ?? '')
    .trim()
    .split(/\s+/)
    .map((t) => Number(t.startsWith('>') ? t.slice(1) : t));
}

export function parsePagetypeinfo(text: string, source = 'pagetypeinfo'): Pagetypeinfo | undefined {
  let pageblockOrder: number | undefined;
  let pagesPerBlock: number | undefined;
  const zones = new Map<string, PagetypeZone>();
  const zone = (node: number, name: string): PagetypeZone => {
    const key = `${node}/${name}`;
    let z = zones.get(key);
    if (!z) {
      z = { node, zone: name, freeBlocks: new Map(), pageblocks: new Map(), capped: new Set() };
      zones.set(key, z);
    }
    return z;
  };
  let section: 'free' | 'blocks' | 'other' = 'other';
  let blockTypes: string[] = [];
  let n = 0;
  for (const line of lines(text)) {
    n++;
    if (line.trim() === '') {
      section = 'other';
      continue;
    }
    const order = /^Page block order:\s+(\d+)/.exec(line);
    if (order) {
      pageblockOrder = Number(order[1]);
      continue;
    }
    const per = /^Pages per block:\s+(\d+)/.exec(line);
    if (per) {
      pagesPerBlock = Number(per[1]);
      continue;
    }
    if (line.startsWith('Free pages count per migrate type')) {
      section = 'free';
      continue;
    }
    const bh = BLOCKS_HEADER.exec(line);
    if (bh) {
      section = 'blocks';
      blockTypes = (bh[1] ?? '').trim().split(/\s+/);
      continue;
    }
    if (section === 'free') {
      const m = FREE.exec(line);
      if (!m) throw new ParseError(`not a free-pages line: ${JSON.stringify(line.slice(0, 80))}`, source, n);
      const z = zone(Number(m[1]), m[2] ?? '');
      z.freeBlocks.set(m[3] ?? '', numbers(m[4]));
      if ((m[4] ?? '').includes('>')) z.capped.add(m[3] ?? '');
    } else if (section === 'blocks') {
      const m = BLOCKS.exec(line);
      if (!m) throw new ParseError(`not a page-block count line: ${JSON.stringify(line.slice(0, 80))}`, source, n);
      const counts = numbers(m[3]);
      if (counts.length !== blockTypes.length)
        throw new ParseError(`${counts.length} counts for ${blockTypes.length} migrate types`, source, n);
      const z = zone(Number(m[1]), m[2] ?? '');
      blockTypes.forEach((t, i) => z.pageblocks.set(t, counts[i] ?? 0));
    }
  }
  if (pageblockOrder === undefined || pagesPerBlock === undefined) return undefined;
  return { pageblockOrder, pagesPerBlock, zones: [...zones.values()] };
}
