// The mappings of one process, from /proc/PID/smaps, grouped by kind: heap, stack, anonymous,
// named anonymous ([anon:name], PR_SET_VMA_ANON_NAME), each file by path, shared memory
// (shared anonymous, [anon_shmem:name], memfd, SysV, POSIX /dev/shm), and kernel-provided
// mappings ([vdso], [vvar], [vsyscall], …). Names are those of fs/proc/task_mmu.c
// show_map_vma / get_vma_name.
import type { Bytes } from '../base/units.js';
import { parseCmdline } from '../parsers/proc/cmdline.js';
import { parseSmaps, ussBytes, type SmapsVma } from '../parsers/proc/smaps.js';
import type { VmaHeader } from '../parsers/proc/maps.js';
import type { ProcSource } from '../sources/proc-source.js';
import { readProcessIdentity, type ProcessIdentity } from './process-identity.js';

import type { MappingKind } from '../wire/snapshot-kinds.js';

export type { MappingKind };

export const MAPPING_KIND_LABELS: Record<MappingKind, string> = {
  heap: 'heap',
  stack: 'stack',
  anon: 'anonymous',
  'anon-named': 'named anonymous',
  file: 'file',
  shmem: 'shared memory',
  memfd: 'memfd',
  sysv: 'SysV shared memory',
  kernel: 'kernel-provided',
};

export interface MappingClass {
  kind: MappingKind;
  /** The name within the kind: a path, an anon name, a memfd name, or "" when none. */
  name: string;
}

const DELETED = / \(deleted\)$/;

export function classifyMapping(v: Pick<VmaHeader, 'name' | 'perms'>): MappingClass {
  const name = v.name;
  const shared = v.perms[3] === 's';
  if (name === '') return shared ? { kind: 'shmem', name: 'shared anonymous' } : { kind: 'anon', name: '' };
  if (name === '[heap]') return { kind: 'heap', name: '' };
  if (name === '[stack]' || /^\[stack:\d+\]$/.test(name)) return { kind: 'stack', name: '' };
  let m = /^\[anon:(.*)\]$/.exec(name);
  if (m) return { kind: 'anon-named', name: m[1] ?? '' };
  m = /^\[anon_shmem:(.*)\]$/.exec(name);
  if (m) return { kind: 'shmem', name: m[1] ?? '' };
  if (name.startsWith('[') && name.endsWith(']')) return { kind: 'kernel', name };
  // MAP_SHARED|MAP_ANONYMOUS is backed by an unlinked shmem file named "/dev/zero"
  // (mm/shmem.c shmem_zero_setup); a private /dev/zero mapping is plain anonymous memory.
  if (name === '/dev/zero (deleted)' || name === '/dev/zero')
    return shared ? { kind: 'shmem', name: 'shared anonymous' } : { kind: 'anon', name: '' };
  m = /^\/memfd:(.*)$/.exec(name);
  if (m) return { kind: 'memfd', name: (m[1] ?? '').replace(DELETED, '') };
  if (/^\/SYSV[0-9a-f]{8}( \(deleted\))?$/.test(name))
    return { kind: 'sysv', name: name.replace(DELETED, '').slice(1) };
  if (name.startsWith('/dev/shm/')) return { kind: 'shmem', name };
  return { kind: 'file', name };
}

export interface MappingTotals {
  sizeBytes: Bytes;
  rssBytes: Bytes;
  pssBytes: Bytes;
  ussBytes: Bytes;
  swapBytes: Bytes;
  swapPssBytes: Bytes;
}

export interface MappingGroup extends MappingTotals {
  kind: MappingKind;
  name: string;
  mappings: number;
}

function zeroTotals(): MappingTotals {
  const z = 0 as Bytes;
  return { sizeBytes: z, rssBytes: z, pssBytes: z, ussBytes: z, swapBytes: z, swapPssBytes: z };
}

