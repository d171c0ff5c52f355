// The common definitions of "used" memory, side by side, each with its formula and the tool
// that uses it. They differ mainly in where Shmem (tmpfs) and reclaimable slab go.
import type { Bytes } from '../base/units.js';
import { meminfoBytes, type Meminfo } from '../parsers/proc/meminfo.js';
import type { AvailableEstimate } from './available.js';

export interface UsedDefinition {
  key: string;
  label: string;
  /** Who computes "used" this way. */
  usedBy: string;
  formula: string;
  bytes: Bytes;
}

/**
 * `available`: the estimate for a kernel without MemAvailable (before 3.14); without one, the
 * "not available" definition is left out (n/a), never computed from a 0.
 */
export function usedDefinitions(mi: Meminfo, available?: AvailableEstimate): UsedDefinition[] {
  const b = (k: string): number => meminfoBytes(mi, k);
  const total = b('MemTotal');
  const free = b('MemFree');
  const out: UsedDefinition[] = [];
  if (mi.sizes.has('MemAvailable')) {
    out.push({
      key: 'not_available',
      label: 'not available',
      usedBy: 'procps-ng free(1) and top(1) (library/meminfo.c), btop, Glances percent',
      formula: 'MemTotal − MemAvailable',
      bytes: (total - b('MemAvailable')) as Bytes,
    });
  } else if (available?.ok === true) {
    out.push({
      key: 'not_available',
      label: 'not available (MemAvailable estimated)',
      usedBy: 'procps-ng free(1) and top(1) (library/meminfo.c), btop, Glances percent',
      formula: `MemTotal − MemAvailable, MemAvailable estimated as si_mem_available() does (MemFree, Active(file), Inactive(file), ${available.reclaimableCounter}, /proc/zoneinfo watermarks)`,
      bytes: (total - available.bytes) as Bytes,
    });
  }
  out.push({
    key: 'htop',
    label: 'htop "used"',
    usedBy: 'htop (linux/LinuxMachine.c); Shmem is then drawn apart as "shared"',
    formula: 'MemTotal − MemFree − Buffers − Cached − SReclaimable',
    bytes: (total - free - b('Buffers') - b('Cached') - b('SReclaimable')) as Bytes,
  });
  out.push({
    key: 'htop_with_shared',
    label: 'htop "used" + "shared"',
    usedBy: 'htop bar without its cache segments: what is neither free nor reclaimable cache',
    formula: 'MemTotal − MemFree − Buffers − Cached − SReclaimable + Shmem',
    bytes: (total - free - b('Buffers') - b('Cached') - b('SReclaimable') + b('Shmem')) as Bytes,
  });
  out.push({
    key: 'not_free',
    label: 'not free',
    usedBy: 'everything the kernel handed out, caches included',
    formula: 'MemTotal − MemFree',
    bytes: (total - free) as Bytes,
  });
  return out;
}
