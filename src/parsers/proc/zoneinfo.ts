// /proc/zoneinfo: one block per memory zone (mm/vmstat.c zoneinfo_show_print). memlens needs the
// watermarks and the lowmem reserves of each zone, to estimate MemAvailable on kernels that do not
// print it (before 3.14). Each block starts with "Node N, zone NAME"; the lines used here are:
//   "  pages free     N", "        min      N", "        low      N", "        high     N",
//   "        present  N", "        managed  N" (3.8+), "        protection: (a, b, …)"
// all in pages. Their order moved between kernels (3.x prints "protection" after the zone's vm
// stats, 4.12+ before them), so lines are matched by name, not by position. The per-CPU pageset
// lines ("high:  N", with a colon) and the vm stat lines ("nr_free_pages N") do not match.
import { ParseError } from '../../base/errors.js';
import { lines } from './fields.js';

export interface Zone {
  node: number;
  name: string;
  freePages: number;
  minPages: number;
  /** low_wmark_pages(zone): the watermark boost (4.20+) is included, as the kernel prints it. */
  lowPages: number;
  highPages: number;
  presentPages: number | undefined;
  /** Pages the buddy allocator manages (3.8+); undefined on older kernels. */
  managedPages: number | undefined;
  /** zone->lowmem_reserve[], one entry per zone type of the node. */
  protectionPages: number[];
  /** "spanned": the zone's frame range length, holes included; undefined when not printed. */
  spannedPages?: number;
  /** "start_pfn:": the first frame of the zone (printed for populated zones). */
  startPfn?: number;
  /** "cma": pages of CMA areas in the zone (zone->cma_pages, 5.10+ with CONFIG_CMA). */
  cmaPages?: number;
  /** "nr_free_cma": free pages of CMA areas (a vm stat line of the zone). */
  freeCmaPages?: number;
  /** Σ "count:" of the zone's per-CPU pagesets: free pages held on per-CPU lists, outside the buddy allocator. */
  perCpuListPages?: number;
}

const HEADER = /^Node (\d+), zone\s+(\S+)\s*$/;
const FIELD = /^\s+(pages free|min|low|high|present|managed)\s+(\d+)\s*$/;
const PROTECTION = /^\s+protection: \(([\d, ]*)\)\s*$/;
// Lines read for the physical memory map (`memlens pages`); older kernels lack some of them.
const SPAN = /^\s+(spanned|cma|nr_free_cma)\s+(\d+)\s*$/;
const PCP_COUNT = /^\s+count:\s+(\d+)\s*$/;
const START_PFN = /^\s+start_pfn:\s+(\d+)\s*$/;

/** Parses /proc/zoneinfo. Returns undefined for text that is not zoneinfo (no zone header). */
export function parseZoneinfo(text: string, source = 'zoneinfo'): Zone[] | undefined {
  const zones: Zone[] = [];
  let cur: Partial<Zone> & { node: number; name: string; protectionPages: number[] } = {
    node: 0,
    name: '',
    protectionPages: [],
  };
  let inZone = false;
  const finish = (lineNo: number): void => {
    if (!inZone) return;
    const { freePages, minPages, lowPages, highPages } = cur;
    if (freePages === undefined || minPages === undefined || lowPages === undefined || highPages === undefined) {
      throw new ParseError(`zone ${cur.name} of node ${cur.node} has no pages free/min/low/high lines`, source, lineNo);
    }
    zones.push({
      node: cur.node,
      name: cur.name,
      freePages,
      minPages,
      lowPages,
      highPages,
      presentPages: cur.presentPages,
      managedPages: cur.managedPages,
      protectionPages: cur.protectionPages,
      ...(cur.spannedPages !== undefined ? { spannedPages: cur.spannedPages } : {}),
      ...(cur.startPfn !== undefined ? { startPfn: cur.startPfn } : {}),
      ...(cur.cmaPages !== undefined ? { cmaPages: cur.cmaPages } : {}),
      ...(cur.freeCmaPages !== undefined ? { freeCmaPages: cur.freeCmaPages } : {}),
      ...(cur.perCpuListPages !== undefined ? { perCpuListPages: cur.perCpuListPages } : {}),
    });
  };
  let n = 0;
  for (const line of lines(text)) {
    n++;
    const h = HEADER.exec(line);
    if (h) {
      finish(n);
      cur = { node: Number(h[1]), name: h[2] ?? '', protectionPages: [] };
      inZone = true;
      continue;
    }
    if (!inZone) {
      if (line.trim() === '') continue;
      return undefined;
    }
    const f = FIELD.exec(line);
    if (f) {
      const v = Number(f[2]);
      if (f[1] === 'pages free') cur.freePages = v;
      else if (f[1] === 'min') cur.minPages = v;
      else if (f[1] === 'low') cur.lowPages = v;
      else if (f[1] === 'high') cur.highPages = v;
      else if (f[1] === 'present') cur.presentPages = v;
      else cur.managedPages = v;
      continue;
    }
    const sp = SPAN.exec(line);
    if (sp) {
      const v = Number(sp[2]);
      if (sp[1] === 'spanned') cur.spannedPages = v;
      else if (sp[1] === 'cma') cur.cmaPages = v;
      else cur.freeCmaPages = v;
      continue;
    }
    const pcp = PCP_COUNT.exec(line);
    if (pcp) {
      cur.perCpuListPages = (cur.perCpuListPages ?? 0) + Number(pcp[1]);
      continue;
    }
    const st = START_PFN.exec(line);
    if (st) {
      cur.startPfn = Number(st[1]);
      continue;
    }
    const p = PROTECTION.exec(line);
    if (p) {
      cur.protectionPages = (p[1] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map(Number);
    }
  }
  finish(n);
  return zones.length > 0 ? zones : undefined;
}