function addVma(t: MappingTotals, v: SmapsVma): void {
  const c = v.counters;
  t.sizeBytes = (t.sizeBytes + (c.sizeBytes ?? Number(v.end - v.start))) as Bytes;
  t.rssBytes = (t.rssBytes + c.rssBytes) as Bytes;
  t.pssBytes = (t.pssBytes + c.pssBytes) as Bytes;
  t.ussBytes = (t.ussBytes + ussBytes(c)) as Bytes;
  t.swapBytes = (t.swapBytes + c.swapBytes) as Bytes;
  t.swapPssBytes = (t.swapPssBytes + (c.swapPssBytes ?? 0)) as Bytes;
}

/** Groups VMAs by kind and name; also returns per-kind sums and the grand total. */
export function groupMappings(vmas: readonly SmapsVma[]): {
  groups: MappingGroup[];
  kinds: (MappingTotals & { kind: MappingKind; mappings: number })[];
  total: MappingTotals;
} {
  const groups = new Map<string, MappingGroup>();
  const kinds = new Map<MappingKind, MappingTotals & { kind: MappingKind; mappings: number }>();
  const total = zeroTotals();
  for (const v of vmas) {
    const cls = classifyMapping(v);
    const key = `${cls.kind}\u0000${cls.name}`;
    let g = groups.get(key);
    if (!g) {
      g = { kind: cls.kind, name: cls.name, mappings: 0, ...zeroTotals() };
      groups.set(key, g);
    }
    g.mappings++;
    addVma(g, v);
    let k = kinds.get(cls.kind);
    if (!k) {
      k = { kind: cls.kind, mappings: 0, ...zeroTotals() };
      kinds.set(cls.kind, k);
    }
    k.mappings++;
    addVma(k, v);
    addVma(total, v);
  }
  return { groups: [...groups.values()], kinds: [...kinds.values()], total };
}

export interface ProcessMappings {
  identity: ProcessIdentity;
  cmdline: string[] | null;
  vmas: SmapsVma[];
  groups: MappingGroup[];
  kinds: (MappingTotals & { kind: MappingKind; mappings: number })[];
  total: MappingTotals;
}

/**
 * The width of a process's address space as its mappings show it: 32 when every mapping ends at or
 * below 4 GiB (a 32-bit kernel such as ARM's armmp, whose user space ends at TASK_SIZE, 3 GiB with
 * the default VMSPLIT_3G, with [vectors] at 0xffff0000; or a 32-bit program on a 64-bit kernel),
 * else 64. Undefined without mappings.
 */
export function addressSpaceBits(vmas: readonly SmapsVma[]): 32 | 64 | undefined {
  if (vmas.length === 0) return undefined;
  let highest = 0n;
  for (const v of vmas) if (v.end > highest) highest = v.end;
  return highest <= 0x1_0000_0000n ? 32 : 64;
}

/** An address in hex, padded to the width of its address space (8 digits for 32 bits, 12 for 64). */
export function addressText(a: bigint, bits: 32 | 64 | undefined): string {
  return `0x${a.toString(16).padStart(bits === 32 ? 8 : 12, '0')}`;
}

export type ProcessMappingsResult =
  { ok: true; value: ProcessMappings } | { ok: false; reason: 'missing' | 'permission' | 'kernel-thread' };

/** Reads and groups the mappings of one process. */
export async function collectProcessMappings(source: ProcSource, pid: number): Promise<ProcessMappingsResult> {
  const identity = await readProcessIdentity(source, pid);
  if (!identity) return { ok: false, reason: 'missing' };
  if (identity.kernelThread) return { ok: false, reason: 'kernel-thread' };
  const [sm, cmd] = await Promise.all([source.readText(`${pid}/smaps`), source.readBytes(`${pid}/cmdline`)]);
  if (!sm.ok) return sm;
  const vmas = parseSmaps(sm.value, `${pid}/smaps`) ?? [];
  const cmdline = cmd.ok ? parseCmdline(cmd.value) : null;
  return { ok: true, value: { identity, cmdline, vmas, ...groupMappings(vmas) } };
}
