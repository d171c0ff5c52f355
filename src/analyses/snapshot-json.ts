// Builds the --json documents of `memlens snapshot` and `memlens process` (src/wire/snapshot.ts,
// schema 1) from the analyses' results: the wire holds the types, this holds the conversion.
import type {
  GroupJson,
  LedgerDetailJson,
  LedgerItemJson,
  MappingTotalsJson,
  ProcessJson,
  ProcessMappingsJson,
  SnapshotJson,
  VmaJson,
} from '../wire/snapshot.js';
import { SNAPSHOT_SCHEMA } from '../wire/snapshot.js';
import type { Snapshot } from './snapshot.js';
import type { LedgerDetail, LedgerItem } from './ledger.js';
import type { ProcessGroup, GroupBy } from './process-groups.js';
import type { ProcessMemory } from './processes.js';
import { addressSpaceBits, classifyMapping, type MappingTotals, type ProcessMappings } from './mappings.js';

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
  return {
    key: g.key,
    label: g.label,
    pids: g.pids,
    pss: g.pssBytes,
    uss: g.ussBytes,
    rss: g.rssBytes,
    swap: g.swapBytes,
    swapPss: g.swapPssBytes,
    pssUnknown: g.pssUnknown,
  };
}

export function snapshotJson(
  s: Snapshot,
  processes: readonly ProcessMemory[],
  groups?: { by: GroupBy; items: readonly ProcessGroup[] },
): SnapshotJson {
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
      unavailable: s.ledger.unavailable.map((g) => ({ key: g.key, label: g.label, reason: g.reason })),
      ...(s.ledger.highmem
        ? {
            highmem: {
              highTotal: s.ledger.highmem.highTotalBytes,
              highFree: s.ledger.highmem.highFreeBytes,
              lowTotal: s.ledger.highmem.lowTotalBytes,
              lowFree: s.ledger.highmem.lowFreeBytes,
            },
          }
        : {}),
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
            ...(r.unavailable === undefined ? {} : { unavailable: r.unavailable }),
          })),
          processesUnknown: s.reconciliation.processesUnknown,
        }
      : null,
    processes: processes.map(processJson),
    stats: s.stats,
    meminfo: Object.fromEntries(s.meminfo.sizes),
    fallbacks: s.fallbacks.map((f) => ({ key: f.key, reason: f.reason, fallback: f.fallback, estimated: f.estimated })),
  };
  if (groups) out.groups = { by: groups.by, items: groups.items.map(groupJson) };
  return out;
}

function totalsJson(t: MappingTotals): MappingTotalsJson {
  return {
    size: t.sizeBytes,
    rss: t.rssBytes,
    pss: t.pssBytes,
    uss: t.ussBytes,
    swap: t.swapBytes,
    swapPss: t.swapPssBytes,
  };
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
    addressBits: addressSpaceBits(m.vmas) ?? null,
    kinds: kinds.map((k) => ({ kind: k.kind, mappings: k.mappings, ...totalsJson(k) })),
    groups: groups.map((g) => ({ kind: g.kind, name: g.name, mappings: g.mappings, ...totalsJson(g) })),
  };
  if (withVmas) out.vmas = m.vmas.map(vmaJson);
  return out;
}
