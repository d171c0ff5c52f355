// The Dirty pages tab in a real browser (Debian's chromium through playwright-core) against a live
// `memlens serve --dirty-watch PID`, watching test/dirty/workload.c with the accessed fallback
// (this machine's kernel has no soft-dirty tracking; the soft-dirty VM test covers the other
// method). The workload runs under the name "<i id=dpwn>x", so its process name and the path of
// its executable's mapping are hostile text. The test changes the write set mid-watch to show
// that the watch keeps judging after it has converged, then ends the process. Conditions are
// awaited by polling the page, each wait bounded. Screenshots go to test-artifacts/serve/.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import type { DirtyBody } from '../../src/wire/messages.js';
import { artifactsDir } from '../helpers/paths.js';
import { Teardown } from '../helpers/teardown.js';
import { waitingFor } from '../helpers/waiting.js';
import { buildWorkload, startWorkload, type Workload } from '../dirty/workload.js';
import type { LiveServe } from './live-serve.js';
import { launchBrowser, startServe, untilInPage as until } from './live-serve.js';

const HOSTILE = '<i id=dpwn>x';
const canRun = existsSync('/usr/bin/chromium');
const shots = join(artifactsDir, 'serve');
const hex = (n: bigint): string => `0x${n.toString(16)}`;

async function dirtyBody(serve: LiveServe): Promise<DirtyBody> {
  return (await (await fetch(`${serve.url}api/v1/dirty`)).json()) as DirtyBody;
}

const text = async (page: Page, selector: string): Promise<string> => (await page.textContent(selector)) ?? '';

/** The newest round the chart shows ("… rounds shown, 1 to N; …"), 0 before the first. */
const shownRound = async (page: Page): Promise<number> =>
  Number(/1 to (\d+)/.exec((await page.getAttribute('#dirty-chart', 'aria-label')) ?? '')?.[1] ?? 0);

/**
 * Waits until the verdict matches `re`. A verdict that depends on the workload's timing (it may not
 * converge on a machine busy enough to starve it) is bounded by rounds, as `memlens dirty` bounds
 * its own watch: after `withinRounds` more rounds without it the test fails, rather than never ending.
 */
async function untilVerdict(page: Page, re: RegExp, withinRounds = 40): Promise<string> {
  const last = (await shownRound(page)) + withinRounds;
  await until(
    page,
    (a: { source: string; last: number }) =>
      new RegExp(a.source).test(document.getElementById('dirty-verdict')?.textContent ?? '') ||
      Number(/1 to (\d+)/.exec(document.getElementById('dirty-chart')?.getAttribute('aria-label') ?? '')?.[1] ?? 0) >=
        a.last,
    { source: re.source, last },
  );
  const verdict = await text(page, '#dirty-verdict');
  assert.match(verdict, re, `no such verdict by round ${last}`);
  return verdict;
}

/** Converged stretches as the chart's label states them, e.g. "4–9, 14–16". */
const stretchesIn = (label: string): string[] => /converged in rounds ([\d–, ]+)$/.exec(label)?.[1]?.split(', ') ?? [];

