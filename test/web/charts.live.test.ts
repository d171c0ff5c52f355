// The dashboard's charts and tables in Debian's Chromium against a live `memlens serve`, and the
// memtrace HTML report: what each has to answer at a glance. The System picture's labels do not
// overlap (their rendered boxes are read from the SVG); the calls table heads every column and
// brk and munmap read as results; the OCaml view draws the 9,984-frame stacks of
// lists_and_sets-v1.ctf and drops the previous trace's charts when another is chosen; the HTML
// report draws the same stacks and keeps its axis labels inside its chart. Screenshots of every
// view at 800×600 and 1440×900 in both themes go to test-artifacts/screenshots/.
// The functions passed to the page run in the browser: hence the DOM types in this file.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { runCli } from '../helpers/cli.js';
import { artifactsDir } from '../helpers/paths.js';
import { Teardown } from '../helpers/teardown.js';
import { describePredicate, waitingFor } from '../helpers/waiting.js';
import { publicTracePath } from '../memtrace/public-traces.js';
import { buildScenario, LEAKY_SERVER, type ScenarioOptions } from '../memtrace/scenarios.js';
import { PROMISES_BELOW_NOTE } from '../../src/wire/memtrace.js';
import type { LiveServe, Workload } from './live-serve.js';
import { launchBrowser, startServe, startWorkload } from './live-serve.js';

const DEEP = 'lists_and_sets-v1.ctf';
/** A hand-made Lwt server's trace (test/memtrace/scenarios.ts), written for the test. */
const LWT = 'lwt-server.ctf';
const LWT_SERVER: ScenarioOptions = {
  durationS: 40,
  tickUs: 2000,
  leak: false,
  race: null,
  warmup: false,
  promises: true,
  tasks: true,
  seed: 5,
};
const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/chromium') && existsSync(publicTracePath(DEEP));
const shots = join(artifactsDir, 'screenshots');
const SIZES = [
  { width: 800, height: 600 },
  { width: 1440, height: 900 },
];
const THEMES = ['light', 'dark'] as const;
/** Minutes any one condition is waited for, on a machine shared with other test runs. */
const WAIT_MINUTES = 4;

