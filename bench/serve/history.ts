// Benchmark of the stored /proc history (not a test; run by hand, see bench/README.md):
//   fill DIR [days] [processes] [events]  writes `days` of history (a sample every 10 s, through
//        the same recorder `memlens serve` uses) and `events` traced events into DIR/events.db,
//        for this host, ending now; prints the bytes each table and index takes (SQLite dbstat)
//        and the bytes per day of history;
//   flush [processes]  the cost of one write of the recorder at serve's cadence (a write per 10 s
//        sample), p50/p99 over an hour of samples;
//   paint DIR  starts `memlens serve --no-trace` on DIR and times, in Chromium, the first complete
//        paint of each tab and the change of the timeline's window;
//   shots DIR OUT  screenshots of the Timeline at 800×600 and 1440×900, light and dark, into OUT;
//   clicks DIR [rounds]  like paint's window changes, 6 h, 1 d, 7 d, 30 d clicked in turn `rounds`
//        times on one page: medians of the time to the drawn frame, the answer and the chart's build;
//   windows DIR [rounds] [points]  the server's part of a Timeline window, in this process: CPU
//        time (user+sys) of HistoryRecorder.window for each button's window following now, read
//        through the cache (as serve does) and wholly from the database, interleaved, with a new
//        sample of the processes recorded and written before each round (as serve's 10 s samples).
// usage: node dist/bench/serve/history.js fill /tmp/h 7 300 1000000 && node dist/bench/serve/history.js paint /tmp/h
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { mkdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { SeededRandom } from '../../src/base/random.js';
import { HistoryRecorder, type HistoryProcessInput } from '../../src/server/history-recorder.js';
import { DEFAULT_HISTORY_RETENTION, openStore } from '../../src/store/index.js';
import type { MemEvent } from '../../src/wire/events.js';
import { launchBrowser, startServe } from '../../test/web/live-serve.js';

const MiB = 1024 * 1024;
const SAMPLE_MS = 10_000;
const DAY = 86_400_000;

/** Categories of a 16 GiB machine, wandering slowly; anon follows the processes. */
const CATEGORIES = [
  ['kernel', 'kernel'],
  ['free', 'free'],
  ['page_cache', 'page cache (files)'],
  ['buffers', 'buffers (block device cache)'],
  ['shmem', 'shared memory (tmpfs, SysV, memfd, shared anonymous)'],
  ['anon', 'anonymous memory of processes'],
  ['swap_cache', 'swap cache'],
  ['hugetlb', 'hugetlb pool'],
  ['unaccounted', 'unaccounted (kernel and driver memory no counter shows)'],
] as const;

interface SimProcess extends HistoryProcessInput {
  growthPerSample: number;
}

function processes(n: number, rnd: SeededRandom): SimProcess[] {
  const names = [
    'postgres',
    'java',
    'node',
    'chromium',
    'python3',
    'nginx',
    'redis-server',
    'dockerd',
    'systemd-journal',
    'sshd',
  ];
  return Array.from({ length: n }, (_, i) => {
    const pss = rnd.int(1, 400) * MiB * (i < 10 ? 4 : 1);
    return {
      pid: 1000 + i * 7,
      startTicks: 100_000 + i * 13,
      name: `${names[i % names.length] ?? 'proc'}${i >= names.length ? `-${i}` : ''}`,
      pssBytes: pss,
      rssBytes: pss * 1.3,
      ussBytes: pss * 0.8,
      swapBytes: 0,
      // A few leak: 1 MiB an hour up to 40 MiB an hour.
      growthPerSample: i % 37 === 0 ? ((1 + (i % 40)) * MiB) / 360 : 0,
    };
  });
}

async function fill(dir: string, days: number, nProcesses: number, nEvents: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'events.db');
  const store = await openStore(db);
  const host = hostname();
  const rnd = new SeededRandom(7);
  const procs = processes(nProcesses, rnd);
  const rec = new HistoryRecorder(store.history, host, { retention: DEFAULT_HISTORY_RETENTION });
  const end = Date.now();
  const start = end - days * DAY;
  const t0 = performance.now();
  let cache = 5000 * MiB;
  let samples = 0;
  for (let t = start; t < end; t += SAMPLE_MS) {
    for (const p of procs) {
      p.pssBytes = Math.max(MiB, p.pssBytes + p.growthPerSample + rnd.int(-1, 1) * 64 * 1024);
      p.rssBytes = p.pssBytes * 1.3;
      p.ussBytes = p.pssBytes * 0.8;
    }
    cache = Math.min(9000 * MiB, Math.max(1000 * MiB, cache + rnd.int(-2, 2) * 4 * MiB));
    const anon = procs.reduce((s, p) => s + (p.ussBytes ?? 0), 0);
    const fixed: Record<string, number> = {
      kernel: 700 * MiB,
      page_cache: cache,
      buffers: 120 * MiB,
      shmem: 300 * MiB,
      anon,
      swap_cache: 0,
      hugetlb: 0,
      unaccounted: 90 * MiB,
    };
    const usedBytes = Object.values(fixed).reduce((s, v) => s + v, 0);
    rec.record({
      atMs: t,
      categories: CATEGORIES.map(([key, name]) => ({
        key,
        name,
        bytes: key === 'free' ? Math.max(0, 16384 * MiB - usedBytes) : (fixed[key] ?? 0),
      })),
      processes: procs,
    });
    // An hour of samples per write here (the rows merge the same whatever the cadence).
    if (++samples % 360 === 0) await rec.flush();
  }
  await rec.close();
  const historyS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (let i = 0; i < nEvents; i += 5000) {
    const batch: MemEvent[] = [];
    for (let j = i; j < Math.min(nEvents, i + 5000); j++) {
      const p = procs[j % procs.length] as SimProcess;
      const mmap = j % 2 === 0;
      batch.push({
        timeMs: start + Math.floor(((end - start) * j) / nEvents),
        ktimeNs: BigInt(j) * 1000n,
        host,
        pid: p.pid,
        tid: p.pid,
        name: p.name,
        thread: p.name,
        call: mmap ? 'mmap' : 'munmap',
        addr: 0x7f0000000000n + BigInt(j) * 4096n,
        lengthBytes: 4096n,
        prot: mmap ? 3 : null,
        flags: mmap ? 0x22 : null,
        fd: mmap ? -1 : null,
        result: mmap ? 0x7f0000000000n + BigInt(j) * 4096n : 0n,
        error: null,
        newLengthBytes: null,
        newAddr: null,
      });
    }
    await store.appendEvents(batch);
  }
  await store.close();
  console.log(
    `fill: ${days} days × ${nProcesses} processes (${samples} samples) in ${historyS.toFixed(1)} s; ${nEvents} events in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
  );
  sizes(db, days);
}

/** Bytes per table and index (SQLite's dbstat: pages in use, whole pages) and per day of history. */
function sizes(db: string, days: number): void {
  const sqlite = new Database(db);
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  const rows = sqlite
    .prepare(
      "SELECT name, SUM(pgsize) AS bytes, SUM(ncell) AS cells FROM dbstat WHERE name LIKE 'history%' OR name LIKE 'sqlite_autoindex_history%' GROUP BY name ORDER BY bytes DESC",
    )
    .all() as { name: string; bytes: number; cells: number }[];
  const counts = sqlite.prepare('SELECT tier, COUNT(*) AS n FROM history_process GROUP BY tier').all() as {
    tier: number;
    n: number;
  }[];
  const sysCounts = sqlite.prepare('SELECT tier, COUNT(*) AS n FROM history_system GROUP BY tier').all() as {
    tier: number;
    n: number;
  }[];
  const tierBytes = sqlite.prepare("SELECT SUM(pgsize) AS b FROM dbstat WHERE name = 'history_process'").get() as {
    b: number;
  };
  sqlite.close();
  let total = 0;
  for (const r of rows) {
    total += r.bytes;
    console.log(`  ${r.name}: ${(r.bytes / MiB).toFixed(1)} MiB`);
  }
  console.log(
    `  history_process rows by tier: ${counts.map((c) => `${c.tier}: ${c.n}`).join(', ')}; history_system rows by tier: ${sysCounts.map((c) => `${c.tier}: ${c.n}`).join(', ')}`,
  );
  const procRows = counts.reduce((s, c) => s + c.n, 0);
  console.log(`  history_process: ${(tierBytes.b / procRows).toFixed(1)} bytes a row (table only)`);
  console.log(
    `history: ${(total / MiB).toFixed(1)} MiB for ${days} days = ${(total / days / MiB).toFixed(1)} MiB (${Math.round(total / days / 1e6)} MB) per day of history, every tier kept; file ${(statSync(db).size / MiB).toFixed(1)} MiB with the events`,
  );
}

async function flushCost(nProcesses: number): Promise<void> {
  const dir = join('/tmp', `memlens-history-flush-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const store = await openStore(join(dir, 'events.db'));
  const rnd = new SeededRandom(3);
  const procs = processes(nProcesses, rnd);
  const rec = new HistoryRecorder(store.history, hostname(), { retention: DEFAULT_HISTORY_RETENTION });
  const times: number[] = [];
  const start = Date.now() - 3_600_000;
  for (let i = 0; i < 360; i++) {
    rec.record({
      atMs: start + i * SAMPLE_MS,
      categories: CATEGORIES.map(([key, name]) => ({ key, name, bytes: 100 * MiB + i })),
      processes: procs,
    });
    const t = performance.now();
    await rec.flush();
    times.push(performance.now() - t);
  }
  await rec.close();
  await store.close();
  times.sort((a, b) => a - b);
  const pct = (p: number): string =>
    (times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? NaN).toFixed(1);
  console.log(
    `flush: one write per 10 s sample of ${nProcesses} processes (${rec.written / 360} rows each, SQLite): p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms`,
  );
}

/** How many times the page has drawn the Timeline (its data-drawn counter). */
function drawnCount(page: Page): Promise<number> {
  return page.evaluate(() => Number(document.getElementById('timeline')?.dataset.drawn ?? 0));
}

/** Waits until the Timeline has drawn again after `before` draws; the page's time two frames on. */
async function nextFrameAfterDraw(page: Page, before: number): Promise<number> {
  await page.waitForFunction(
    (n: number) => Number(document.getElementById('timeline')?.dataset.drawn ?? 0) > n,
    before,
    { timeout: 120_000, polling: 'raf' },
  );
  return page.evaluate(
    () => new Promise<number>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now())))),
  );
}

