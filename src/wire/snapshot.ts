// The --json output of `memlens snapshot` and `memlens process`, schema 1. This is a contract
// that scripts and the dashboard rely on: fields are only ever added, never renamed or
// removed, without a new schema number. All sizes are bytes (integers) or null when
// unreadable ("n/a"), never 0 for unknown. The top-level ledger items add up to ledger.total
// exactly; exactly one of them has the key "unaccounted" (negative when counters disagree).
import type { Snapshot } from '../analyses/snapshot.js';
import type { LedgerDetail, LedgerItem } from '../analyses/ledger.js';
import type { ProcessGroup, GroupBy } from '../analyses/process-groups.js';
import type { ProcessMemory } from '../analyses/processes.js';
import { classifyMapping, type MappingKind, type MappingTotals, type ProcessMappings } from '../analyses/mappings.js';

export const SNAPSHOT_SCHEMA = 1;

export interface LedgerDetailJson {
  key: string;
  label: string;
  bytes: number;
  counters: string[];
}

export interface LedgerItemJson {
  key: string;
  label: string;
  bytes: number;
  /** The /proc/meminfo (or slabinfo) counters the figure comes from. */
  counters: string[];
  formula: string;
  /** Children; they add up to bytes exactly. */
  items?: LedgerItemJson[];
  /** "Of which" figures; may overlap; not added. */
  details?: LedgerDetailJson[];
  note?: string;
}

export interface ProcessJson {
  pid: number;
  ppid: number;
  name: string;
  user: string | null;
  uid: number;
  program: string;
  /** Arguments joined by spaces; null when unreadable. */
  cmdline: string | null;
  cgroup: string | null;
  threads: number | null;
  rss: number | null;
  pss: number | null;
  uss: number | null;
  swap: number | null;
  swapPss: number | null;
  pssAnon: number | null;
  pssFile: number | null;
  pssShmem: number | null;
  vmSize: number | null;
  rssAnon: number | null;
  rssFile: number | null;
  rssShmem: number | null;
  /** Hugetlb pages mapped (Private_Hugetlb + Shared_Hugetlb); not part of rss/pss. */
  hugetlb: number | null;
  /** Why some figures are null ([] when all were read). */
  unread: string[];
}

export interface GroupJson {
  key: string;
  label: string;
  pids: number[];
  pss: number | null;
  uss: number | null;
  rss: number | null;
  swap: number | null;
  swapPss: number | null;
  pssUnknown: number;
}

export interface SnapshotJson {
  schema: typeof SNAPSHOT_SCHEMA;
  /** ISO-8601 time the data describes. */
  time: string;
  host: string;
  source: string;
  pageSize: number;
  ledger: {
    total: number;
    items: LedgerItemJson[];
    unaccounted: number;
    inconsistent: boolean;
    vmapStack: { value: boolean; source: string };
    notes: string[];
  };
  used: { key: string; label: string; usedBy: string; formula: string; bytes: number }[];
  reconciliation: {
    rows: { key: string; label: string; systemFormula: string; system: number; processFormula: string; processes: number; unattributed: number; note: string }[];
    processesUnknown: number;
  } | null;
  processes: ProcessJson[];
  /** Present with --group-by program|user|cgroup. */
  groups?: { by: GroupBy; items: GroupJson[] };
  stats: { listed: number; collected: number; vanished: number; kernelThreadsSkipped: number; partlyRead: number; partlyReadReasons: Record<string, number> };
  /** Every /proc/meminfo size field, in bytes. */
  meminfo: Record<string, number>;
}

function detailJson(d: LedgerDetail): LedgerDetailJson {
  return { key: d.key, label: d.label, bytes: d.bytes, counters: d.counters };
}

export function ledgerItemJson(i: LedgerItem): LedgerItemJson {
  const out: LedgerItemJson = { key: i.key, label: i.label, bytes: i.bytes, counters: i.counters, formula: i.formula };
  if (i.items) out.items = i.items.map(ledgerItemJson);
  if (i.details && i.details.length > 0) out.details = i.details.map(detailJson);
  if (i.note !== undefined) out.note = i.note;
  return out;
}

export function processJson(p: ProcessMemory): ProcessJson {
  return {
    pid: p.pid,
    ppid: p.ppid,
    name: p.name,
    user: p.user,
    uid: p.uid,
    program: p.program,
    cmdline: p.cmdline === null ? null : p.cmdline.join(' '),
    cgroup: p.cgroup,
    threads: p.threads,
    rss: p.rssBytes,
    pss: p.pssBytes,
    uss: p.ussBytes,
    swap: p.swapBytes,
    swapPss: p.swapPssBytes,
    pssAnon: p.pssAnonBytes,
    pssFile: p.pssFileBytes,
    pssShmem: p.pssShmemBytes,
    vmSize: p.vmSizeBytes,
    rssAnon: p.rssAnonBytes,
    rssFile: p.rssFileBytes,
    rssShmem: p.rssShmemBytes,
    hugetlb: p.hugetlbBytes,
    unread: p.unread,
  };
}

