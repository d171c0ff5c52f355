// Fault soak: `memlens trace` into MariaDB for a long run at a steady call rate while the database
// is stopped, killed and frozen at random, and the disk holding the spill files fills up once. At
// the end every call the workload made must be stored exactly once or counted as dropped by the
// kernel, and memlens's summary must say which.
//   node dist/bench/trace/fault-soak.js [--minutes 30] [--rate 20000] [--seed 1] [--spill-mb 1024] [--drain-minutes 30]
// Needs root (tracefs, mount). The MariaDB server is a private mariadbd of the benchmark's own
// (temporary datadir, free port), never the machine's server; the spill directory is a tmpfs the
// benchmark mounts (size --spill-mb) and unmounts.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { SeededRandom } from '../../src/base/random.js';
import { PrivateMariadb } from '../../test/store/private-mariadb.js';
import { arg, buildC, cli, scratch, sleep } from './harness.js';
import { fillDisk } from '../../test/helpers/disk-fill.js';

const minutes = Number(arg('minutes', '30'));
const rate = Number(arg('rate', '20000'));
const seed = Number(arg('seed', '1'));
const spillMb = Number(arg('spill-mb', '1024'));
const drainMinutes = Number(arg('drain-minutes', '30'));
const totalS = minutes * 60;
const random = new SeededRandom(seed);
const uniform = (lo: number, hi: number): number => lo + random.next() * (hi - lo);

const started = Date.now();
const stamp = (): string => `${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s`;
const log = (text: string): void => console.log(`[${stamp()}] ${text}`);

type Fault = { atS: number; kind: 'stop' | 'kill' | 'freeze' | 'disk-full'; forS: number };

/** Faults every few minutes (a run of 30 minutes has about ten), the disk fill once near the middle. */
function schedule(): Fault[] {
  const count = Math.max(4, Math.round(minutes / 3));
  const gap = (totalS * 0.85) / count;
  const faults: Fault[] = [];
  const fillIndex = Math.floor(count / 2);
  for (let i = 0; i < count; i++) {
    const atS = gap * i + uniform(0.15, 0.45) * gap;
    const forS = Math.min(uniform(10, 45), gap * 0.4);
    const kinds = ['stop', 'kill', 'freeze'] as const;
    faults.push({ atS, kind: i === fillIndex ? 'disk-full' : (kinds[Math.floor(random.next() * 3)] ?? 'kill'), forS });
  }
  return faults;
}

