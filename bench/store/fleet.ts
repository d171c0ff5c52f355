// Many hosts into one MySQL: W `memlens trace` writers at once, each with its own --host-name and its
// own data directory (spill file), each fed R events a second for S seconds, all into one database
// on the MariaDB server at 127.0.0.1:3306 (database memlens_bench_fleet, dropped and created here).
//
// The events come from this process as memlens.stp lines (`memlens trace --from-stap -`, the whole
// path of a traced call after the kernel: parse, pair, account, the worker's batches, MySQL), paced
// in 10 ms ticks: one kernel cannot hold W hosts, and a kernel tracer on a loaded machine drops what
// it cannot read in time, which would measure the machine rather than the store. Each host's events
// are mmap+munmap pairs of 50 processes, each with its own kernel time. A writer that falls behind
// stops reading its pipe (the tracer's pressure), so the pace it kept is measured, not assumed.
//
// Pass: every event of every host stored, none twice (per host: COUNT(*) and COUNT(DISTINCT
// ktime_ns) both equal what was sent), and each writer kept its pace (at least 98 % of R over the
// run). A writer whose last commit waited past its bound leaves a spill file; the next run for that
// host writes it (counted as catch-up time), as a host restarting memlens would.
//
//   node scripts/build.mjs && node dist/bench/store/fleet.js [--writers 8] [--rate 10000] [--seconds 60] [--keep]
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import { openStore } from '../../src/store/index.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const WRITERS = Number(arg('writers', '8'));
const RATE = Number(arg('rate', '10000'));
const SECONDS = Number(arg('seconds', '60'));
const KEEP = process.argv.includes('--keep');
const DATABASE = 'memlens_bench_fleet';
const URL = `mysql://root@127.0.0.1:3306/${DATABASE}`;
const TOTAL = RATE * SECONDS;
const TICK_MS = 10;
const PROCESSES = 50;
const CHUNK = 2000;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(join(tmpdir(), 'memlens-bench-fleet-'));

async function admin(sql: string): Promise<unknown> {
  const c = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  try {
    return (await c.query(sql))[0];
  } finally {
    await c.end();
  }
}

/** utime + stime of a process in seconds (proc(5): fields 14 and 15, in ticks of 1/100 s); undefined once gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}

function peakRssKib(pid: number): number | undefined {
  try {
    // A process that has exited but is not yet reaped has no VmHWM line.
    const kib = /^VmHWM:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib);
  } catch {
    return undefined;
  }
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

/** Line `k` (0-based) of host `h`: even k an mmap, odd k the munmap of what it mapped. */
function line(h: number, k: number, wall0: bigint): string {
  const pair = Math.floor(k / 2);
  const pid = 10_000 + h * 1000 + (pair % PROCESSES);
  // 100 µs apart: 10,000 a second of kernel time, whatever the rate asked.
  const ktime = 1_000_000_000n + BigInt(k) * 100_000n;
  const wall = wall0 + BigInt(k) * 100_000n;
  const len = `0x${(4096 * (1 + (pair % 16))).toString(16)}`;
  const addr = 0x7f00_0000_0000n + BigInt(pair) * 0x10_0000n;
  const head = `C ${ktime} ${wall} ${pid} ${pid} app-${pid % 100} app-${pid % 100}`;
  return k % 2 === 0 ? `${head} mmap 0x0 ${len} 0x3 0x22 -1 ${addr}` : `${head} munmap 0x${addr.toString(16)} ${len} 0`;
}

interface Writer {
  host: string;
  child: ChildProcessWithoutNullStreams;
  stderr: string;
  sent: number;
  /** ms since the start when the last line went into the pipe. */
  sentAllMs: number | undefined;
  exitedMs: number | undefined;
  code: number | null;
  /** CPU seconds used before the first line (start-up), and by the last reading. */
  cpu0: number;
  cpu: number;
  rssKib: number;
  catchUpMs: number;
  env: NodeJS.ProcessEnv;
}

