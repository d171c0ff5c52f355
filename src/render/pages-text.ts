// The text output of `memlens pages`: frames by kind (with a column per zone), the comparison with
// the ledger, the free blocks by order with the fragmentation index, and CMA.
import { formatBytes } from '../base/units.js';
import type { PagesJson } from '../wire/pages.js';
import { sizeText, table, type Palette } from './text.js';

function signed(b: number | null, exact: boolean): string {
  if (b === null) return 'n/a';
  return b > 0 ? `+${sizeText(b, exact)}` : sizeText(b, exact);
}

export function renderPages(r: PagesJson, exact: boolean, p: Palette): string {
  const out: string[] = [];
  const ps = r.pageSizeBytes;
  out.push(
    p.bold(`Physical memory of ${r.host}`) +
      ` (${r.source}${r.kernel ? `, Linux ${r.kernel}` : ''}, ${r.pageSizeBytes} B pages)`,
  );
  if (r.frames.read) {
    out.push(`frames ${r.frames.startPfn}–${r.frames.endPfn} (${r.frames.framesRead} read)`, '');
    const zones = r.zones.filter((z) => z.kindPages !== null);
    const head = ['kind', 'pages', 'size', ...zones.map((z) => `${z.zone}${r.nodes.length > 1 ? `@${z.node}` : ''}`)];
    if (r.nodes.length > 1) head.push(...r.nodes.map((n) => `node ${n.node}`));
    const rows = [head];
    r.kinds.forEach((k, i) => {
      if (k.pages === 0) return;
      const large =
        k.largeFolioPages > 0 && k.key !== 'thp' ? ` (${formatBytes(k.largeFolioPages * ps)} in large folios)` : '';
      rows.push([
        k.label + large,
        String(k.pages),
        sizeText(k.bytes, exact),
        ...zones.map((z) => sizeText((z.kindPages?.[i] ?? 0) * ps, exact)),
        ...(r.nodes.length > 1 ? r.nodes.map((n) => sizeText((n.kindPages[i] ?? 0) * ps, exact)) : []),
      ]);
    });
    const total = r.kinds.reduce((s, k) => s + k.pages, 0);
    rows.push(['total', String(total), sizeText(total * ps, exact)]);
    out.push(
      table(rows, [
        'left',
        'right',
        'right',
        ...zones.map(() => 'right' as const),
        ...r.nodes.map(() => 'right' as const),
      ]),
    );
    if (r.reconciliation.length > 0) {
      out.push('', p.bold('Against the ledger (memlens snapshot)'));
      const rr = [['part', 'frames', 'ledger', 'difference', 'ledger part']];
      for (const row of r.reconciliation)
        rr.push([
          row.label,
          sizeText(row.framesBytes, exact),
          sizeText(row.ledgerBytes, exact),
          signed(row.differenceBytes, exact),
          row.ledgerKey || row.counters.join('+'),
        ]);
      out.push(table(rr, ['left', 'right', 'right', 'right', 'left']));
      out.push(p.dim('why they differ:'));
      for (const row of r.reconciliation) out.push(p.dim(`  ${row.label}: ${row.why}`));
    }
  } else {
    out.push(p.yellow(`frames not read: ${r.frames.unavailable ?? 'unknown'}`));
  }
  out.push('', p.bold('Zones'));
  const zr = [['node', 'zone', 'start pfn', 'spanned', 'present', 'managed', 'free']];
  for (const z of r.zones)
    zr.push([
      String(z.node),
      z.zone,
      z.startPfn === null ? '-' : String(z.startPfn),
      sizeText(z.spannedPages === null ? null : z.spannedPages * ps, exact),
      sizeText(z.presentPages === null ? null : z.presentPages * ps, exact),
      sizeText(z.managedPages === null ? null : z.managedPages * ps, exact),
      sizeText(z.freePages * ps, exact),
    ]);
  out.push(table(zr, ['right', 'left', 'right', 'right', 'right', 'right', 'right']));
  if (r.buddy) {
    out.push('', p.bold('Free blocks by order (buddyinfo) and fragmentation index'));
    const orders = Math.max(0, ...r.buddy.zones.map((z) => z.freeBlocks.length));
    const br = [['zone', ...Array.from({ length: orders }, (_, o) => String(o))]];
    for (const z of r.buddy.zones) {
      br.push([`${z.zone}@${z.node}`, ...z.freeBlocks.map(String)]);
      br.push(['  frag. index', ...z.fragmentationIndex.map((f) => (f === null ? '-' : f.toFixed(3)))]);
      for (const m of z.migrateTypes ?? [])
        if (m.freeBlocks.some((b) => b > 0))
          br.push([`  ${m.type}${m.capped ? ' (≥, capped)' : ''}`, ...m.freeBlocks.map(String)]);
    }
    out.push(table(br, ['left', ...Array.from({ length: orders }, () => 'right' as const)]));
    out.push(
      p.dim(
        'fragmentation index (mm/vmstat.c): "-" a block of that order is free now; near 0 a request would fail for lack of memory, near 1 for fragmentation',
      ),
    );
  }
  out.push('');
  if (r.cma)
    out.push(
      `CMA: ${sizeText(r.cma.totalBytes, exact)} total, ${sizeText(r.cma.freeBytes, exact)} free` +
        (r.cma.pageblocks !== null ? `, ${r.cma.pageblocks} page blocks of migrate type CMA` : ''),
    );
  else out.push('CMA: this kernel has none (no CmaTotal in /proc/meminfo)');
  for (const n of r.notes) out.push(p.dim(`note: ${n}`));
  return `${out.join('\n')}\n`;
}
