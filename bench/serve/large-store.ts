// Benchmark of the dashboard's API over a large store (not a test; run by hand, see bench/README.md):
//   fill STORE [events] [processes]  writes `events` traced calls (default 10,000,000) of
//        `processes` processes (default 300) of the host "bench-host" into STORE (a SQLite path, or
//        a mysql:// URL) through the store's own batch writer, spread over the last 7 days;
//   query STORE [runs]  starts `memlens serve --no-trace --db STORE` and times, from a client on
//        the same machine, each request the dashboard makes when a tab opens, when the calls table
//        is filtered by pid or by name, and when it pages back one screen; `runs` times each
//        (default 40, after 3 not counted), and prints p50, p95 and the worst.
// The host is not this machine's, so the Processes tab's rows come from the store's per-process
// totals (the path a fleet's hosts take), not from the live sampler.
// usage: node dist/bench/serve/large-store.js fill /tmp/big.db && node dist/bench/serve/large-store.js query /tmp/big.db
import { performance } from 'node:perf_hooks';
import { SeededRandom } from '../../src/base/random.js';
import { openStore } from '../../src/store/index.js';
import type { MemEvent } from '../../src/wire/events.js';
import { startServe } from '../../test/web/live-serve.js';

const HOST = 'bench-host';
const DAY_MS = 86_400_000;
const BATCH = 5000;

interface SimProcess {
  pid: number;
  name: string;
}

function processes(n: number): SimProcess[] {
  // A few names shared by many processes (workers of one program), as on a real host.
  return Array.from({ length: n }, (_, i) => ({ pid: 1000 + i * 7, name: `prog-${i % 40}` }));
}

async function fill(url: string, nEvents: number, nProcesses: number): Promise<void> {
  const store = await openStore(url);
  const rnd = new SeededRandom(11);
  const procs = processes(nProcesses);
  const end = Date.now();
  const start = end - 7 * DAY_MS;
  const t0 = performance.now();
  for (let i = 0; i < nEvents; i += BATCH) {
    const batch: MemEvent[] = [];
    for (let j = i; j < Math.min(nEvents, i + BATCH); j++) {
      // Busy processes make most calls: the pid is drawn from a skewed distribution.
      const p = procs[Math.floor(procs.length * rnd.next() ** 2)] as SimProcess;
      const kind = j % 10;
      const call = kind < 5 ? 'mmap' : kind < 9 ? 'munmap' : 'brk';
      const addr = 0x7f0000000000n + BigInt(j % 1_000_000) * 4096n;
      const lengthBytes = BigInt(4096 * (1 + (j % 64)));
      batch.push({
        timeMs: start + Math.floor(((end - start) * j) / nEvents),
        ktimeNs: BigInt(j) * 1000n,
        host: HOST,
        pid: p.pid,
        tid: p.pid,
        name: p.name,
        thread: p.name,
        call,
        addr,
        lengthBytes: call === 'brk' ? 0n : lengthBytes,
        prot: call === 'mmap' ? 3 : null,
        flags: call === 'mmap' ? 0x22 : null,
        fd: call === 'mmap' ? -1 : null,
        result: call === 'munmap' ? 0n : addr,
        error: null,
        newLengthBytes: null,
        newAddr: null,
      });
    }
    await store.appendEvents(batch);
    if ((i / BATCH) % 200 === 0)
      process.stderr.write(`fill: ${i} events, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  await store.close();
  const s = (performance.now() - t0) / 1000;
  console.log(
    `fill: ${nEvents} events of ${nProcesses} processes in ${s.toFixed(0)} s (${(nEvents / s).toFixed(0)}/s)`,
  );
}

interface Timing {
  what: string;
  ms: number[];
}

async function timeRequest(base: string, path: string, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const t = performance.now();
    const r = await fetch(`${base}${path}`);
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    if (i >= 3) out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;

async function query(url: string, runs: number): Promise<void> {
  // The later --db wins over the one startServe gives (its temporary directory stays unused).
  const serve = await startServe(['--no-trace', '--db', url]);
  try {
    const base = new URL(serve.url).origin;
    const h = `host=${HOST}`;
    // What to filter by: the busiest process and a name shared by several, as a user would pick.
    const procs = (await (await fetch(`${base}/api/v1/processes?${h}`)).json()) as {
      rows: { pid: number; name: string; calls?: number }[];
    };
    const pid = procs.rows[0]?.pid ?? 1000;
    const name = procs.rows[0]?.name ?? 'prog-0';
    const first = (await (await fetch(`${base}/api/v1/events?${h}&pid=${pid}`)).json()) as { next: string | null };
    const firstAll = (await (await fetch(`${base}/api/v1/events?${h}`)).json()) as { next: string | null };
    const now = Date.now();
    const plan: [string, string][] = [
      ['status', `/api/v1/status?${h}`],
      ['Processes tab: processes', `/api/v1/processes?${h}`],
      ['Processes tab: pie', `/api/v1/pie?${h}`],
      ['Calls tab: first page', `/api/v1/events?${h}`],
      ['Calls tab: count', `/api/v1/events/count?${h}`],
      ['Calls tab: page back', `/api/v1/events?${h}&before=${firstAll.next ?? ''}`],
      ['Calls by pid: first page', `/api/v1/events?${h}&pid=${pid}`],
      ['Calls by pid: count', `/api/v1/events/count?${h}&pid=${pid}`],
      ['Calls by pid: page back', `/api/v1/events?${h}&pid=${pid}&before=${first.next ?? ''}`],
      ['Calls by name: first page', `/api/v1/events?${h}&name=${name}`],
      ['Calls by name: count', `/api/v1/events/count?${h}&name=${name}`],
      ['System tab: ledger', `/api/v1/ledger?${h}`],
      ['Timeline tab: 1 h', `/api/v1/history?${h}&from=${now - 3_600_000}&to=${now}&points=1200`],
      ['Timeline tab: 7 d', `/api/v1/history?${h}&from=${now - 7 * DAY_MS}&to=${now}&points=1200`],
    ];
    const timings: Timing[] = [];
    for (const [what, path] of plan) timings.push({ what, ms: await timeRequest(base, path, runs) });
    console.log(
      `store ${url.startsWith('mysql') ? 'MariaDB/MySQL' : 'SQLite'}; ${runs} requests each, ms at the client`,
    );
    console.log('| request | p50 | p95 | worst |\n|---|---:|---:|---:|');
    for (const t of timings)
      console.log(
        `| ${t.what} | ${quantile(t.ms, 0.5).toFixed(1)} | ${quantile(t.ms, 0.95).toFixed(1)} | ${(t.ms[t.ms.length - 1] ?? NaN).toFixed(1)} |`,
      );
  } finally {
    await serve.stop();
  }
}

const [mode, store, a, b] = process.argv.slice(2);
if (mode === 'fill' && store !== undefined) await fill(store, Number(a ?? 10_000_000), Number(b ?? 300));
else if (mode === 'query' && store !== undefined) await query(store, Number(a ?? 40));
else {
  console.error('usage: large-store.js fill STORE [events] [processes] | query STORE [runs]');
  process.exitCode = 2;
}
