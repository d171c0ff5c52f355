// /proc/slabinfo version 2.1 (mm/slab_common.c cache_show; root-only, mode 0400):
// "name active_objs num_objs objsize objperslab pagesperslab : tunables … : slabdata
// active_slabs num_slabs sharedavail". Merged caches appear once, under one name.
import { ParseError } from '../../base/errors.js';
import type { Bytes } from '../../base/units.js';

export interface SlabCache {
  name: string;
  activeObjs: number;
  numObjs: number;
  objSizeBytes: Bytes;
  objPerSlab: number;
  pagesPerSlab: number;
  activeSlabs: number;
  numSlabs: number;
}

/** Memory held by a cache: its slabs times their pages (objects inside may be free). */
export function slabCacheBytes(c: SlabCache, pageSize: number): Bytes {
  return (c.numSlabs * c.pagesPerSlab * pageSize) as Bytes;
}

export function parseSlabinfo(text: string, source = 'slabinfo'): SlabCache[] | undefined {
  const ls = text.split('\n');
  if (!ls[0]?.startsWith('slabinfo - version: 2.')) return undefined;
  const out: SlabCache[] = [];
  for (let i = 1; i < ls.length; i++) {
    const line = ls[i] ?? '';
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    // name + 5 numbers, ":", "tunables", 3, ":", "slabdata", 3 = 16 tokens
    const name = parts[0] ?? '';
    const n = (k: number): number => Number(parts[k]);
    if (parts.length < 16 || parts[6] !== ':' || parts[11] !== ':' || parts[12] !== 'slabdata')
      throw new ParseError(`unexpected line ${JSON.stringify(line.slice(0, 60))}`, source, i + 1);
    const c: SlabCache = {
      name,
      activeObjs: n(1),
      numObjs: n(2),
      objSizeBytes: n(3) as Bytes,
      objPerSlab: n(4),
      pagesPerSlab: n(5),
      activeSlabs: n(13),
      numSlabs: n(14),
    };
    if ([c.activeObjs, c.numObjs, c.objSizeBytes, c.pagesPerSlab, c.numSlabs].some((x) => !Number.isInteger(x)))
      throw new ParseError(`bad number in ${JSON.stringify(name)}`, source, i + 1);
    out.push(c);
  }
  return out;
}