async function paint(dir: string): Promise<void> {
  const serve = await startServe(['--no-trace'], { dir });
  const browser = await launchBrowser();
  try {
    // Functions, not strings: the page's CSP forbids eval. The pie and the ledger's chart are
    // drawn as SVG (their labels are elements the tests read): complete once they have shapes.
    const ready = (tab: string): boolean => {
      const d = document;
      if (tab === 'processes')
        return d.querySelectorAll('#proc-body tr').length > 0 && d.querySelector('#pie svg path') !== null;
      if (tab === 'calls') return d.querySelectorAll('#calls-inner .vrow').length > 10;
      if (tab === 'system')
        return d.querySelectorAll('#used-body tr').length > 0 && d.querySelector('#ledger svg path') !== null;
      return Number(d.getElementById('timeline')?.dataset.drawn ?? 0) > 0;
    };
    for (const tab of ['processes', 'calls', 'system', 'timeline']) {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const page = await browser.newPage();
        await page.goto(`${serve.url}#${tab}`);
        await page.click(`#tab-${tab}`);
        await page.waitForFunction(ready, tab, { timeout: 120_000, polling: 'raf' });
        // The paint after the content is in: two animation frames.
        const ms = await page.evaluate(
          () =>
            new Promise<number>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now())))),
        );
        runs.push(ms);
        // Where the time went: when the page's script and each API answer arrived (resource
        // timing, ms after navigation), and how long the server took for each.
        const parts = await page.evaluate(() =>
          performance
            .getEntriesByType('resource')
            .filter((e) => /app\.js|api\/v1\//.test(e.name))
            .map((e) => {
              const r = e as PerformanceResourceTiming;
              return `${new URL(r.name).pathname.replace('/api/v1/', '')} ${r.responseEnd.toFixed(0)} (server ${(r.responseStart - r.requestStart).toFixed(0)})`;
            })
            .join(', '),
        );
        console.log(`  run ${i + 1}: ${ms.toFixed(0)} ms; arrived: ${parts}`);
        await page.close();
      }
      runs.sort((a, b) => a - b);
      console.log(
        `paint: ${tab} tab complete ${runs.map((r) => r.toFixed(0)).join(' / ')} ms after navigation (median ${runs[1]?.toFixed(0)} ms)`,
      );
    }
    const page = await browser.newPage();
    await page.goto(`${serve.url}#timeline`);
    await page.click('#tab-timeline');
    await page.waitForFunction(() => Number(document.getElementById('timeline')?.dataset.drawn ?? 0) > 0, undefined, {
      timeout: 120_000,
    });
    const spanMs: Record<string, number> = { '1 h': 3_600_000, '6 h': 21_600_000, '1 d': 86_400_000 };
    spanMs['7 d'] = 7 * 86_400_000;
    spanMs['30 d'] = 30 * 86_400_000;
    for (const label of ['6 h', '1 d', '7 d', '30 d', '1 h', '7 d', '1 d', '1 h']) {
      const before = await drawnCount(page);
      // Room for this window's request (the buffer keeps 250 entries, and the page polls).
      const t = await page.evaluate(() => {
        performance.clearResourceTimings();
        return performance.now();
      });
      await page.click(`#tl-spans button:text-is("${label}")`);
      // A redraw counts only if it is of the window clicked: a refresh of the previous window (a
      // new sample arrived) can land in between.
      await page.waitForFunction(
        ([n, span]: [number, number]) => {
          const d = document.getElementById('timeline')?.dataset;
          if (d === undefined || Number(d.drawn ?? 0) <= n) return false;
          return Math.abs(Number(d.toMs) - Number(d.fromMs) - span) < span * 0.02;
        },
        [before, spanMs[label] ?? 0] as [number, number],
        { timeout: 120_000, polling: 'raf' },
      );
      const done = await page.evaluate(
        () =>
          new Promise<number>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now())))),
      );
      const d = await page.evaluate(() =>
        Object.fromEntries(Object.entries(document.getElementById('timeline')?.dataset ?? {})),
      );
      // The server's part of the answer (request sent to first byte) and its size, from the
      // resource timing of the last history request.
      const server = await page.evaluate(() => {
        const r = performance
          .getEntriesByType('resource')
          .filter((e) => e.name.includes('/api/v1/history'))
          .pop() as PerformanceResourceTiming | undefined;
        return r === undefined
          ? ''
          : `server ${(r.responseStart - r.requestStart).toFixed(0)} ms, ${(r.encodedBodySize / 1024).toFixed(0)} KiB`;
      });
      console.log(
        `window: ${label} drawn in ${(done - t).toFixed(0)} ms (${d.points} points from the ${d.tier} tier, ${d.series} process series; answer ${d.fetchMs} ms (${server}), chart built in ${d.buildMs} ms)`,
      );
    }
    // Zoom with the mouse wheel over the chart: the new window is fetched 150 ms after the last wheel event.
    const box = await page.locator('#timeline').boundingBox();
    if (box !== null) {
      const before = await drawnCount(page);
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.3);
      const t = await page.evaluate(() => performance.now());
      await page.mouse.wheel(0, -300);
      const done = await nextFrameAfterDraw(page, before);
      console.log(
        `window: wheel zoom drawn ${(done - t).toFixed(0)} ms after the wheel event, of which 150 ms is the wait for the end of the gesture`,
      );
    }
  } finally {
    await browser.close();
    await serve.stop();
  }
}

