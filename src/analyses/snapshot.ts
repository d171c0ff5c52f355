// One snapshot of the whole system: the ledger of MemTotal, the "used" definitions, every
// process, and the reconciliation between the two views. Works the same on a live /proc and
// on a captured archive (both are a ProcSource).
import { gunzipSync } from 'node:zlib';
import { UserError } from '../base/errors.js';
import { parseMeminfo, type Meminfo } from '../parsers/proc/meminfo.js';
import { parseSlabinfo, type SlabCache } from '../parsers/proc/slabinfo.js';
import { parseZoneinfo, type Zone } from '../parsers/proc/zoneinfo.js';
import type { ProcSource } from '../sources/proc-source.js';
import type { CollectStats } from '../wire/snapshot.js';
import { estimateMemAvailable, type AvailableEstimate } from './available.js';
import { kernelFallbacks, type KernelFallback } from './kernel-fallbacks.js';
import { buildLedger, vmapStackFromConfig, type Ledger } from './ledger.js';
import { collectProcesses, type CollectOptions, type ProcessMemory } from './processes.js';
import { reconcile, type Reconciliation } from './reconciliation.js';
import { usedDefinitions, type UsedDefinition } from './used-memory.js';

export interface SnapshotOptions extends CollectOptions {
  /** Read processes (default true). The ledger alone needs only meminfo. */
  processes?: boolean;
  topSlabCaches?: number;
}

export interface Snapshot {
  time: Date;
  host: string;
  /** "live /proc" or the archive's description. */
  source: string;
  pageSize: number;
  meminfo: Meminfo;
  ledger: Ledger;
  used: UsedDefinition[];
  /** Present when processes were read. */
  reconciliation: Reconciliation | undefined;
  processes: ProcessMemory[];
  stats: CollectStats;
  /** Whether /proc/slabinfo could be read (root only). */
  slabinfoRead: boolean;
  /** The MemAvailable estimate, made only when meminfo has no MemAvailable (before 3.14). */
  availableEstimate: AvailableEstimate | undefined;
  /** What this kernel does not print and what is shown instead ([] on a current kernel). */
  fallbacks: KernelFallback[];
}

async function readMeminfo(source: ProcSource): Promise<Meminfo> {
  const r = await source.readText('meminfo');
  if (!r.ok)
    throw new UserError(
      `cannot read meminfo from ${source.description}: ${r.reason === 'permission' ? 'permission denied' : 'not found'}`,
    );
  const mi = parseMeminfo(r.value, 'meminfo');
  if (!mi) throw new UserError(`meminfo of ${source.description} is not /proc/meminfo`);
  return mi;
}

async function readSlabCaches(source: ProcSource): Promise<SlabCache[] | undefined> {
  const r = await source.readText('slabinfo');
  return r.ok ? parseSlabinfo(r.value, 'slabinfo') : undefined;
}

async function readZones(source: ProcSource): Promise<Zone[] | undefined> {
  const r = await source.readText('zoneinfo');
  return r.ok ? parseZoneinfo(r.value, 'zoneinfo') : undefined;
}

/** The kernel's "major.minor" from sys/kernel/osrelease (live, and captured by scripts/capture.sh). */
async function readKernelVersion(source: ProcSource): Promise<[number, number] | undefined> {
  const r = await source.readText('sys/kernel/osrelease');
  const m = r.ok ? /^(\d+)\.(\d+)/.exec(r.value) : null;
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

async function readVmapStack(
  source: ProcSource,
): Promise<{ value: boolean; source: 'kernel config' | 'kernel version' } | undefined> {
  const r = await source.readBytes('config.gz');
  if (r.ok) {
    try {
      const value = vmapStackFromConfig(gunzipSync(r.value).toString('latin1'));
      if (value !== undefined) return { value, source: 'kernel config' };
    } catch {
      // not gzip: unknown, as without the file
    }
  }
  // Before 4.9 there is no CONFIG_VMAP_STACK: stacks are never vmalloc-ed, whatever the counters
  // suggest. Otherwise the ledger decides from the counters.
  const v = await readKernelVersion(source);
  if (v !== undefined && (v[0] < 4 || (v[0] === 4 && v[1] < 9))) return { value: false, source: 'kernel version' };
  return undefined;
}

export async function collectSnapshot(source: ProcSource, options: SnapshotOptions = {}): Promise<Snapshot> {
  const time = source.time();
  const [meminfo, slabCaches, vmapStack, host, pageSize] = await Promise.all([
    readMeminfo(source),
    readSlabCaches(source),
    readVmapStack(source),
    source.hostname(),
    source.pageSize(),
  ]);
  const collected =
    options.processes === false
      ? {
          processes: [],
          stats: {
            listed: 0,
            collected: 0,
            vanished: 0,
            kernelThreadsSkipped: 0,
            partlyRead: 0,
            partlyReadReasons: {},
          },
        }
      : await collectProcesses(source, options);
  // zoneinfo only matters to estimate MemAvailable, on kernels that do not print it.
  const availableEstimate = meminfo.sizes.has('MemAvailable')
    ? undefined
    : estimateMemAvailable(meminfo, await readZones(source), pageSize);
  const ledger = buildLedger(meminfo, {
    pageSize,
    ...(slabCaches ? { slabCaches } : {}),
    ...(vmapStack === undefined ? {} : { vmapStack: vmapStack.value, vmapStackSource: vmapStack.source }),
    ...(options.topSlabCaches === undefined ? {} : { topSlabCaches: options.topSlabCaches }),
  });
  return {
    time,
    host,
    source: source.description,
    pageSize,
    meminfo,
    ledger,
    used: usedDefinitions(meminfo, availableEstimate),
    reconciliation: options.processes === false ? undefined : reconcile(meminfo, collected.processes),
    processes: collected.processes,
    stats: collected.stats,
    slabinfoRead: slabCaches !== undefined,
    availableEstimate,
    fallbacks: kernelFallbacks(
      meminfo,
      ledger,
      availableEstimate,
      options.processes === false ? undefined : collected.processes,
    ),
  };
}
