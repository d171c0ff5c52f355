// The /proc history survives a restart of `memlens serve`: a server samples for a while and
// stops; a second one started on the same store serves, through the HTTP API and in the Timeline
// drawn by Chromium, the samples the first one took, and the per-process PSS histories (the
// sparklines' and the detail view's) of a process that lived through both (this test's own
// process) start before the restart.
// The functions passed to the page run in the browser: hence the DOM types in this file.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { artifactsDir } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import type { HistoryBody, ProcessDetailBody, ProcessesBody } from '../../src/wire/messages.js';
import type { LiveServe } from './live-serve.js';
import { launchBrowser, serveDataDir, startServe } from './live-serve.js';

const canRun = existsSync('/usr/bin/chromium');
/** Every wait gives up after this long, saying what it waited for. */
const BOUND_MS = 4 * 60_000;

const apiGet = async <T>(serve: LiveServe, path: string): Promise<T> => {
  const res = await fetch(`${serve.url}api/v1/${path}`);
  assert.equal(res.status, 200, `GET ${path}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
};

/** Polls `check` until it returns a value, for at most BOUND_MS; then fails naming `what`. */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  return waitingFor(what, async () => {
    const deadline = Date.now() + BOUND_MS;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`gave up after ${BOUND_MS / 1000} s waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  });
}

describe('history across a restart of memlens serve', { skip: canRun ? false : 'needs /usr/bin/chromium' }, () => {
  const dir = serveDataDir();
  const servers: LiveServe[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // A high CPU budget: the sampler then samples about every second (its shortest interval).
  const flags = ['--no-trace', '--cpu-budget', '50'];

  test('the second server shows the first one’s samples, over HTTP and in Chromium', async () => {
    const first = await startServe(flags, { dir });
    servers.push(first);
    const since = Date.now() - 1000;
    const before = await until('the first server to have 5 samples in its history', async () => {
      const h = await apiGet<HistoryBody>(first, `history?from=${since}&to=${Date.now() + 1000}&points=1000`);
      return h.points.length >= 5 ? h : undefined;
    });
    assert.equal(before.tier, 'every sample');
    // This test's own process is sampled too (root reads every smaps_rollup; otherwise its owner).
    await until(`the first server to have PSS history of this test's process ${process.pid}`, async () => {
      const d = await apiGet<ProcessDetailBody>(first, `processes/${process.pid}`);
      return d.history.some((p) => p.pssBytes !== null) ? true : undefined;
    });
    assert.equal(await first.stop(), 0, `first server's exit code; stderr: ${first.stderr()}`);
    servers.pop();
    const stoppedAt = Date.now();
    const firstTimes = before.points.map((p) => p.tMs);

    const second = await startServe(flags, { dir });
    servers.push(second);
    const after_ = await apiGet<HistoryBody>(second, `history?from=${since}&to=${Date.now() + 1000}&points=1000`);
    const times = new Set(after_.points.map((p) => p.tMs));
    for (const t of firstTimes)
      assert.ok(times.has(t), `sample of ${new Date(t).toISOString()} from before the restart is served after it`);
    const anon = after_.categories.findIndex((c) => c.key === 'anon');
    assert.ok(anon >= 0, 'the anonymous-memory category is there');
    // Each body lists its categories in its own order: index each by its own.
    const anonBefore = before.categories.findIndex((c) => c.key === 'anon');
    const was = before.points[0];
    const is = after_.points.find((p) => p.tMs === was?.tMs);
    assert.equal(is?.avg[anon], was?.avg[anonBefore], 'the stored figure is the one served before the restart');
    // The process series: minute buckets, written when the first server stopped.
    const mine = after_.processes.find((p) => p.pid === process.pid);
    assert.ok(
      mine !== undefined,
      `process ${process.pid} (this test) is among the ranked processes: ${after_.processes.map((p) => `${p.name}/${p.pid}`).join(', ')}`,
    );
    assert.ok(mine.maxPssBytes > 0);
    // The detail of a process exists once the second server has sampled it (its first sample
    // comes after it starts listening); its history must then reach back before the restart.
    const detail = await until(`the second server's detail of process ${process.pid}`, async () => {
      const res = await fetch(`${second.url}api/v1/processes/${process.pid}`);
      return res.status === 200 ? ((await res.json()) as ProcessDetailBody) : undefined;
    });
    assert.ok(
      detail.history.some((p) => p.tMs < stoppedAt && p.pssBytes !== null),
      `the in-memory PSS history of process ${process.pid} starts before the restart: ${JSON.stringify(detail.history.slice(0, 3))}`,
    );

    // The sparklines' PSS history (ProcessHistory) was seeded from the store too.
    const spark = await until(`the second server's sparkline series of process ${process.pid}`, async () => {
      const body = await apiGet<ProcessesBody>(second, 'processes');
      return body.pssHistory?.series.find((x) => x.pid === process.pid);
    });
    assert.ok(
      (spark.tMs[0] ?? Infinity) < stoppedAt,
      `the sparkline of process ${process.pid} starts before the restart: ${JSON.stringify(spark.tMs.slice(0, 3))}`,
    );

    // The Timeline in Chromium: its first point is from the first server.
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${second.url}#timeline`);
      await page.click('#tab-timeline');
      const firstMs = Math.min(...firstTimes);
      await waitingFor(
        `the Timeline in Chromium to draw a point from before the restart (${new Date(firstMs).toISOString()}) and a process series`,
        () =>
          page.waitForFunction(
            (t: number) => {
              const d = document.getElementById('timeline')?.dataset;
              return d !== undefined && Number(d.firstMs) <= t && Number(d.series) > 0;
            },
            firstMs,
            { timeout: BOUND_MS, polling: 200 },
          ),
      );
      const drawn = await page.evaluate(() =>
        Object.fromEntries(Object.entries(document.getElementById('timeline')?.dataset ?? {})),
      );
      assert.ok(Number(drawn.points) >= firstTimes.length, `points drawn: ${JSON.stringify(drawn)}`);
      // A tooltip on the stacked categories: hover the newest samples in the chart's upper grid.
      const box = await page.locator('#timeline').boundingBox();
      assert.ok(box !== null);
      await page.mouse.move(box.x + box.width - 40, box.y + box.height * 0.3);
      await waitingFor('a tooltip with a category and a size', () =>
        page.waitForFunction(
          () =>
            /anonymous memory of processes: [\d.]+ [KMGT]i?B/.test(
              document.querySelector('#timeline')?.textContent ?? '',
            ),
          undefined,
          { timeout: BOUND_MS, polling: 200 },
        ),
      );
      mkdirSync(artifactsDir, { recursive: true });
      await page.screenshot({ path: join(artifactsDir, 'history-timeline.png') });
    } finally {
      await browser.close();
    }
  });
});
