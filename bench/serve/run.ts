// Benchmarks of `memlens serve` (not tests; run by hand as root, see bench/README.md):
//   latency  from a system call to its row on the page, p50 / p99, at 1,000 and 50,000 events/s;
//   fps      the calls view's frame rate while scrolling through 1,000,000 stored events;
//   cpu      the server's CPU use, idle and under load;
//   traced-cpu  the server's CPU use while it traces 10,000 calls a second, its main thread apart.
// usage: node dist/bench/serve/run.js [latency|fps|cpu|traced-cpu|all]
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../../src/base/units.js';
import { openStore } from '../../src/store/index.js';
import type { MemEvent } from '../../src/wire/events.js';
import { repoRoot } from '../../test/helpers/paths.js';
import { launchBrowser, startServe } from '../../test/web/live-serve.js';

const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function cpuSeconds(pid: number | string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

/** CPU seconds of the process's main thread and of all its other threads (the store's worker among them). */
function threadCpuSeconds(pid: number): { main: number; others: number } {
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (tid === String(pid)) continue;
    try {
      others += cpuSeconds(`${pid}/task/${tid}`);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { main: cpuSeconds(`${pid}/task/${pid}`), others };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function loadBinary(): string {
  const out = join(mkdtempSync(join(tmpdir(), 'memlens-load-')), 'load');
  execFileSync('gcc', ['-O2', '-o', out, join(repoRoot, 'bench', 'serve', 'load.c')]);
  return out;
}

async function latency(rate: number, seconds: number): Promise<void> {
  const serve = await startServe();
  const browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(serve.url);
  await page.click('#tab-calls');
  await page.fill('#calls-name', 'load');
  await page.selectOption('#calls-call', 'mremap');
  await page.click('#calls-form button[type=submit]');
  // Record, in the page, when each mremap row (by its size text) first appears.
  await page.evaluate(() => {
    const seen: Record<string, number> = {};
    (window as unknown as { __seen: Record<string, number> }).__seen = seen;
    const scan = (): void => {
      for (const row of document.querySelectorAll('#calls-inner .vrow')) {
        if (row.children[3]?.textContent !== 'mremap') continue;
        const size = row.children[4]?.textContent ?? '';
        seen[size] ??= Date.now();
      }
    };
    new MutationObserver(scan).observe(document.getElementById('calls-inner') as HTMLElement, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
  await sleep(3000);
  const cpu0 = cpuSeconds(serve.child.pid ?? 0);
  const t0 = Date.now();
  const gen = spawn(loadBinary(), [String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const probes = new Map<string, number>();
  let made = 0;
  gen.stdout.setEncoding('utf8');
  let buf = '';
  gen.stdout.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^probe (\d+) ([\d.]+)$/.exec(line);
      if (m) probes.set(formatBytes(Number(m[1]) * 1024 * 1024), Number(m[2]));
      const d2 = /^done (\d+)$/.exec(line);
      if (d2) made = Number(d2[1]);
    }
  });
  await new Promise((r) => gen.once('exit', r));
  const cpu1 = cpuSeconds(serve.child.pid ?? 0);
  const t1 = Date.now();
  await sleep(5000);
  const seen = await page.evaluate(() => (window as unknown as { __seen: Record<string, number> }).__seen);
  const lat: number[] = [];
  let missing = 0;
  for (const [size, t] of probes) {
    const s = seen[size];
    if (s === undefined) missing++;
    else lat.push(s - t);
  }
  lat.sort((a, b) => a - b);
  const lost = await page.textContent('#st-lost');
  console.log(
    `latency rate=${rate}/s (made ${made} calls in ${seconds} s = ${Math.round(made / seconds)}/s): probes=${probes.size} seen=${lat.length} missing=${missing} p50=${percentile(lat, 50).toFixed(0)} ms p99=${percentile(lat, 99).toFixed(0)} ms max=${(lat[lat.length - 1] ?? NaN).toFixed(0)} ms; server CPU ${(((cpu1 - cpu0) / ((t1 - t0) / 1000)) * 100).toFixed(1)} % of one core; status: ${lost ?? ''}`,
  );
  await browser.close();
  await serve.stop();
}

async function idleCpu(seconds: number, extra: string[]): Promise<void> {
  const label = extra.length === 0 ? 'tracing' : extra.join(' ');
  const serve = await startServe(extra);
  await sleep(5000);
  const pid = serve.child.pid ?? 0;
  let c0 = cpuSeconds(pid);
  let t0 = Date.now();
  await sleep(seconds * 1000);
  console.log(
    `${label}, no browser: server CPU ${(((cpuSeconds(pid) - c0) / ((Date.now() - t0) / 1000)) * 100).toFixed(2)} % of one core over ${seconds} s`,
  );
  const browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(serve.url);
  await sleep(3000);
  c0 = cpuSeconds(pid);
  t0 = Date.now();
  await sleep(seconds * 1000);
  console.log(
    `${label}, one browser on the processes view: server CPU ${(((cpuSeconds(pid) - c0) / ((Date.now() - t0) / 1000)) * 100).toFixed(2)} % of one core over ${seconds} s`,
  );
  await browser.close();
  await serve.stop();
}

/** The server's CPU while bench/trace/mmap-rate.c makes `rate` calls a second for `seconds`. */
async function tracedCpu(rate: number, seconds: number): Promise<void> {
  const out = join(mkdtempSync(join(tmpdir(), 'memlens-rate-')), 'mmap-rate');
  execFileSync('gcc', ['-O2', '-o', out, join(repoRoot, 'bench', 'trace', 'mmap-rate.c')]);
  const serve = await startServe([]);
  await sleep(5000);
  const pid = serve.child.pid ?? 0;
  const c0 = cpuSeconds(pid);
  const th0 = threadCpuSeconds(pid);
  const t0 = Date.now();
  const made = execFileSync(out, [String(rate), String(seconds)])
    .toString()
    .trim();
  const wallS = (Date.now() - t0) / 1000;
  const th1 = threadCpuSeconds(pid);
  const share = (s: number): string => `${((s / wallS) * 100).toFixed(1)} %`;
  const metrics = await (await fetch(`${serve.url}metrics`)).text();
  const lost = /^memlens_trace_lost_events_total (\S+)/m.exec(metrics)?.[1] ?? '?';
  console.log(
    `traced ${rate} calls/s (${made}): server CPU ${share(cpuSeconds(pid) - c0)} of one core over ${wallS.toFixed(1)} s, main thread ${share(th1.main - th0.main)}, other threads ${share(th1.others - th0.others)}; lost events ${lost}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );
  await serve.stop();
}

async function fps(events: number, seconds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-fps-'));
  const db = join(dir, 'events.db');
  const store = await openStore(db);
  const host = hostname();
  const base = Date.now() - events;
  const t0 = Date.now();
  for (let i = 0; i < events; i += 5000) {
    const batch: MemEvent[] = [];
    for (let j = i; j < Math.min(events, i + 5000); j++) {
      batch.push({
        timeMs: base + j,
        ktimeNs: BigInt(j) * 1000n,
        host,
        pid: 1000 + (j % 50),
        tid: 1000 + (j % 50),
        name: `proc${j % 50}`,
        thread: 'main',
        call: j % 2 === 0 ? 'mmap' : 'munmap',
        addr: 0x7f0000000000n + BigInt(j) * 4096n,
        lengthBytes: 4096n,
        prot: j % 2 === 0 ? 3 : null,
        flags: j % 2 === 0 ? 0x22 : null,
        fd: j % 2 === 0 ? -1 : null,
        result: j % 2 === 0 ? 0x7f0000000000n + BigInt(j) * 4096n : 0n,
        error: null,
        newLengthBytes: null,
        newAddr: null,
      });
    }
    await store.appendEvents(batch);
  }
  await store.close();
  console.log(`fps: stored ${events} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const serve = await startServe(['--no-trace']);
  // startServe gives each run its own database; point this one at the filled store instead.
  await serve.stop();
  const port = Number(new URL(serve.url).port);
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'serve', '--no-trace', '--port', String(port), '--db', db],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => String(d).includes('dashboard at') && resolve()),
  );
  const browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/#calls`);
  await page.waitForFunction(() => document.querySelectorAll('#calls-inner .vrow').length > 10, undefined, {
    timeout: 0,
  });
  const result = await page.evaluate(
    (ms: number) =>
      new Promise<{ frames: number; maxGapMs: number; p99GapMs: number; scrolledPx: number; rows: number }>(
        (resolve) => {
          const scroller = document.getElementById('calls-scroll') as HTMLElement;
          const gaps: number[] = [];
          let last = performance.now();
          const start = last;
          const step = (now: number): void => {
            gaps.push(now - last);
            last = now;
            scroller.scrollTop += 1200;
            if (now - start < ms) requestAnimationFrame(step);
            else {
              gaps.sort((a, b) => a - b);
              resolve({
                frames: gaps.length,
                maxGapMs: gaps[gaps.length - 1] ?? 0,
                p99GapMs: gaps[Math.floor(gaps.length * 0.99)] ?? 0,
                scrolledPx: scroller.scrollTop,
                rows: Math.round(scroller.scrollHeight / 24),
              });
            }
          };
          requestAnimationFrame(step);
        },
      ),
    seconds * 1000,
  );
  console.log(
    `fps with ${events} stored events, scrolling 1200 px per frame for ${seconds} s: ${(result.frames / seconds).toFixed(1)} frames/s, p99 frame ${result.p99GapMs.toFixed(1)} ms, worst ${result.maxGapMs.toFixed(1)} ms; ${result.rows} rows loaded by keyset paging`,
  );
  await browser.close();
  await new Promise((r) => {
    child.once('exit', r);
    child.kill('SIGINT');
  });
}

const what = process.argv[2] ?? 'all';
if (what === 'latency' || what === 'all') {
  await latency(1000, 20);
  await latency(50_000, 20);
}
if (what === 'cpu' || what === 'all') {
  await idleCpu(30, ['--no-trace']);
  await idleCpu(30, []);
}
if (what === 'traced-cpu' || what === 'all') {
  await tracedCpu(10_000, 20);
  await tracedCpu(10_000, 20);
}
if (what === 'fps' || what === 'all') await fps(1_000_000, 10);
