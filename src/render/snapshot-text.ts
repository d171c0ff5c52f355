// Human and CSV renderings of a snapshot: the ledger as a tree, the "used" definitions, the
// reconciliation, and the top processes or groups.
import type { LedgerItem, Ledger } from '../analyses/ledger.js';
import type { ProcessGroup, GroupBy } from '../analyses/process-groups.js';
import type { ProcessMemory } from '../analyses/processes.js';
import type { Snapshot } from '../analyses/snapshot.js';
import { printable } from '../base/terminal-text.js';
import { csvLine, sizeText, table, type Palette } from './text.js';

function percent(part: number, total: number): string {
  if (total === 0) return '';
  return `${((part / total) * 100).toFixed(1)}%`;
}

export function renderLedger(ledger: Ledger, exact: boolean | undefined, c: Palette): string {
  const rows: string[][] = [];
  const walk = (items: readonly LedgerItem[], prefix: string, top: boolean): void => {
    items.forEach((item, i) => {
      const last = i === items.length - 1;
      const branch = top ? '' : last ? '└─ ' : '├─ ';
      let label = `${prefix}${branch}${item.label}`;
      if (item.key === 'unaccounted' && item.bytes < 0) label = c.red(`${label} (NEGATIVE: counter inconsistency)`);
      else if (top) label = c.bold(label);
      rows.push([label, sizeText(item.bytes, exact), percent(item.bytes, ledger.totalBytes), c.dim(item.formula)]);
      const childPrefix = top ? '  ' : prefix + (last ? '   ' : '│  ');
      // "Of which" figures first: they describe this item, not its last child.
      const bar = item.items ? '│  ' : '   ';
      for (const d of item.details ?? []) {
        rows.push([
          c.dim(`${childPrefix}${bar}(of which ${d.label})`),
          c.dim(sizeText(d.bytes, exact)),
          '',
          c.dim(d.counters.join(', ')),
        ]);
      }
      if (item.items) walk(item.items, childPrefix, false);
    });
  };
  walk(ledger.items, '', true);
  rows.push([c.bold('MemTotal'), sizeText(ledger.totalBytes, exact), '100.0%', c.dim('MemTotal')]);
  // A 32-bit kernel with high memory: the zone split of MemTotal, across the parts above.
  const h = ledger.highmem;
  if (h) {
    for (const [label, bytes, counter] of [
      ['low memory (always mapped by the kernel)', h.lowTotalBytes, 'LowTotal'],
      ['high memory (32-bit: mapped on demand)', h.highTotalBytes, 'HighTotal'],
    ] as const)
      rows.push([
        c.dim(`   (of which ${label})`),
        c.dim(sizeText(bytes, exact)),
        c.dim(percent(bytes, ledger.totalBytes)),
        c.dim(counter),
      ]);
  }
  return table([['', 'size', 'share', 'from /proc/meminfo'], ...rows], ['left', 'right', 'right', 'left']);
}

function processRow(p: ProcessMemory, exact: boolean | undefined): string[] {
  const cmd = p.cmdline === null ? `[${p.name}]` : p.cmdline.length === 0 ? `[${p.name}]` : p.cmdline.join(' ');
  const shown = cmd.length > 80 ? `${cmd.slice(0, 79)}…` : cmd;
  return [
    String(p.pid),
    printable(p.user ?? String(p.uid)),
    sizeText(p.pssBytes, exact),
    sizeText(p.ussBytes, exact),
    sizeText(p.rssBytes, exact),
    sizeText(p.swapBytes, exact),
    printable(shown),
  ];
}

export function renderProcesses(ps: readonly ProcessMemory[], exact: boolean | undefined): string {
  return table(
    [['PID', 'USER', 'PSS', 'USS', 'RSS', 'SWAP', 'COMMAND'], ...ps.map((p) => processRow(p, exact))],
    ['right', 'left', 'right', 'right', 'right', 'right', 'left'],
  );
}

export function renderGroups(gs: readonly ProcessGroup[], by: GroupBy, exact: boolean | undefined): string {
  const head = by === 'program' ? 'PROGRAM' : by === 'user' ? 'USER' : 'CGROUP';
  return table(
    [
      [head, 'PROCS', 'PSS', 'USS', 'RSS (Σ, overcounts)', 'SWAP'],
      ...gs.map((g) => [
        printable(by === 'cgroup' ? g.key : g.label) + (g.pssUnknown > 0 ? ` (${g.pssUnknown} n/a)` : ''),
        String(g.pids.length),
        sizeText(g.pssBytes, exact),
        sizeText(g.ussBytes, exact),
        sizeText(g.rssBytes, exact),
        sizeText(g.swapBytes, exact),
      ]),
    ],
    ['left', 'right', 'right', 'right', 'right', 'right'],
  );
}

