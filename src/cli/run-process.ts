// `memlens process PID`: the mappings of one process from smaps, grouped by kind and name.
import { UserError } from '../base/errors.js';
import {
  addressSpaceBits,
  addressText,
  collectProcessMappings,
  MAPPING_KIND_LABELS,
  type MappingGroup,
} from '../analyses/mappings.js';
import { openProcSource } from '../sources/open-source.js';
import { processMappingsJson, vmaJson } from '../analyses/snapshot-json.js';
import { bySizeDesc, memoryFlags, sortFigure, type SortKey } from './memory-flags.js';
import { printable } from '../base/terminal-text.js';
import { csvLine, palette, sizeText, table, toJson } from '../render/text.js';

/** The figures of every table of this command, in their order. */
const FIGURES = ['PSS', 'USS', 'RSS', 'SWAP', 'SIZE'];
type Figures = Pick<MappingGroup, 'pssBytes' | 'ussBytes' | 'rssBytes' | 'swapBytes' | 'sizeBytes'>;
const figureCells = (f: Figures, exact: boolean | undefined): string[] =>
  [f.pssBytes, f.ussBytes, f.rssBytes, f.swapBytes, f.sizeBytes].map((b) => sizeText(b, exact));

function sortGroups(gs: MappingGroup[], key: SortKey): MappingGroup[] {
  return key === 'name'
    ? gs.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name))
    : gs.sort((a, b) => bySizeDesc(sortFigure(a, key), sortFigure(b, key)) || a.name.localeCompare(b.name));
}

export async function runProcess(pid: number, raw: Record<string, unknown>): Promise<void> {
  const flags = memoryFlags(raw);
  const source = await openProcSource(flags.from);
  const r = await collectProcessMappings(source, pid);
  if (!r.ok) {
    if (r.reason === 'missing') throw new UserError(`no process ${pid} in ${source.description}`);
    if (r.reason === 'kernel-thread')
      throw new UserError(`process ${pid} is a kernel thread: it has no mappings of its own`);
    throw new UserError(`cannot read ${pid}/smaps: permission denied (needs root, the same user, or CAP_SYS_PTRACE)`);
  }
  const m = r.value;
  const groups = sortGroups([...m.groups], flags.sort);
  const kinds = [...m.kinds].sort((a, b) => bySizeDesc(a.pssBytes, b.pssBytes));
  const machine = flags.json === true || flags.csv === true;
  const limit = flags.limit ?? (machine ? undefined : 30);
  const shown = limit === undefined ? groups : groups.slice(0, limit);
  const exact = flags.bytes;
  const withVmas = raw.vmas === true;
  const bits = addressSpaceBits(m.vmas);

  if (flags.json) {
    process.stdout.write(
      `${toJson(processMappingsJson(m, { time: source.time(), host: await source.hostname(), source: source.description }, kinds, shown, withVmas))}\n`,
    );
    return;
  }
  if (withVmas) {
    const vmas = m.vmas.map(vmaJson);
    const pick = (v: (typeof vmas)[number]): number =>
      flags.sort === 'rss' ? v.rss : flags.sort === 'uss' ? v.uss : flags.sort === 'swap' ? v.swap : v.pss;
    // --sort name keeps address order; the others sort by size.
    const sorted = flags.sort === 'name' ? vmas : [...vmas].sort((a, b) => pick(b) - pick(a));
    const rows = limit === undefined ? sorted : sorted.slice(0, limit);
    if (flags.csv) {
      const lines = [
        csvLine(['start', 'end', 'perms', 'kind', 'name', 'size', 'rss', 'pss', 'uss', 'swap', 'swap_pss']),
      ];
      for (const v of rows)
        lines.push(csvLine([v.start, v.end, v.perms, v.kind, v.name, v.size, v.rss, v.pss, v.uss, v.swap, v.swapPss]));
      process.stdout.write(`${lines.join('\n')}\n`);
      return;
    }
    process.stdout.write(
      `${table(
        [
          ['ADDRESS', 'PERMS', 'KIND', ...FIGURES, 'NAME'],
          ...rows.map((v) => [
            `${addressText(BigInt(v.start), bits)}-${addressText(BigInt(v.end), bits)}`,
            v.perms,
            MAPPING_KIND_LABELS[v.kind],
            sizeText(v.pss, exact),
            sizeText(v.uss, exact),
            sizeText(v.rss, exact),
            sizeText(v.swap, exact),
            sizeText(v.size, exact),
            printable(v.name),
          ]),
        ],
        ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'],
      )}\n`,
    );
    return;
  }
  if (flags.csv) {
    const lines = [csvLine(['kind', 'name', 'mappings', 'size', 'rss', 'pss', 'uss', 'swap', 'swap_pss'])];
    for (const g of shown)
      lines.push(
        csvLine([
          g.kind,
          g.name,
          g.mappings,
          g.sizeBytes,
          g.rssBytes,
          g.pssBytes,
          g.ussBytes,
          g.swapBytes,
          g.swapPssBytes,
        ]),
      );
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  const c = palette();
  const out: string[] = [];
  const cmd = m.cmdline && m.cmdline.length > 0 ? m.cmdline.join(' ') : `[${m.identity.name}]`;
  out.push(
    c.bold(
      `process ${pid} (${printable(m.identity.name)}), parent ${m.identity.ppid}: ${printable(cmd.length > 100 ? `${cmd.slice(0, 99)}…` : cmd)}`,
    ),
  );
  out.push(
    `${m.vmas.length} mappings: PSS ${sizeText(m.total.pssBytes, exact)}, USS ${sizeText(m.total.ussBytes, exact)}, RSS ${sizeText(m.total.rssBytes, exact)}, swap ${sizeText(m.total.swapBytes, exact)}, virtual ${sizeText(m.total.sizeBytes, exact)}${bits === undefined ? '' : `, ${bits}-bit address space`}`,
  );
  out.push('');
  out.push(c.bold('By kind'));
  out.push(
    table(
      [
        ['KIND', 'MAPS', ...FIGURES],
        ...kinds.map((k) => [MAPPING_KIND_LABELS[k.kind], String(k.mappings), ...figureCells(k, exact)]),
      ],
      ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  out.push('');
  out.push(c.bold(`By mapping (by ${flags.sort}; ${shown.length} of ${groups.length})`));
  out.push(
    table(
      [
        ['KIND', 'NAME', 'MAPS', ...FIGURES],
        ...shown.map((g) => [
          MAPPING_KIND_LABELS[g.kind],
          printable(g.name === '' ? '-' : g.name),
          String(g.mappings),
          ...figureCells(g, exact),
        ]),
      ],
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  process.stdout.write(`${out.join('\n')}\n`);
}