function startWriter(h: number): Promise<Writer> {
  const host = `bench-fleet-${h + 1}`;
  const env = { ...process.env, NO_COLOR: '1', XDG_DATA_HOME: join(scratch, `data-${h + 1}`) };
  const child = spawn(
    process.execPath,
    [cli, 'trace', '--from-stap', '-', '--quiet', '--json', '--host-name', host, '--db', URL],
    {
      env,
    },
  );
  const w: Writer = {
    host,
    child,
    stderr: '',
    sent: 0,
    sentAllMs: undefined,
    exitedMs: undefined,
    code: null,
    cpu0: 0,
    cpu: 0,
    rssKib: 0,
    catchUpMs: 0,
    env,
  };
  child.stdin.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const bound = setTimeout(() => reject(new Error(`${host} did not start in 5 minutes: ${w.stderr}`)), 5 * 60_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      w.stderr += d;
      if (w.stderr.includes('memlens: tracing')) {
        clearTimeout(bound);
        resolve(w);
      }
    });
    child.on('close', (code) => {
      w.code = code;
      clearTimeout(bound);
      reject(new Error(`${host} ended (${code}) before reading: ${w.stderr}`));
    });
  });
}

/** Runs `memlens trace` for `w`'s host on a trace of no events until its spill files are written. */
async function catchUp(w: Writer): Promise<void> {
  const empty = join(scratch, 'header.stap');
  writeFileSync(empty, '#memlens-stap 1\n');
  const t0 = Date.now();
  for (let round = 0; round < 20 && /the rest is kept in/.test(w.stderr); round++) {
    const child = spawn(
      process.execPath,
      [cli, 'trace', '--from-stap', empty, '--quiet', '--json', '--host-name', w.host, '--db', URL],
      {
        env: w.env,
      },
    );
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    await new Promise((resolve) => child.on('close', resolve));
    w.stderr = err;
  }
  w.catchUpMs = Date.now() - t0;
}

const server = serverPid();
await admin(`DROP DATABASE IF EXISTS ${DATABASE}`);
process.stderr.write(`starting ${WRITERS} writers into ${URL}\n`);
const writers = await Promise.all(Array.from({ length: WRITERS }, (_, h) => startWriter(h)));
const serverCpu0 = server === undefined ? 0 : (cpuSeconds(server) ?? 0);
const t0 = Date.now();
const wall0 = BigInt(t0) * 1_000_000n;
for (const w of writers) {
  w.child.removeAllListeners('close');
  w.child.on('close', (code) => {
    w.code = code;
    w.exitedMs = Date.now() - t0;
  });
  w.cpu0 = w.child.pid === undefined ? 0 : (cpuSeconds(w.child.pid) ?? 0);
  w.child.stdin.write('#memlens-stap 1\n');
}

// Progress: every 5 s, what each writer was sent and what the store counts for its host.
const progress: string[] = [];
const sampler = setInterval(() => {
  for (const w of writers) {
    const pid = w.child.pid;
    if (pid === undefined) continue;
    w.cpu = cpuSeconds(pid) ?? w.cpu;
    w.rssKib = peakRssKib(pid) ?? w.rssKib;
  }
}, 1000);
const reporter = setInterval(() => {
  void (async () => {
    const rows = (await admin(`SELECT host, event_count FROM ${DATABASE}.hosts`).catch(() => [])) as {
      host: string;
      event_count: number | string;
    }[];
    const stored = rows.reduce((n, r) => n + Number(r.event_count), 0);
    const sent = writers.reduce((n, w) => n + w.sent, 0);
    const s = `${((Date.now() - t0) / 1000).toFixed(0)} s: sent ${sent}, stored ${stored}`;
    progress.push(s);
    process.stderr.write(`${s}\n`);
  })();
}, 5000);

// Paced: at each tick every writer is sent what its schedule says by now, unless its pipe is full
// (the writer is behind and has stopped reading): then it gets the backlog when the pipe drains.
for (;;) {
  const elapsed = Date.now() - t0;
  const due = Math.min(TOTAL, Math.floor((RATE * elapsed) / 1000));
  let open = 0;
  for (const [h, w] of writers.entries()) {
    if (w.sent >= TOTAL) continue;
    open++;
    if (w.child.stdin.writableNeedDrain) continue;
    if (w.sent < due) {
      // At most CHUNK lines a tick: a writer that reads again after a pause gets its backlog over
      // several ticks, so that one huge string does not hold up the other writers' pace.
      const upTo = Math.min(due, w.sent + CHUNK);
      const lines: string[] = [];
      for (let k = w.sent; k < upTo; k++) lines.push(line(h, k, wall0));
      w.sent = upTo;
      w.child.stdin.write(`${lines.join('\n')}\n`);
      if (w.sent >= TOTAL) {
        w.sentAllMs = Date.now() - t0;
        w.child.stdin.end();
      }
    }
  }
  if (open === 0) break;
  await sleep(TICK_MS);
}
await Promise.all(
  writers.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        if (w.exitedMs !== undefined) resolve();
        const bound = setTimeout(
          () => reject(new Error(`${w.host} did not end in 30 minutes: ${w.stderr}`)),
          30 * 60_000,
        );
        w.child.on('close', () => {
          clearTimeout(bound);
          resolve();
        });
      }),
  ),
);
const wallMs = Math.max(...writers.map((w) => w.exitedMs ?? 0));
clearInterval(sampler);
clearInterval(reporter);
const serverCpu = server === undefined ? undefined : (cpuSeconds(server) ?? 0) - serverCpu0;
for (const w of writers) await catchUp(w);

