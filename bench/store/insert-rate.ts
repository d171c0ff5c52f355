// Store insert rate: memlens's batched, transactional writes against the peers' design (one
// autocommitted INSERT per event, as every implementation listed in the research notes does),
// side by side in one run, into SQLite (a temporary file) and MariaDB (the server at 127.0.0.1:3306,
// database memlens_bench_store, created and dropped here).
//
//   npm run build && node dist/bench/store/insert-rate.js [events=200000]
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { SeededRandom } from '../../src/base/random.js';
import { BufferedWriter, WorkerWriter, openStore, type EventStore } from '../../src/store/index.js';
import { eventToRow } from '../../src/store/rows.js';
import { createEventsTable, type AnyDb } from '../../src/store/schema.js';
import type { MemEvent } from '../../src/wire/events.js';

const CALLS = ['mmap', 'munmap', 'brk', 'mremap'] as const;

function makeEvents(n: number): MemEvent[] {
  const rng = new SeededRandom(1);
  const out: MemEvent[] = [];
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const pid = rng.int(1, 400);
    const call = CALLS[rng.int(0, 3)] ?? 'mmap';
    const failed = rng.next() < 0.05;
    out.push({
      timeMs: t0 + i / 100,
      ktimeNs: 1_000_000_000_000n + BigInt(i) * 1000n,
      host: 'bench',
      pid,
      tid: pid + rng.int(0, 3),
      name: `proc-${pid}`,
      thread: `thread-${rng.int(0, 3)}`,
      call,
      addr: 0x7f00_0000_0000n + BigInt(rng.int(0, 1 << 20)) * 4096n,
      lengthBytes: BigInt(rng.int(1, 256)) * 4096n,
      prot: call === 'mmap' ? 3 : null,
      flags: call === 'mmap' ? 0x22 : null,
      fd: call === 'mmap' ? -1 : null,
      result: failed ? -12n : 0x7f00_0000_0000n + BigInt(i) * 4096n,
      error: failed ? 'ENOMEM' : null,
      newLengthBytes: call === 'mremap' ? 8192n : null,
      newAddr: null,
    });
  }
  return out;
}

interface Timing {
  seconds: number;
  /** CPU seconds of this process (for SQLite: all the work). */
  cpuSeconds: number;
  /** CPU seconds of this process's main thread: what the tracer's own thread would spend. */
  mainThreadCpuSeconds: number;
  /** CPU seconds of the MariaDB server during the run, when there is one. */
  serverCpuSeconds: number | undefined;
}

/** The shared MariaDB server: the mariadbd started without --port (so on 3306). */
function serverPid(): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('mariadbd') === true && !cmd.some((a) => a.startsWith('--port='))) return Number(d);
    } catch {
      // gone
    }
  }
  return undefined;
}

/** utime + stime of a process in seconds (proc(5): fields 14 and 15, in clock ticks of 1/100 s). */
function processCpuSeconds(pid: number, path = `/proc/${pid}/stat`): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function timed(what: () => Promise<void>, server: number | undefined): Promise<Timing> {
  const s0 = server === undefined ? 0 : processCpuSeconds(server);
  const mainStat = `/proc/self/task/${process.pid}/stat`;
  const m0 = processCpuSeconds(0, mainStat);
  const c0 = process.cpuUsage();
  const t = process.hrtime.bigint();
  await what();
  const c = process.cpuUsage(c0);
  return {
    mainThreadCpuSeconds: processCpuSeconds(0, mainStat) - m0,
    seconds: Number(process.hrtime.bigint() - t) / 1e9,
    cpuSeconds: (c.user + c.system) / 1e6,
    serverCpuSeconds: server === undefined ? undefined : processCpuSeconds(server) - s0,
  };
}

/**
 * The peers' way: each event its own INSERT statement and its own (auto)commit; no totals. Into
 * the one-row-per-call events table of schema versions 1 to 5, made here beside the store's tables.
 */
async function onePerEvent(store: EventStore, events: readonly MemEvent[]): Promise<void> {
  const db = store.db as unknown as AnyDb;
  for (const e of events) await db.insertInto('events').values(eventToRow(e)).execute();
}

async function mysqlAdmin(statement: string): Promise<void> {
  const c = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  await c.query(statement);
  await c.end();
}