async function clicks(dir: string, rounds: number): Promise<void> {
  const serve = await startServe(['--no-trace'], { dir });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${serve.url}#timeline`);
    await page.click('#tab-timeline');
    await page.waitForFunction(() => Number(document.getElementById('timeline')?.dataset.drawn ?? 0) > 0, undefined, {
      timeout: 120_000,
    });
    const runs = new Map<string, [number, number, number][]>();
    for (let r = 0; r < rounds; r++)
      for (const label of ['6 h', '1 d', '7 d', '30 d']) {
        const before = await drawnCount(page);
        const t = await page.evaluate(() => performance.now());
        await page.click(`#tl-spans button:text-is("${label}")`);
        const done = await nextFrameAfterDraw(page, before);
        const d = await page.evaluate(() =>
          Object.fromEntries(Object.entries(document.getElementById('timeline')?.dataset ?? {})),
        );
        runs.set(label, [...(runs.get(label) ?? []), [done - t, Number(d.fetchMs), Number(d.buildMs)]]);
      }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    for (const [label, xs] of runs)
      console.log(
        `clicks: ${label} drawn in ${median(xs.map((x) => x[0])).toFixed(0)} ms, answer ${median(xs.map((x) => x[1])).toFixed(0)} ms, chart built in ${median(xs.map((x) => x[2])).toFixed(0)} ms (medians of ${xs.length}; drawn ${Math.min(...xs.map((x) => x[0])).toFixed(0)}–${Math.max(...xs.map((x) => x[0])).toFixed(0)})`,
      );
  } finally {
    await browser.close();
    await serve.stop();
  }
}

