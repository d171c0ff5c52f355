// One snapshot of the whole system: the ledger of MemTotal, the "used" definitions, every
// process, and the reconciliation between the two views. Works the same on a live /proc and
// on a captured archive (both are a ProcSource).
import { gunzipSync } from 'node:zlib';
import { UserError } from '../base/errors.js';
import { parseMeminfo, type Meminfo } from '../parsers/proc/meminfo.js';
import { parseSlabinfo, type SlabCache } from '../parsers/proc/slabinfo.js';
import { parseZoneinfo, type Zone } from '../parsers/proc/zoneinfo.js';
import type { ProcSource } from '../sources/proc-source.js';
import { estimateMemAvailable, type AvailableEstimate } from './available.js';
import { buildLedger, vmapStackFromConfig, type Ledger } from './ledger.js';
import { collectProcesses, type CollectOptions, type CollectStats, type ProcessMemory } from './processes.js';
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
}

async function readMeminfo(source: ProcSource): Promise<Meminfo> {
  const r = await source.readText('meminfo');
  if (!r.ok) throw new UserError(`cannot read meminfo from ${source.description}: ${r.reason === 'permission' ? 'permission denied' : 'not found'}`);
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

async function readVmapStack(source: ProcSource): Promise<boolean | undefined> {
  const r = await source.readBytes('config.gz');
  if (!r.ok) return undefined;
  try {
    return vmapStackFromConfig(gunzipSync(r.value).toString('latin1'));
  } catch {
    return undefined; // not gzip: treat as unknown, the ledger then decides from the counters
  }
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
      ? { processes: [], stats: { listed: 0, collected: 0, vanished: 0, kernelThreadsSkipped: 0, partlyRead: 0, partlyReadReasons: {} } }
      : await collectProcesses(source, options);
  // zoneinfo only matters to estimate MemAvailable, on kernels that do not print it.
  const availableEstimate = meminfo.sizes.has('MemAvailable') ? undefined : estimateMemAvailable(meminfo, await readZones(source), pageSize);
  const ledger = buildLedger(meminfo, {
    pageSize,
    ...(slabCaches ? { slabCaches } : {}),
    ...(vmapStack === undefined ? {} : { vmapStack }),
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
  };
}