// Stored calls per host, and how many distinct kernel times among them (a call stored twice has its
// time twice), read through the store: the calls are packed (schema.ts, event_packs).
const byHost = new Map<string, { n: number; d: number }>();
{
  const store = await openStore(URL);
  const times = new Map<string, Set<bigint>>();
  for await (const page of store.streamEvents({}))
    for (const e of page) {
      let t = times.get(e.host);
      if (t === undefined) times.set(e.host, (t = new Set()));
      t.add(e.ktimeNs);
      const h = byHost.get(e.host) ?? { n: 0, d: 0 };
      h.n++;
      h.d = t.size;
      byHost.set(e.host, h);
    }
  await store.close();
}

const summaryOf = (stderr: string): { store?: { complete: boolean; lostEvents: number } } | undefined => {
  const l = stderr
    .split('\n')
    .reverse()
    .find((x) => x.startsWith('{'));
  return l === undefined
    ? undefined
    : (JSON.parse(l) as { summary: { store?: { complete: boolean; lostEvents: number } } }).summary;
};

console.log(`\n${WRITERS} writers × ${RATE} events/s × ${SECONDS} s into ${URL}\n`);
console.log(
  '| host | events sent | sent in s (events/s) | exit after the last line, s | exit | spill caught up by the next run, s | stored | stored twice | missing | memlens CPU s (after start-up) | peak RSS MiB |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
let allStored = true;
let paced = true;
for (const w of writers) {
  const c = byHost.get(w.host) ?? { n: 0, d: 0 };
  const sentS = (w.sentAllMs ?? 0) / 1000;
  const twice = c.n - c.d;
  const missing = TOTAL - c.d;
  if (twice !== 0 || missing !== 0 || w.code !== 0) allStored = false;
  if (TOTAL / sentS < RATE * 0.98) paced = false;
  const s = summaryOf(w.stderr);
  console.log(
    `| ${w.host} | ${TOTAL.toLocaleString('en')} | ${sentS.toFixed(1)} (${Math.round(TOTAL / sentS).toLocaleString('en')}) | ${(((w.exitedMs ?? 0) - (w.sentAllMs ?? 0)) / 1000).toFixed(1)} | ${w.code}${s?.store?.complete === false ? ' (spilled)' : ''} | ${w.catchUpMs === 0 ? '–' : (w.catchUpMs / 1000).toFixed(1)} | ${c.n.toLocaleString('en')} | ${twice} | ${missing} | ${(w.cpu - w.cpu0).toFixed(1)} | ${(w.rssKib / 1024).toFixed(0)} |`,
  );
}
const stored = [...byHost.values()].reduce((n, c) => n + c.n, 0);
console.log(
  `\nall: ${stored.toLocaleString('en')} of ${(TOTAL * WRITERS).toLocaleString('en')} events stored in ${(wallMs / 1000).toFixed(1)} s from the first line to the last writer's exit (${Math.round(stored / (wallMs / 1000)).toLocaleString('en')} events/s); memlens CPU ${writers.reduce((n, w) => n + w.cpu - w.cpu0, 0).toFixed(1)} s (from the first line, start-up left out), MariaDB server CPU ${serverCpu === undefined ? '–' : serverCpu.toFixed(1)} s`,
);
console.log(
  `verdict: ${allStored ? 'nothing lost, nothing twice' : 'EVENTS LOST OR DOUBLED'}; ${paced ? 'every writer kept its pace' : 'not every writer kept the pace (it stopped reading: the store was behind)'}`,
);
console.log(`\nprogress:\n${progress.join('\n')}`);
if (!KEEP) await admin(`DROP DATABASE IF EXISTS ${DATABASE}`);
rmSync(scratch, { recursive: true, force: true });
process.exitCode = allStored ? 0 : 1;