async function windowCpu(dir: string, rounds: number, points: number): Promise<void> {
  const store = await openStore(join(dir, 'events.db'));
  const host = hostname();
  const rec = new HistoryRecorder(store.history, host, { retention: DEFAULT_HISTORY_RETENTION });
  const procs = processes(300, new SeededRandom(11));
  const spans: [string, number][] = [
    ['1 h', 3_600_000],
    ['6 h', 6 * 3_600_000],
    ['1 d', DAY],
    ['7 d', 7 * DAY],
    ['30 d', 30 * DAY],
  ];
  const cpuMs = async (f: () => Promise<unknown>): Promise<number> => {
    const c = process.cpuUsage();
    await f();
    const d = process.cpuUsage(c);
    return (d.user + d.system) / 1000;
  };
  const sample = async (): Promise<void> => {
    rec.record({
      atMs: Date.now(),
      categories: CATEGORIES.map(([key, name]) => ({ key, name, bytes: 500 * MiB })),
      processes: procs,
    });
    await rec.flush();
  };
  // Warm-up of the JIT: two rounds of every window uncached, not counted.
  for (let i = 0; i < 2; i++)
    for (const [, span] of spans) {
      const now = Date.now();
      await rec.window({ fromMs: now - span, toMs: now, points }, now, { cached: false });
    }
  const first = new Map<string, number>();
  const cached = new Map<string, number[]>();
  const uncached = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    await sample();
    for (const [label, span] of spans) {
      const now = Date.now();
      const q = { fromMs: now - span, toMs: now, points };
      // Alternately first, so that neither always finds the database's pages warmer.
      const order = r % 2 === 0 ? [true, false] : [false, true];
      for (const c of order) {
        const ms = await cpuMs(() => rec.window(q, now, { cached: c, prefetch: false }));
        if (c && r === 0) first.set(label, ms);
        else (c ? cached : uncached).set(label, [...((c ? cached : uncached).get(label) ?? []), ms]);
      }
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  for (const [label] of spans) {
    const c = cached.get(label) ?? [];
    const u = uncached.get(label) ?? [];
    console.log(
      `window ${label} at ${points} points, CPU ms (user+sys), median of ${c.length}: from the database ${median(u).toFixed(1)} (${Math.min(...u).toFixed(1)}–${Math.max(...u).toFixed(1)}), through the cache ${median(c).toFixed(1)} (${Math.min(...c).toFixed(1)}–${Math.max(...c).toFixed(1)}); first read through the empty cache ${first.get(label)?.toFixed(1)}`,
    );
  }
  console.log(
    `cache: ${rec.cache.rows} rows in ${rec.cache.buckets} buckets; ${rec.cache.hits} buckets found, ${rec.cache.misses} read`,
  );
  await rec.close();
  await store.close();
}

async function shots(dir: string, out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const serve = await startServe(['--no-trace'], { dir });
  const browser = await launchBrowser();
  try {
    for (const [w, h] of [
      [800, 600],
      [1440, 900],
    ] as const) {
      for (const theme of ['light', 'dark']) {
        const page = await browser.newPage();
        await page.setViewportSize({ width: w, height: h });
        await page.addInitScript((t: string) => localStorage.setItem('memlens-theme', t), theme);
        await page.goto(`${serve.url}#timeline`);
        await page.click('#tab-timeline');
        await page.click('#tl-spans button:text-is("1 d")');
        await page.waitForFunction(() => document.getElementById('timeline')?.dataset.tier === '1 minute', undefined, {
          timeout: 120_000,
        });
        await page.waitForTimeout(300);
        const box = await page.locator('#timeline').boundingBox();
        if (box !== null) await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.75);
        await page.waitForTimeout(300);
        await page.screenshot({ path: join(out, `timeline-${w}x${h}-${theme}.png`) });
        await page.close();
      }
    }
  } finally {
    await browser.close();
    await serve.stop();
  }
}

const [what, a, b, c, d] = process.argv.slice(2);
if (what === 'fill' && a !== undefined) await fill(a, Number(b ?? 7), Number(c ?? 300), Number(d ?? 1_000_000));
else if (what === 'flush') await flushCost(Number(a ?? 300));
else if (what === 'paint' && a !== undefined) await paint(a);
else if (what === 'shots' && a !== undefined && b !== undefined) await shots(a, b);
else if (what === 'clicks' && a !== undefined) await clicks(a, Number(b ?? 5));
else if (what === 'windows' && a !== undefined) await windowCpu(a, Number(b ?? 15), Number(c ?? 720));
else {
  console.error(
    'usage: history.js fill DIR [days] [processes] [events] | flush [processes] | paint DIR | shots DIR OUT | clicks DIR [rounds] | windows DIR [rounds] [points]',
  );
  process.exitCode = 2;
}