const mnt = join(scratch, 'spill-fs');
mkdirSync(mnt, { recursive: true });
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${spillMb}m`, 'tmpfs', mnt], { encoding: 'utf8' });
if (mount.status !== 0) throw new Error(`mount tmpfs: ${mount.stderr}`);
const db = await PrivateMariadb.create();
const url = db.url('memlens_soak');
const xdg = join(mnt, 'data');
const spillDir = join(xdg, 'memlens', 'spill');
const errPath = join(scratch, 'soak-trace.err');
let failed = false;

try {
  const bin = await buildC('mmap-rate');
  // The workload waits for a line on stdin, so that the tracer can be started for its pid first;
  // exec keeps the pid.
  const workload = spawn('sh', ['-c', `read _ && exec nice -n 5 taskset -c 0 ${bin} ${rate} ${totalS}`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const wpid = workload.pid;
  if (wpid === undefined) throw new Error('workload did not start');
  let workloadOut = '';
  workload.stdout.setEncoding('utf8').on('data', (d: string) => (workloadOut += d));
  const workloadDone = new Promise<void>((resolve) => workload.on('close', () => resolve()));

  const errFd = openSync(errPath, 'w');
  const trace = spawn(process.execPath, [cli, 'trace', '--json', '--quiet', '--pid', String(wpid), '--db', url], {
    stdio: ['ignore', 'ignore', errFd],
    env: { ...process.env, XDG_DATA_HOME: xdg },
  });
  closeSync(errFd);
  const traceExit = new Promise<number | null>((resolve) => trace.on('close', resolve));
  for (;;) {
    if (readFileSync(errPath, 'utf8').includes('memlens: tracing')) break;
    if (trace.exitCode !== null)
      throw new Error(`memlens trace ended before tracing: ${readFileSync(errPath, 'utf8')}`);
    await sleep(100);
  }
  log(
    `tracing pid ${wpid} into ${url}; spill under ${spillDir} (tmpfs ${spillMb} MiB); ${rate} calls/s for ${minutes} min`,
  );
  workload.stdin.end('go\n');

  for (const f of schedule()) {
    const wait = f.atS * 1000 - (Date.now() - started);
    if (wait > 0) await sleep(wait);
    log(`fault: ${f.kind} for ${f.forS.toFixed(0)} s`);
    if (f.kind === 'freeze') {
      db.freeze();
      await sleep(f.forS * 1000);
      db.thaw();
    } else if (f.kind === 'stop' || f.kind === 'kill') {
      await (f.kind === 'stop' ? db.stop() : db.kill());
      await sleep(f.forS * 1000);
      await db.start();
    } else {
      // The database away, so that events must go to the spill file, and then no room for it.
      await db.kill();
      await sleep(5000);
      const filler = fillDisk(mnt);
      log(
        `spill filesystem full (${statfsSync(mnt).bavail} blocks free); spill files: ${readdirSync(spillDir).join(' ')}`,
      );
      await sleep(f.forS * 1000);
      rmSync(filler);
      log('filler removed');
      await sleep(5000);
      await db.start();
    }
    log(`fault over`);
  }
  await workloadDone;
  const m = /pid (\d+) calls (\d+) seconds ([\d.]+)/.exec(workloadOut);
  if (!m?.[2] || !m[3]) throw new Error(`workload said: ${workloadOut}`);
  const made = Number(m[2]);
  log(`workload done: ${made} calls in ${m[3]} s`);

  // Let the tracer write what its spill files hold (bounded), then stop it as a user would.
  const spillFiles = (): string[] => {
    try {
      return readdirSync(spillDir).filter((f) => f.endsWith('.ndjson'));
    } catch {
      return []; // no spill directory yet
    }
  };
  const drainStart = Date.now();
  while (spillFiles().length > 0 && Date.now() - drainStart < drainMinutes * 60_000) await sleep(1000);
  log(
    `spill ${spillFiles().length === 0 ? 'written' : 'still not written'} after ${((Date.now() - drainStart) / 1000).toFixed(0)} s; SIGINT`,
  );
  const sigintAt = Date.now();
  trace.kill('SIGINT');
  const code = await traceExit;
  log(`memlens trace exited ${code} ${((Date.now() - sigintAt) / 1000).toFixed(1)} s after SIGINT`);
  const stderr = readFileSync(errPath, 'utf8');
  const line = stderr
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`memlens trace exited with ${code} and no summary: ${stderr.slice(-3000)}`);
  const summary = (
    JSON.parse(line) as {
      summary: {
        processes: { pid: number; calls: number }[];
        lost: { lostEvents: number; unpaired: number };
        store: { complete: boolean; spillFiles: string[]; lostEvents: number };
      };
    }
  ).summary;
  const read = summary.processes.find((p) => p.pid === wpid)?.calls ?? 0;

  // Anything still in a spill file is written by the next runs that store into the database.
  for (let run = 1; spillFiles().length > 0 && run <= 30; run++) {
    log(`spill left: ${spillFiles().join(' ')}; replaying with run ${run} (60 s)`);
    const replay = spawnSync(
      process.execPath,
      [cli, 'trace', '--quiet', '--duration', '60s', '--pid', String(wpid), '--db', url],
      { encoding: 'utf8', env: { ...process.env, XDG_DATA_HOME: xdg } },
    );
    log(`replay run exited ${replay.status}: ${replay.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }

  // Read through the store: the calls are packed (schema.ts, event_packs).
  const store = await openStore(url);
  let stored = 0;
  const seen = new Set<string>();
  for await (const page of store.streamEvents({ pid: wpid }))
    for (const e of page) {
      stored++;
      seen.add(`${e.tid}/${e.ktimeNs}`);
    }
  await store.close();
  const distinct = seen.size;
  const kernelLost = summary.lost.lostEvents;
  // Every call read is stored (none lost by memlens), none twice, and the calls not read are no
  // more than the kernel counted as dropped (it counts ring-buffer records: a call has two, its
  // entry and its exit, so a dropped call counts once or twice). The dynamic loader's own calls
  // (after exec) come on top of the workload's.
  const onceEach = stored === distinct;
  const allRead = stored === read && summary.store.lostEvents === 0;
  const notRead = Math.max(0, made - read);
  const accounted = notRead <= kernelLost && read <= made + 64;
  const ok = code === 0 && onceEach && allRead && accounted && spillFiles().length === 0;
  failed = !ok;
  const memlensLines = stderr.split('\n').filter((l) => l.startsWith('memlens:'));
  console.log('\nmemlens said:');
  for (const l of memlensLines) console.log(`  ${l}`);
  console.log(`
| minutes | calls/s | calls made | read by memlens | stored | stored twice | dropped by the kernel (summary) | lost by memlens (summary) | exit | verdict |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
| ${minutes} | ${rate} | ${made} | ${read} | ${stored} | ${stored - distinct} | ${kernelLost} | ${summary.store.lostEvents} | ${code} | ${ok ? 'every call stored once or counted as dropped' : 'FAILED'} |`);
  if (!accounted)
    console.log(`${notRead} calls not read, ${kernelLost} records counted as dropped: calls unaccounted for`);
} finally {
  await db.destroy();
  spawnSync('umount', [mnt]);
  rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