interface Row extends Timing {
  backend: string;
  method: string;
  events: number;
}

async function run(
  backend: string,
  url: string,
  events: readonly MemEvent[],
  peerEvents: number,
  rows: Row[],
  server: number | undefined,
): Promise<void> {
  {
    const store = await openStore(url);
    const t = await timed(async () => {
      for (let i = 0; i < events.length; i += 5000) await store.appendEvents(events.slice(i, i + 5000));
    }, server);
    rows.push({
      backend,
      method: 'memlens appendEvents, 5,000 events per transaction (with totals)',
      events: events.length,
      ...t,
    });
    await store.close();
  }
  {
    const store = await openStore(url);
    const spillDir = mkdtempSync(join(tmpdir(), 'memlens-bench-spill-'));
    const writer = new BufferedWriter(store, { spillDir });
    const t = await timed(async () => {
      // 1,000 events per turn of the event loop, as fast as the writer takes them: beyond its
      // memory bound (100,000 events) it spills, as it would under a tracer that outruns it.
      for (let i = 0; i < events.length; i += 1000) {
        writer.write(events.slice(i, i + 1000));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writer.flush();
    }, server);
    const spilled = writer.stats().spilledBatches;
    await writer.close();
    rmSync(spillDir, { recursive: true, force: true });
    rows.push({
      backend,
      method: `memlens BufferedWriter (what the dashboard's tracer uses; ${spilled} batches spilled)`,
      events: events.length,
      ...t,
    });
    await store.close();
  }
  {
    const spillDir = mkdtempSync(join(tmpdir(), 'memlens-bench-spill-'));
    const writer = await WorkerWriter.open(url, { spillDir });
    const t = await timed(async () => {
      for (let i = 0; i < events.length; i += 1000) {
        writer.write(events.slice(i, i + 1000));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writer.flush();
    }, server);
    const spilled = (await writer.stats()).spilledBatches;
    await writer.close();
    rmSync(spillDir, { recursive: true, force: true });
    rows.push({
      backend,
      method: `memlens WorkerWriter (the same in a worker thread, binary hand-over: what memlens trace uses; ${spilled} batches spilled)`,
      events: events.length,
      ...t,
    });
  }
  {
    const store = await openStore(url);
    const part = events.slice(0, peerEvents);
    await createEventsTable(store.db, store.dialect);
    const t = await timed(() => onePerEvent(store, part), server);
    rows.push({ backend, method: 'peers: one autocommitted INSERT per event', events: part.length, ...t });
    await store.close();
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200_000);
  const events = makeEvents(n);
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-'));
  try {
    await run(
      'SQLite (WAL, synchronous=NORMAL)',
      join(dir, 'events.sqlite'),
      events,
      Math.min(n, 20_000),
      rows,
      undefined,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await mysqlAdmin('DROP DATABASE IF EXISTS memlens_bench_store');
  try {
    await run(
      'MariaDB 127.0.0.1:3306',
      'mysql://root@127.0.0.1:3306/memlens_bench_store',
      events,
      Math.min(n, 5_000),
      rows,
      serverPid(),
    );
  } finally {
    await mysqlAdmin('DROP DATABASE IF EXISTS memlens_bench_store');
  }
  const rate = (n: number, s: number): string => Math.round(n / s).toLocaleString('en');
  process.stdout.write(
    `load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n\n`,
  );
  process.stdout.write(
    '| database | method | events | wall s | events/s (wall) | memlens CPU s | of which main thread | server CPU s | events per CPU-second (memlens + server) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n',
  );
  for (const r of rows) {
    const cpu = r.cpuSeconds + (r.serverCpuSeconds ?? 0);
    process.stdout.write(
      `| ${r.backend} | ${r.method} | ${r.events.toLocaleString('en')} | ${r.seconds.toFixed(2)} | ${rate(r.events, r.seconds)} | ${r.cpuSeconds.toFixed(2)} | ${r.mainThreadCpuSeconds.toFixed(2)} | ${r.serverCpuSeconds === undefined ? '–' : r.serverCpuSeconds.toFixed(2)} | ${rate(r.events, cpu)} |\n`,
    );
  }
}

await main();