export function groupJson(g: ProcessGroup): GroupJson {
  return { key: g.key, label: g.label, pids: g.pids, pss: g.pssBytes, uss: g.ussBytes, rss: g.rssBytes, swap: g.swapBytes, swapPss: g.swapPssBytes, pssUnknown: g.pssUnknown };
}

export function snapshotJson(s: Snapshot, processes: readonly ProcessMemory[], groups?: { by: GroupBy; items: readonly ProcessGroup[] }): SnapshotJson {
  const out: SnapshotJson = {
    schema: SNAPSHOT_SCHEMA,
    time: s.time.toISOString(),
    host: s.host,
    source: s.source,
    pageSize: s.pageSize,
    ledger: {
      total: s.ledger.totalBytes,
      items: s.ledger.items.map(ledgerItemJson),
      unaccounted: s.ledger.unaccountedBytes,
      inconsistent: s.ledger.inconsistent,
      vmapStack: s.ledger.vmapStack,
      notes: s.ledger.notes,
    },
    used: s.used.map((u) => ({ key: u.key, label: u.label, usedBy: u.usedBy, formula: u.formula, bytes: u.bytes })),
    reconciliation: s.reconciliation
      ? {
          rows: s.reconciliation.rows.map((r) => ({
            key: r.key,
            label: r.label,
            systemFormula: r.systemFormula,
            system: r.systemBytes,
            processFormula: r.processFormula,
            processes: r.processBytes,
            unattributed: r.unattributedBytes,
            note: r.note,
          })),
          processesUnknown: s.reconciliation.processesUnknown,
        }
      : null,
    processes: processes.map(processJson),
    stats: s.stats,
    meminfo: Object.fromEntries(s.meminfo.sizes),
  };
  if (groups) out.groups = { by: groups.by, items: groups.items.map(groupJson) };
  return out;
}

export interface MappingTotalsJson {
  size: number;
  rss: number;
  pss: number;
  uss: number;
  swap: number;
  swapPss: number;
}

export interface ProcessMappingsJson {
  schema: typeof SNAPSHOT_SCHEMA;
  time: string;
  host: string;
  source: string;
  pid: number;
  ppid: number;
  name: string;
  cmdline: string | null;
  total: MappingTotalsJson & { mappings: number };
  kinds: (MappingTotalsJson & { kind: MappingKind; mappings: number })[];
  groups: (MappingTotalsJson & { kind: MappingKind; name: string; mappings: number })[];
  /** With --vmas: every mapping, in address order. Addresses are hex strings (64-bit). */
  vmas?: VmaJson[];
}

export interface VmaJson extends MappingTotalsJson {
  start: string;
  end: string;
  perms: string;
  kind: MappingKind;
  name: string;
}

function totalsJson(t: MappingTotals): MappingTotalsJson {
  return { size: t.sizeBytes, rss: t.rssBytes, pss: t.pssBytes, uss: t.ussBytes, swap: t.swapBytes, swapPss: t.swapPssBytes };
}

export function vmaJson(v: ProcessMappings['vmas'][number]): VmaJson {
  const cls = classifyMapping(v);
  const c = v.counters;
  return {
    start: `0x${v.start.toString(16)}`,
    end: `0x${v.end.toString(16)}`,
    perms: v.perms,
    kind: cls.kind,
    name: v.name,
    size: c.sizeBytes ?? Number(v.end - v.start),
    rss: c.rssBytes,
    pss: c.pssBytes,
    uss: c.privateCleanBytes + c.privateDirtyBytes,
    swap: c.swapBytes,
    swapPss: c.swapPssBytes ?? 0,
  };
}

export function processMappingsJson(
  m: ProcessMappings,
  meta: { time: Date; host: string; source: string },
  kinds: ProcessMappings['kinds'],
  groups: ProcessMappings['groups'],
  withVmas = false,
): ProcessMappingsJson {
  const out: ProcessMappingsJson = {
    schema: SNAPSHOT_SCHEMA,
    time: meta.time.toISOString(),
    host: meta.host,
    source: meta.source,
    pid: m.identity.pid,
    ppid: m.identity.ppid,
    name: m.identity.name,
    cmdline: m.cmdline === null ? null : m.cmdline.join(' '),
    total: { ...totalsJson(m.total), mappings: m.vmas.length },
    kinds: kinds.map((k) => ({ kind: k.kind, mappings: k.mappings, ...totalsJson(k) })),
    groups: groups.map((g) => ({ kind: g.kind, name: g.name, mappings: g.mappings, ...totalsJson(g) })),
  };
  if (withVmas) out.vmas = m.vmas.map(vmaJson);
  return out;
}