export function renderSnapshot(
  s: Snapshot,
  view: {
    processes?: readonly ProcessMemory[];
    groups?: { by: GroupBy; items: readonly ProcessGroup[] };
    totalRows: number;
    sort: string;
  },
  exact: boolean | undefined,
  c: Palette,
): string {
  const out: string[] = [];
  out.push(c.bold(`memlens snapshot of ${s.host} at ${s.time.toISOString()} (${s.source})`));
  out.push('');
  out.push(c.bold('Where MemTotal goes (non-overlapping; the parts add up exactly)'));
  out.push(renderLedger(s.ledger, exact, c));
  for (const n of s.ledger.notes) out.push(c.yellow(`note: ${n}`));
  if (!s.slabinfoRead) out.push(c.dim('(largest slab caches: /proc/slabinfo is readable by root only)'));
  if (s.fallbacks.length > 0) {
    out.push('');
    out.push(c.bold('Older kernel: what it does not print, and what is shown instead'));
    for (const f of s.fallbacks)
      out.push(`${c.yellow(f.key)}: ${f.reason}; ${f.estimated ? 'instead: ' : ''}${f.fallback}`);
  }
  out.push('');
  out.push(c.bold('"Used" memory by definition'));
  out.push(
    table(
      [
        ['definition', 'size', 'formula', 'used by'],
        ...s.used.map((u) => [u.label, sizeText(u.bytes, exact), u.formula, c.dim(u.usedBy)]),
      ],
      ['left', 'right', 'left', 'left'],
    ),
  );
  if (s.reconciliation) {
    out.push('');
    out.push(c.bold('Processes against the system counters'));
    out.push(
      table(
        [
          ['', 'system', 'formula', 'processes', 'formula', 'not in processes'],
          ...s.reconciliation.rows.map((r) => [
            r.label,
            sizeText(r.systemBytes, exact),
            c.dim(r.systemFormula),
            sizeText(r.processBytes, exact),
            c.dim(r.processFormula),
            sizeText(r.unattributedBytes, exact),
          ]),
        ],
        ['left', 'right', 'left', 'right', 'left', 'right'],
      ),
    );
    const why = new Map<string, string[]>();
    for (const r of s.reconciliation.rows)
      if (r.unavailable !== undefined) why.set(r.unavailable, [...(why.get(r.unavailable) ?? []), r.label]);
    for (const [reason, labels] of why) out.push(c.dim(`(${labels.join(', ')}: processes n/a: ${reason})`));
  }
  if (view.groups) {
    out.push('');
    out.push(
      c.bold(
        `Processes grouped by ${view.groups.by} (Σ PSS counts shared pages once; by ${view.sort}; ${view.groups.items.length} of ${view.totalRows})`,
      ),
    );
    out.push(renderGroups(view.groups.items, view.groups.by, exact));
  } else if (view.processes) {
    out.push('');
    out.push(
      c.bold(`Processes (by ${view.sort}; ${view.processes.length} of ${view.totalRows}; kernel threads left out)`),
    );
    out.push(renderProcesses(view.processes, exact));
  }
  return `${out.join('\n')}\n`;
}

const PROCESS_CSV_HEADER = [
  'pid',
  'ppid',
  'name',
  'user',
  'uid',
  'program',
  'cgroup',
  'threads',
  'rss',
  'pss',
  'uss',
  'swap',
  'swap_pss',
  'pss_anon',
  'pss_file',
  'pss_shmem',
  'vm_size',
  'cmdline',
];

export function processesCsv(ps: readonly ProcessMemory[]): string {
  const lines = [csvLine(PROCESS_CSV_HEADER)];
  for (const p of ps) {
    lines.push(
      csvLine([
        p.pid,
        p.ppid,
        p.name,
        p.user,
        p.uid,
        p.program,
        p.cgroup,
        p.threads,
        p.rssBytes,
        p.pssBytes,
        p.ussBytes,
        p.swapBytes,
        p.swapPssBytes,
        p.pssAnonBytes,
        p.pssFileBytes,
        p.pssShmemBytes,
        p.vmSizeBytes,
        p.cmdline === null ? null : p.cmdline.join(' '),
      ]),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function groupsCsv(gs: readonly ProcessGroup[], by: GroupBy): string {
  const lines = [csvLine([by, 'label', 'processes', 'pss', 'uss', 'rss', 'swap', 'swap_pss', 'pss_unknown'])];
  for (const g of gs)
    lines.push(
      csvLine([
        g.key,
        g.label,
        g.pids.length,
        g.pssBytes,
        g.ussBytes,
        g.rssBytes,
        g.swapBytes,
        g.swapPssBytes,
        g.pssUnknown,
      ]),
    );
  return `${lines.join('\n')}\n`;
}

/** The one stderr line about processes that could not be read completely, or undefined. */
export function partlyReadWarning(s: Snapshot): string | undefined {
  const st = s.stats;
  if (st.partlyRead === 0 && st.vanished === 0) return undefined;
  const parts: string[] = [];
  if (st.partlyRead > 0) {
    const reasons = Object.entries(st.partlyReadReasons)
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r} ×${n}`)
      .join(', ');
    parts.push(
      `${st.partlyRead} of ${st.collected} processes partly read (${reasons}): their missing figures show as n/a${s.source.startsWith('live') && process.getuid?.() !== 0 ? '; run as root to read them all' : ''}`,
    );
  }
  if (st.vanished > 0) parts.push(`${st.vanished} exited while being read and were skipped`);
  return `memlens: warning: ${parts.join('; ')}`;
}