describe('the Dirty pages tab against a live watch', { skip: canRun ? false : 'needs /usr/bin/chromium' }, () => {
  let w: Workload;
  let serve: LiveServe;
  let browser: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const teardown = new Teardown();

  before(async () => {
    mkdirSync(shots, { recursive: true });
    // A statically linked copy (no shared library whose pages other processes touch) under a hostile name.
    const binary = join(mkdtempSync(join(tmpdir(), 'memlens-dirty-web-')), HOSTILE);
    copyFileSync(buildWorkload({ static: true }), binary);
    // Pages 5, 8, 11, … (120 of them) written every 40 ms by the workload itself.
    w = await startWorkload(['1000', 'loop', '5', '120', '3', '40'], { binary });
    teardown.add(() => w.stop());
    serve = await startServe([
      '--no-trace',
      '--dirty-watch',
      String(w.pid),
      '--dirty-fallback',
      'accessed',
      '--dirty-interval',
      '400ms',
    ]);
    teardown.add(async () => assert.equal(await serve.stop(), 0, serve.stderr()));
    // The page opens late: three rounds are already measured, and must be on the chart.
    await waitingFor("the watch's third round", async (signal) => {
      while (!signal.aborted && ((await dirtyBody(serve)).watch?.rounds ?? 0) < 3)
        await new Promise((resolve) => setTimeout(resolve, 100));
    });
    browser = await launchBrowser();
    teardown.add(() => browser.close());
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const response = await page.goto(serve.url);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  });

  after(() => teardown.run());

  test('the tab appears, and opened late it shows the history from round 1', async () => {
    await until(page, () => document.getElementById('tab-dirty')?.hidden === false);
    await page.click('#tab-dirty');
    await until(page, () =>
      /rounds shown, 1 to \d+/.test(document.getElementById('dirty-chart')?.getAttribute('aria-label') ?? ''),
    );
    const label = (await page.getAttribute('#dirty-chart', 'aria-label')) ?? '';
    assert.match(label, /^pages touched \(read or written\) per round: /);
    assert.ok(Number(/1 to (\d+)/.exec(label)?.[1]) >= 3, label);
    assert.ok((await page.locator('#dirty-chart canvas').count()) > 0);
    // Then new rounds arrive over the WebSocket.
    const first = Number(/1 to (\d+)/.exec(label)?.[1]);
    await until(
      page,
      (n: number) =>
        Number(/1 to (\d+)/.exec(document.getElementById('dirty-chart')?.getAttribute('aria-label') ?? '')?.[1]) >
        n + 1,
      first,
    );
  });

  test('pid, name and method in words: touched pages, never called writes', async () => {
    assert.equal(await text(page, '#dirty-title'), `Dirty pages of process ${w.pid} (${HOSTILE})`);
    const method = await text(page, '#dirty-method');
    assert.match(
      method,
      /^Method: referenced bits \(--dirty-fallback accessed\), counting pages touched \(read or written\)/,
    );
    assert.match(method, /these are not writes/);
    assert.match(await text(page, '#dirty-state'), /^watching every 400 ms$/);
    const view = await text(page, '#view-dirty');
    assert.doesNotMatch(view, /pages written|writable/);
    assert.match(
      await text(page, '#dirty-rule'),
      /at most 5 % of the larger of the two, or by at most 8 pages.*3 steady rounds in a row.*never before round 4.*keeps going after it converges/,
    );
  });

  test("the verdict, the working set and the newest round's areas: the 120 pages written, by address", async () => {
    await untilVerdict(page, /^converged at round \d+/);
    const ws = await text(page, '#dirty-ws');
    const pages = Number(/^([\d,]+) pages \(/.exec(ws)?.[1]?.replace(/,/g, ''));
    assert.ok(pages >= 120, ws);
    assert.match(ws, /touched per 400 ms round$/);
    assert.equal(await text(page, '#dirty-ws-label'), 'working set (touched)');
    await until(
      page,
      (start: string) =>
        [...document.querySelectorAll('#dirty-ranges tr')].some(
          (tr) => tr.children[0]?.textContent === start && tr.children[2]?.textContent === '120',
        ),
      hex(w.address),
    );
    const row = await page.$$eval(
      '#dirty-ranges tr',
      (rows, start) => rows.map((tr) => [...tr.children].map((c) => c.textContent)).find((cells) => cells[0] === start),
      hex(w.address),
    );
    assert.deepEqual(row, [hex(w.address), hex(w.address + BigInt(w.pages * w.pageSize)), '120', 'touched', '[anon]']);
    await page.screenshot({ path: join(shots, 'dirty-converged.png'), fullPage: true });
  });

  test("hostile text stays text: the process name and the executable's path inject nothing", async () => {
    // The executable's own pages are touched every round: its mapping, named by its path, is listed.
    await until(
      page,
      (name: string) =>
        [...document.querySelectorAll('#dirty-mappings td, #dirty-ranges td')].some((td) =>
          td.textContent.endsWith(`/${name}`),
        ),
      HOSTILE,
    );
    const injected = await page.evaluate(() => ({
      pwn: document.getElementById('dpwn') !== null,
      italic: document.querySelectorAll('i').length,
      inlineScripts: document.querySelectorAll('script:not([src])').length,
    }));
    assert.deepEqual(injected, { pwn: false, italic: 0, inlineScripts: 0 });
  });

  test('after convergence the watch keeps judging: a larger write set un-converges it, then converges at its new size', async () => {
    await untilVerdict(page, /^converged at round \d+/);
    const changedAt = (await dirtyBody(serve)).watch?.rounds ?? 0;
    // From now on pages 0 to 399 are written every 40 ms.
    await w.command('w 0 400 1');
    await untilVerdict(page, /^not converged: .*\(it had converged earlier/);
    const since = Number(/^converged at round (\d+)/.exec(await untilVerdict(page, /^converged at round \d+/))?.[1]);
    assert.ok(since > changedAt + 1, `converged again at round ${since}, the set changed after round ${changedAt}`);
    const ws = await text(page, '#dirty-ws');
    const pages = Number(/^([\d,]+) pages/.exec(ws)?.[1]?.replace(/,/g, ''));
    assert.ok(pages >= 400, ws);
    // The page and the server agree on the series (the page may be a round behind or ahead of this read).
    const api = await dirtyBody(serve);
    const label = (await page.getAttribute('#dirty-chart', 'aria-label')) ?? '';
    const shown = Number(/1 to (\d+)/.exec(label)?.[1]);
    assert.ok(Math.abs(shown - (api.watch?.rounds ?? 0)) <= 1, `${label} vs ${api.watch?.rounds}`);
    // The chart's converged stretches are the server's per-round verdicts: one ended by the change, one after it.
    const fromApi: string[] = [];
    let from: number | null = null;
    for (const r of api.series.filter((x) => x.round <= shown)) {
      if (r.converged && from === null) from = r.round;
      if (!r.converged && from !== null) {
        fromApi.push(from === r.round - 1 ? `${from}` : `${from}–${r.round - 1}`);
        from = null;
      }
    }
    if (from !== null) fromApi.push(from === shown ? `${from}` : `${from}–${shown}`);
    const stretches = stretchesIn(label);
    assert.deepEqual(stretches, fromApi);
    const ends = stretches.map((x) => x.split('–').map(Number));
    assert.ok(
      ends.some(([a = 0, b = a]) => a <= changedAt && b <= changedAt + 2),
      `no stretch ending at the change (round ${changedAt}): ${label}`,
    );
    assert.ok(
      ends.some(([a = 0]) => a === since),
      `no stretch from round ${since}: ${label}`,
    );
    await page.screenshot({ path: join(shots, 'dirty.png'), fullPage: true });
    await page.click('#theme');
    await until(page, () => document.documentElement.dataset.theme === 'dark');
    await page.screenshot({ path: join(shots, 'dirty-dark.png'), fullPage: true });
    await page.click('#theme');
  });

  test('the process exits: the watch ends with its rounds, and the page says so', async () => {
    await w.stop();
    await until(page, () => document.getElementById('dirty-state')?.textContent === 'process exited');
    const reason = await text(page, '#dirty-reason');
    assert.match(
      reason,
      new RegExp(`^process ${w.pid} exited during the watch: the \\d+ rounds measured before are kept$`),
    );
    assert.equal(await page.isVisible('#dirty-reason'), true);
    const rounds = (await dirtyBody(serve)).watch?.rounds ?? 0;
    assert.match(
      (await page.getAttribute('#dirty-chart', 'aria-label')) ?? '',
      new RegExp(`rounds shown, 1 to ${rounds};`),
    );
    await page.screenshot({ path: join(shots, 'dirty-exited.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });
});

describe('the Dirty pages tab without a watch to run', { skip: canRun ? false : 'needs /usr/bin/chromium' }, () => {
  test('started without --dirty-watch, the page has no Dirty pages tab', async () => {
    const serve = await startServe(['--no-trace']);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const probed = page.waitForResponse((r) => r.url().endsWith('/api/v1/dirty'));
      await page.goto(serve.url);
      assert.equal(((await (await probed).json()) as DirtyBody).watch, null);
      // By the first live update (a WebSocket round trip later) the answer has long been handled.
      await until(page, () => (document.getElementById('st-seq')?.textContent ?? '').startsWith('update #'));
      assert.equal(await page.isHidden('#tab-dirty'), true);
    } finally {
      await browser.close();
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });

  test('on a kernel without soft-dirty and without --dirty-fallback, the tab says why nothing is watched', async (t) => {
    const w = await startWorkload(['100', 'once']);
    const serve = await startServe(['--no-trace', '--dirty-watch', String(w.pid)]);
    const browser = await launchBrowser();
    try {
      const head = (await dirtyBody(serve)).watch;
      if (head?.softDirty.supported === true) {
        t.skip('this kernel tracks soft-dirty pages');
        return;
      }
      const page = await browser.newPage();
      await page.goto(`${serve.url}#dirty`);
      await until(page, () =>
        (document.getElementById('dirty-reason')?.textContent ?? '').startsWith(
          'soft-dirty tracking is not available on this kernel',
        ),
      );
      await until(page, () => document.getElementById('tab-dirty')?.hidden === false);
      assert.match(
        await text(page, '#dirty-reason'),
        /Restart memlens serve with --dirty-fallback accessed to count pages touched \(read or written\) instead\.$/,
      );
      assert.equal(await text(page, '#dirty-state'), 'not watching');
      assert.equal(await text(page, '#dirty-verdict'), 'no watch');
      assert.equal(await page.isVisible('#dirty-reason'), true);
      await page.screenshot({ path: join(shots, 'dirty-unavailable.png'), fullPage: true });
    } finally {
      await browser.close();
      await w.stop();
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});