/** Waits until the predicate holds in the page; after WAIT_MINUTES, fails saying what it waited for. */
async function until<A>(page: Page, fn: (arg: A) => boolean, arg?: A): Promise<void> {
  const what = `the page: ${describePredicate(fn, arg)}`;
  await waitingFor(what, async () => {
    try {
      await page.waitForFunction(fn as (arg: unknown) => boolean, arg, {
        timeout: WAIT_MINUTES * 60_000,
        polling: 200,
      });
    } catch (e) {
      throw new Error(
        `gave up after ${WAIT_MINUTES} min waiting for ${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
      );
    }
  });
}

async function setTheme(page: Page, theme: 'light' | 'dark'): Promise<void> {
  // A DOM click: the process detail panel covers the button for the pointer.
  for (let i = 0; i < 2 && (await page.evaluate(() => document.documentElement.dataset.theme)) !== theme; i++)
    await page.evaluate(() => document.getElementById('theme')?.click());
  await until(page, (t: string) => document.documentElement.dataset.theme === t, theme);
}

/** Screenshots of the page as it is, at both sizes in both themes; `ready` is awaited after each change. */
async function shootAll(page: Page, name: string, ready: () => Promise<void> = () => Promise.resolve()): Promise<void> {
  mkdirSync(shots, { recursive: true });
  for (const theme of THEMES) {
    await setTheme(page, theme);
    for (const size of SIZES) {
      await page.setViewportSize(size);
      // ECharts resizes on a ResizeObserver callback; two frames let it draw at the new size.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      await ready();
      await page.screenshot({ path: join(shots, `${name}-${size.width}x${size.height}-${theme}.png`) });
    }
  }
  await setTheme(page, 'light');
  await page.setViewportSize({ width: 1440, height: 900 });
}

interface Box {
  text: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** The visible, non-empty text elements under `selector`, with their rendered boxes. */
function labelBoxes(page: Page, selector: string): Promise<Box[]> {
  return page.$$eval(`${selector} text`, (nodes) =>
    nodes
      .map((n) => {
        const r = n.getBoundingClientRect();
        const style = getComputedStyle(n);
        const hidden =
          style.display === 'none' ||
          style.visibility === 'hidden' ||
          Number(style.opacity) === 0 ||
          n.closest('[display="none"]') !== null;
        return { text: n.textContent.trim(), left: r.left, top: r.top, right: r.right, bottom: r.bottom, hidden };
      })
      .filter((b) => !b.hidden && b.text !== '' && b.right - b.left > 0 && b.bottom - b.top > 0)
      .map(({ text, left, top, right, bottom }) => ({ text, left, top, right, bottom })),
  );
}

function overlaps(boxes: Box[]): string[] {
  const out: string[] = [];
  // Half a pixel of slack: glyph boxes of neighbouring lines may touch.
  const e = 0.5;
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i] as Box;
      const b = boxes[j] as Box;
      if (a.left < b.right - e && b.left < a.right - e && a.top < b.bottom - e && b.top < a.bottom - e)
        out.push(`"${a.text}" and "${b.text}"`);
    }
  }
  return out;
}

describe(
  'charts in chromium against a live memlens serve',
  { skip: canRun ? false : `needs root, /usr/bin/chromium and ${publicTracePath(DEEP)}` },
  () => {
    let serve: LiveServe;
    let browser: BrowserContext;
    let page: Page;
    let workload: Workload;
    const errors: string[] = [];
    const teardown = new Teardown();
    const traces = mkdtempSync(join(tmpdir(), 'memlens-charts-traces-'));

    before(async () => {
      teardown.add(() => rmSync(traces, { recursive: true, force: true }));
      // Copies made now (the server refuses symbolic links out of its directory); never committed.
      copyFileSync(publicTracePath(DEEP), join(traces, DEEP));
      copyFileSync(publicTracePath('ocamlopt-v3.ctf'), join(traces, 'ocamlopt-v3.ctf'));
      writeFileSync(join(traces, 'broken.ctf'), 'not a trace\n');
      writeFileSync(join(traces, LWT), buildScenario(LWT_SERVER).bytes);
      serve = await startServe(['--memtrace-dir', traces]);
      teardown.add(async () => {
        assert.equal(await serve.stop(), 0, serve.stderr());
      });
      // 2 × 1 GiB of address space, one unmapped: mmap and munmap calls; printf's buffer, brk.
      workload = await startWorkload('mlcharts', 1, 2, 1);
      teardown.add(() => workload.stop());
      browser = await launchBrowser();
      teardown.add(() => browser.close());
      page = await browser.newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(serve.url);
    });

    after(() => teardown.run());

    test('System: the used memory as a treemap whose visible labels never overlap, free apart', async () => {
      await page.click('#tab-system');
      await until(
        page,
        () =>
          document.querySelectorAll('#ledger svg text').length > 3 &&
          document.querySelectorAll('#ledger-body tr').length > 2,
      );
      const check = async (): Promise<void> => {
        const boxes = await labelBoxes(page, '#ledger');
        assert.ok(boxes.length > 3, `labels drawn: ${boxes.map((b) => b.text).join(', ')}`);
        assert.deepEqual(overlaps(boxes), [], 'labels of the System picture overlap');
      };
      await check();
      // Free is a row of the ledger, last, and not in the picture until asked for.
      const rows = await page.$$eval('#ledger-body tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
      assert.equal(rows[rows.length - 3], 'free');
      assert.ok(!(await labelBoxes(page, '#ledger')).some((b) => b.text === 'free'));
      // A tooltip on a box: bytes, share, where the figure comes from.
      const box = await page.locator('#ledger').boundingBox();
      assert.ok(box !== null);
      let tip = '';
      for (let i = 1; i < 8 && !tip.includes('of MemTotal'); i++) {
        await page.mouse.move(box.x + (box.width * i) / 9, box.y + box.height / 2);
        tip = await page.evaluate(() =>
          [...document.querySelectorAll('#ledger > div')]
            .filter((d) => d.querySelector('svg') === null)
            .map((d) => d.textContent)
            .join('|'),
        );
      }
      assert.match(tip, /of MemTotal/);
      assert.match(tip, /from: /);
      await page.mouse.move(2, 2);
      await shootAll(page, 'system', check);
      await page.check('#ledger-free');
      await until(page, () => [...document.querySelectorAll('#ledger svg text')].some((t) => t.textContent === 'free'));
      await check();
      await page.uncheck('#ledger-free');
    });

    test('Calls: every column headed; brk shows the new break, munmap "ok", mmap the address', async () => {
      await page.click('#tab-calls');
      await page.fill('#calls-pid', String(workload.pid));
      await page.click('#calls-form button[type=submit]');
      const cells = (): Promise<Record<string, string>[]> =>
        page.$$eval('#calls-inner .vrow:not(.more)', (rows) =>
          rows.map((r) =>
            Object.fromEntries([...r.children].map((c) => [(c as HTMLElement).dataset.col ?? '', c.textContent])),
          ),
        );
      await until(page, () => {
        const calls = [...document.querySelectorAll('#calls-inner .vrow:not(.more) [data-col="call"]')].map(
          (c) => c.textContent,
        );
        return calls.includes('brk') && calls.includes('munmap') && calls.includes('mmap');
      });
      const heads = await page.$$eval('#calls-head span', (spans) =>
        spans.map((s) => ({
          col: (s as HTMLElement).dataset.col,
          text: s.textContent.trim(),
          hidden: (s as HTMLElement).hidden,
        })),
      );
      const rows = await cells();
      assert.ok(
        heads.every((h) => h.text !== ''),
        `a column without heading: ${JSON.stringify(heads)}`,
      );
      assert.deepEqual(
        Object.keys(rows[0] ?? {}),
        heads.map((h) => h.col),
      );
      for (const r of rows.filter((x) => x.call === 'brk')) {
        assert.equal(r.size, '—');
        assert.match(r.result ?? '', /^0x[0-9a-f]+( \(not moved\))?$/);
        assert.notEqual(r.result, '0x0');
      }
      const munmap = rows.find((x) => x.call === 'munmap' && x.size === '1.00 GiB');
      assert.equal(munmap?.result, 'ok');
      const mmap = rows.find((x) => x.call === 'mmap' && x.size === '1.00 GiB');
      assert.ok(mmap !== undefined, 'no 1 GiB mmap row');
      assert.match(mmap.result ?? '', /^0x[0-9a-f]{6,}$/);
      assert.equal(mmap.prot, 'rw-');
      assert.equal(mmap.flags, 'private anon noreserve');
      assert.equal(mmap.fd, 'none');
      // tid and thread are hidden at first and can be shown.
      assert.deepEqual(
        heads.filter((h) => h.hidden).map((h) => h.col),
        ['tid', 'thread'],
      );
      await page.click('#calls-columns summary');
      await page.check('#calls-columns-list input[data-col="tid"]');
      await until(
        page,
        (pid: number) =>
          [...document.querySelectorAll('#calls-inner .vrow:not(.more) [data-col="tid"]')].some(
            (c) => !(c as HTMLElement).hidden && c.textContent === String(pid),
          ),
        workload.pid,
      );
      await page.click('#calls-columns summary');
      await shootAll(page, 'calls');
    });

    test('Process detail: resident memory and address space in two panes', async () => {
      await page.click('#tab-processes');
      const sel = `#proc-body tr[data-pid="${workload.pid}"]`;
      await until(page, (s: string) => document.querySelector(s) !== null, sel);
      await page.click(sel);
      await until(page, () => (document.getElementById('detail-title')?.textContent ?? '').startsWith('mlcharts'));
      await until(
        page,
        () =>
          document.querySelectorAll('#detail-chart canvas').length > 0 &&
          document.querySelectorAll('#detail-calls-head span').length > 0,
      );
      await shootAll(page, 'detail');
      await page.click('#detail-close');
    });

    test('OCaml: a 9,984-frame trace draws its flame graph; switching traces leaves nothing of the previous one', async () => {
      await page.click('#tab-memtrace');
      await until(page, () => document.querySelectorAll('#mt-file option').length > 3);
      // Before a trace is chosen: one line of what the view shows, no empty chart or table headings.
      assert.deepEqual(
        await page.evaluate(() => ({
          report: document.getElementById('mt-report')?.checkVisibility(),
          empty: document.getElementById('mt-empty')?.checkVisibility(),
        })),
        { report: false, empty: true },
      );
      await page.selectOption('#mt-file', DEEP);
      await until(
        page,
        () =>
          document.querySelector('#mt-flame svg') !== null ||
          document.getElementById('mt-note')?.classList.contains('error') === true,
      );
      assert.equal(await page.getAttribute('#mt-flame svg', 'aria-label'), 'flame graph, 9985 frames deep');
      const deepest = await page.$$eval('#mt-flame svg rect', (rs) =>
        Math.max(...rs.map((r) => Number(r.getAttribute('y')))),
      );
      assert.equal(deepest, 9984 * 18);
      assert.match((await page.getAttribute('#mt-chart', 'aria-label')) ?? '', /^live memory over 1\d\.\d ms/);
      // No Lwt in this program: the heading says so and no empty promise table is drawn under it.
      assert.equal(await page.textContent('#mt-promises-info'), 'no Lwt call in this trace');
      assert.equal(await page.evaluate(() => document.getElementById('mt-promises-table')?.checkVisibility()), false);
      await shootAll(page, 'memtrace');
      // A trace that cannot be read: its message, and none of the previous trace's figures.
      await page.selectOption('#mt-file', 'broken.ctf');
      await until(page, () => document.getElementById('mt-note')?.classList.contains('error') === true);
      assert.match((await page.textContent('#mt-note')) ?? '', /^broken\.ctf: .*not a memtrace trace/);
      assert.deepEqual(
        await page.evaluate(() => ({
          flame: document.getElementById('mt-flame')?.childElementCount,
          sites: document.getElementById('mt-sites')?.childElementCount,
          findings: document.getElementById('mt-findings')?.childElementCount,
          chart: document.getElementById('mt-chart')?.getAttribute('aria-label'),
          report: document.getElementById('mt-report')?.checkVisibility(),
        })),
        { flame: 0, sites: 0, findings: 0, chart: 'no trace', report: false },
      );
      await shootAll(page, 'memtrace-error');
      // Back to the deep trace, then straight to another: the first one's charts go at once.
      await page.selectOption('#mt-file', DEEP);
      await until(page, () => document.querySelector('#mt-flame svg') !== null);
      await page.selectOption('#mt-file', 'ocamlopt-v3.ctf');
      const right = await page.evaluate(() => ({
        flame: document.getElementById('mt-flame')?.textContent ?? '',
        sites: document.getElementById('mt-sites')?.textContent ?? '',
      }));
      assert.doesNotMatch(
        right.flame + right.sites,
        /Lists_and_sets|Stdlib__set/,
        'the previous trace is still on screen after choosing another',
      );
      await until(page, () => document.querySelector('#mt-flame svg') !== null);
      assert.doesNotMatch((await page.textContent('#mt-flame')) ?? '', /Lists_and_sets/);
      assert.doesNotMatch((await page.textContent('#mt-sites')) ?? '', /Lists_and_sets/);
      // An Lwt program: the site whose promises were never sampled shows its bound, not "0 ± 0"
      // (rate 1e-4, 2 words a promise: fewer than 14,978; test/memtrace/analysis.test.ts).
      await page.selectOption('#mt-file', LWT);
      await until(page, () => (document.getElementById('mt-promises')?.childElementCount ?? 0) > 0);
      const rows = await page.evaluate(() =>
        [...document.querySelectorAll('#mt-promises tr')].map((tr) =>
          [...tr.children].map((td) => [td.textContent, td.getAttribute('title') ?? '']),
        ),
      );
      const bind = rows.find((r) => r[7]?.[0] === 'Lwt.bind');
      assert.ok(bind, JSON.stringify(rows));
      assert.deepEqual(bind.slice(0, 2), [
        ['< 14,978', PROMISES_BELOW_NOTE],
        ['', ''],
      ]);
      assert.ok(
        ((await page.textContent('#mt-promises-info')) ?? '').endsWith(PROMISES_BELOW_NOTE),
        'the heading says what "< N" means',
      );
      assert.deepEqual(errors, []);
    });
  },
);

describe(
  'the memtrace HTML report in chromium',
  {
    skip:
      existsSync('/usr/bin/chromium') && existsSync(publicTracePath(DEEP))
        ? false
        : `needs /usr/bin/chromium and ${publicTracePath(DEEP)}`,
  },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-charts-report-'));
    let browser: BrowserContext;
    const teardown = new Teardown();
    before(async () => {
      teardown.add(() => rmSync(dir, { recursive: true, force: true }));
      browser = await launchBrowser();
      teardown.add(() => browser.close());
    });
    after(() => teardown.run());

    const report = async (name: string, trace: string): Promise<Page> => {
      const html = join(dir, `${name}.html`);
      const r = await runCli(['memtrace', trace, '--html', html]);
      assert.equal(r.code, 0, r.stderr);
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`file://${html}`);
      await until(
        page,
        () =>
          document.querySelector('#flame svg') !== null ||
          (document.getElementById('flame-info')?.textContent ?? '') !== '',
      );
      assert.deepEqual(errors, []);
      return page;
    };

    /** Every axis label of the live-memory chart lies inside the chart's box. */
    const labelsInside = async (page: Page): Promise<Box[]> => {
      const chart = await page.locator('svg[aria-label="live memory over time"]').boundingBox();
      assert.ok(chart !== null);
      const labels = await labelBoxes(page, 'svg[aria-label="live memory over time"]');
      assert.ok(labels.length >= 6, `axis labels: ${labels.length}`);
      for (const l of labels) {
        assert.ok(
          l.left >= chart.x - 0.5 &&
            l.right <= chart.x + chart.width + 0.5 &&
            l.top >= chart.y - 0.5 &&
            l.bottom <= chart.y + chart.height + 0.5,
          `label "${l.text}" at ${JSON.stringify(l)} is cut by the chart's box ${JSON.stringify(chart)}`,
        );
      }
      return labels;
    };

    test('lists_and_sets: the 9,984-frame flame graph draws, the time axis is in ms, no label is cut', async () => {
      const page = await report('deep', publicTracePath(DEEP));
      assert.equal(await page.getAttribute('#flame svg', 'aria-label'), 'flame graph, 9985 frames deep');
      assert.match((await page.textContent('#flame-info')) ?? '', /^Showing 5\.78 MiB of 5\.78 MiB allocated/);
      for (const width of [800, 1440]) {
        await page.setViewportSize({ width, height: width === 800 ? 600 : 900 });
        const labels = await labelsInside(page);
        assert.deepEqual(
          labels.filter((l) => / s$/.test(l.text)),
          [],
          'a 13 ms trace labelled in seconds',
        );
        assert.ok(
          labels.some((l) => l.text === '10 ms'),
          labels.map((l) => l.text).join(', '),
        );
        mkdirSync(shots, { recursive: true });
        await page.screenshot({ path: join(shots, `memtrace-report-${width}.png`) });
      }
      await page.close();
    });

    test('a report whose live memory passes 10 MiB keeps its y labels whole', async () => {
      const trace = join(dir, 'big.ctf');
      writeFileSync(trace, buildScenario(LEAKY_SERVER).bytes);
      const page = await report('big', trace);
      await page.setViewportSize({ width: 800, height: 600 });
      const labels = await labelsInside(page);
      const y = labels.filter((l) => /iB$/.test(l.text)).map((l) => l.text);
      assert.ok(
        y.some((t) => /^\d{2,}(\.\d+)? MiB$/.test(t)),
        `y labels: ${y.join(', ')}`,
      );
      await page.screenshot({ path: join(shots, 'memtrace-report-big-800.png'), fullPage: false });
      await page.close();
    });
  },
);
