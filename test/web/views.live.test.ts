// Every view of the dashboard, in Debian's Chromium against a live `memlens serve` run as root with
// known workloads (workload.c): one with 2 × 1 GiB mapped and one unmapped, one reserving 64 GiB
// with PROT_NONE, one growing 2 MiB a second (its sparkline and Timeline line rise), and an OCaml
// memtrace trace with a leak and an allocation race (the test encoder's). Each view is shot at
// 800×600 and 1440×900, light and dark, into test-artifacts/views/ (CI keeps the folder; the
// README's and docs/serve.md's pictures are picked from it). At 1440×900 no view scrolls
// sideways: not the page, not a table, not the calls list (the Processes table hides its
// low-value columns behind the column picker for that); nor, at 800×600, do the Processes view,
// the process detail and the Calls view (a narrow window starts with fewer columns). The Timeline opens on the history there
// is (a fresh server's minute, not an hour with the points at its right edge), its two charts
// draw over the same span of time (the stack of categories and the processes' lines, read from
// the canvas), and its y axes end on a round tick. In every view the status strip keeps to one line.
// The functions passed to the page run in the browser: hence the DOM types in this file.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { artifactsDir } from '../helpers/paths.js';
import { Teardown } from '../helpers/teardown.js';
import { buildScenario, LEAKY_SERVER } from '../memtrace/scenarios.js';
import type { LiveServe, Workload } from './live-serve.js';
import {
  launchBrowser,
  PAGE_WAIT_MS,
  startServe,
  startWorkload,
  startWorkloadMode,
  untilInPage as until,
} from './live-serve.js';

const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/chromium');
const shots = join(artifactsDir, 'views');
const SIZES = [
  { width: 800, height: 600 },
  { width: 1440, height: 900 },
];
const THEMES = ['light', 'dark'] as const;
const TRACE = 'lwt-server.ctf';

async function setTheme(page: Page, theme: 'light' | 'dark'): Promise<void> {
  // A DOM click: the process detail panel covers the button for the pointer.
  for (let i = 0; i < 2 && (await page.evaluate(() => document.documentElement.dataset.theme)) !== theme; i++)
    await page.evaluate(() => document.getElementById('theme')?.click());
  await until(page, (t: string) => document.documentElement.dataset.theme === t, theme);
}

/** Elements that scroll sideways: the page, and every scrolling box that is shown. */
function sidewaysScrollers(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth + 1) out.push(`the page (${root.scrollWidth} px in ${root.clientWidth})`);
    for (const e of document.querySelectorAll<HTMLElement>('main, aside, .table-scroll, .vtable, .vscroll, .chart')) {
      if (e.offsetParent === null && getComputedStyle(e).position !== 'fixed') continue;
      if (e.closest('[hidden]') !== null) continue;
      const x = getComputedStyle(e).overflowX;
      if ((x === 'auto' || x === 'scroll') && e.scrollWidth > e.clientWidth + 1)
        out.push(
          `${e.id === '' ? `${e.tagName.toLowerCase()}.${e.className}` : `#${e.id}`} (${e.scrollWidth} px in ${e.clientWidth})`,
        );
    }
    return out;
  });
}

/**
 * Whether the calls list shows its rows, in the page and in a picture: rows whose boxes meet both
 * the list's box and the window, and ink (text, row lines) in a screenshot of the list. Once every
 * row was in the page and inside the list's box while the unfiltered live list's pictures showed an
 * empty table, so the boxes alone do not prove it.
 */
async function assertCallRowsDrawn(page: Page, label: string): Promise<void> {
  const seen = await page.evaluate(() => {
    const box = document.getElementById('calls-scroll')?.getBoundingClientRect();
    if (box === undefined) return { rows: 0, box: null };
    const rows = [...document.querySelectorAll('#calls-inner .vrow:not(.more)')].filter((r) => {
      const b = r.getBoundingClientRect();
      return (
        b.height > 0 &&
        b.bottom > Math.max(box.top, 0) &&
        b.top < Math.min(box.bottom, window.innerHeight) &&
        b.right > 0 &&
        b.left < window.innerWidth
      );
    }).length;
    return {
      rows,
      box: {
        x: box.left + 1,
        y: box.top + 1,
        width: Math.min(box.width, window.innerWidth - box.left) - 2,
        height: Math.min(box.height, window.innerHeight - box.top) - 2,
      },
    };
  });
  assert.ok(seen.box !== null && seen.rows >= 5, `${label}: ${seen.rows} call rows meet the list's box and the window`);
  const png = await page.screenshot({ clip: seen.box });
  // The share of pixels in the list that differ from its commonest colour (its background).
  const ink = await page.evaluate(
    async (src: string) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const g = canvas.getContext('2d');
      if (g === null) return 0;
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, img.width, img.height).data;
      const counts = new Map<number, number>();
      for (let i = 0; i < d.length; i += 4) {
        const k = ((d[i] ?? 0) << 16) | ((d[i + 1] ?? 0) << 8) | (d[i + 2] ?? 0);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      let bg = 0;
      let most = -1;
      for (const [k, n] of counts) if (n > most) [bg, most] = [k, n];
      let differ = 0;
      for (let i = 0; i < d.length; i += 4) {
        const dist =
          Math.abs((d[i] ?? 0) - ((bg >> 16) & 255)) +
          Math.abs((d[i + 1] ?? 0) - ((bg >> 8) & 255)) +
          Math.abs((d[i + 2] ?? 0) - (bg & 255));
        if (dist > 60) differ++;
      }
      return differ / (d.length / 4);
    },
    `data:image/png;base64,${png.toString('base64')}`,
  );
  // Rows of text fill a few percent of the list at least; an empty list has none.
  assert.ok(
    ink > 0.01,
    `${label}: the calls list's picture is empty (${(ink * 100).toFixed(2)} % of its pixels differ from its background)`,
  );
}

/**
 * The Timeline's two charts share their time axis: both grids map the window to the same pixels,
 * and the stack of categories and the processes' lines are drawn over the same columns. Read from
 * the canvas: the columns of each grid's box (data-grids, as ECharts maps the window into it) that
 * hold coloured pixels (the stack's and the lines' colours are saturated; the background, grid
 * lines and labels are grey). A fresh server's history once drew the lines from the grid's left
 * edge (a minute's mean at the minute's start, before the first sample) to the start of the current
 * minute, while the stack ran from the first sample to the newest.
 */
async function assertTimelineAligned(page: Page, label: string): Promise<void> {
  const seen = await page.evaluate(() => {
    const box = document.getElementById('timeline');
    const canvas = box?.querySelector('canvas');
    const grids = (box?.dataset.grids ?? '').split('|').map((g) => g.split(',').map(Number));
    const g = canvas?.getContext('2d');
    if (canvas === undefined || canvas === null || g === null || g === undefined || grids.length !== 2) return null;
    const rect = canvas.getBoundingClientRect();
    const sx = canvas.width / rect.width;
    const sy = canvas.height / rect.height;
    const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
    const extent = ([l = 0, t = 0, r = 0, b = 0]: number[]): [number, number] => {
      let lo = Infinity;
      let hi = -Infinity;
      for (let x = Math.round(l * sx); x <= Math.round(r * sx) && x < canvas.width; x++) {
        let n = 0;
        for (let y = Math.round((t + 2) * sy); y < Math.round((b - 2) * sy); y++) {
          const i = (y * canvas.width + x) * 4;
          const [cr = 0, cg = 0, cb = 0, ca = 0] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
          if (ca > 64 && Math.max(cr, cg, cb) - Math.min(cr, cg, cb) > 60) n++;
        }
        if (n >= 2) {
          lo = Math.min(lo, x / sx);
          hi = Math.max(hi, x / sx);
        }
      }
      return [lo, hi];
    };
    return { grids, stack: extent(grids[0] ?? []), lines: extent(grids[1] ?? []) };
  });
  assert.ok(seen !== null, `${label}: the Timeline's canvas and grid boxes`);
  const [top, bottom] = seen.grids;
  assert.deepEqual(
    [top?.[0], top?.[2]],
    [bottom?.[0], bottom?.[2]],
    `${label}: the two grids map the window to different pixels: ${seen.grids.join(' | ')}`,
  );
  const text = `stack over x = ${seen.stack.join('–')} px, lines over ${seen.lines.join('–')} px, grids ${seen.grids.join(' | ')}`;
  assert.ok(Number.isFinite(seen.stack[0]) && Number.isFinite(seen.lines[0]), `${label}: nothing drawn: ${text}`);
  assert.ok(
    Math.abs(seen.stack[0] - seen.lines[0]) <= 3 && Math.abs(seen.stack[1] - seen.lines[1]) <= 3,
    `${label}: the stack and the processes' lines span different times: ${text}`,
  );
}

/**
 * Screenshots of the page at both sizes in both themes, `ready` awaited after each change; at
 * 1440×900, and at 800×600 too when `fitsNarrow`, nothing may scroll sideways. Returns what
 * scrolls sideways at 800×600 otherwise, for the log. `check` runs after each screenshot.
 */
async function shootAll(
  page: Page,
  name: string,
  ready: () => Promise<void> = () => Promise.resolve(),
  check?: (label: string) => Promise<void>,
  fitsNarrow = false,
): Promise<string[]> {
  mkdirSync(shots, { recursive: true });
  const narrow: string[] = [];
  for (const theme of THEMES) {
    await setTheme(page, theme);
    for (const size of SIZES) {
      await page.setViewportSize(size);
      // ECharts resizes on a ResizeObserver callback; two frames let it draw at the new size.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      await ready();
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      await page.screenshot({ path: join(shots, `${name}-${size.width}x${size.height}-${theme}.png`) });
      await check?.(`${name} at ${size.width}×${size.height} (${theme})`);
      // The status strip keeps to one line (shorter wording in a narrow window, the rest cut): the
      // middles of its items shown lie within a few pixels of one another.
      const middles = await page.$$eval('#status > *', (items) =>
        items
          .map((i) => i.getBoundingClientRect())
          .filter((r) => r.width > 0)
          .map((r) => Math.round(r.top + r.height / 2)),
      );
      assert.ok(
        Math.max(...middles) - Math.min(...middles) <= 4,
        `${name} at ${size.width}×${size.height} (${theme}): the status strip's items are on several lines (their middles at ${middles.join(', ')} px)`,
      );
      const sideways = await sidewaysScrollers(page);
      if (size.width === 1440 || fitsNarrow)
        assert.deepEqual(sideways, [], `${name} at ${size.width}×${size.height} (${theme}) scrolls sideways`);
      else narrow.push(...sideways.map((s) => `${name} ${theme}: ${s}`));
    }
  }
  await setTheme(page, 'light');
  await page.setViewportSize({ width: 1440, height: 900 });
  return narrow;
}

describe(
  'every view in chromium, at two sizes and in both themes',
  { skip: canRun ? false : 'needs root (tracing) and /usr/bin/chromium' },
  () => {
    let serve: LiveServe;
    let browser: BrowserContext;
    let page: Page;
    let mapper: Workload;
    let grower: Workload;
    let reserver: Workload;
    const errors: string[] = [];
    const narrow: string[] = [];
    const teardown = new Teardown();
    const traces = mkdtempSync(join(tmpdir(), 'memlens-views-traces-'));

    before(async () => {
      teardown.add(() => rmSync(traces, { recursive: true, force: true }));
      writeFileSync(join(traces, TRACE), buildScenario(LEAKY_SERVER).bytes);
      // The workloads start before the server: their mappings come from /proc/PID/maps then, and
      // the dirty-pages watch needs a pid to watch.
      mapper = await startWorkload('mlviews', 1, 2, 1);
      teardown.add(() => mapper.stop());
      reserver = await startWorkloadMode('mlreserve', ['reserve', '64', '8']);
      teardown.add(() => reserver.stop());
      grower = await startWorkloadMode('mlgrow', ['grow', '2', '1000']);
      teardown.add(() => grower.stop());
      // A high CPU budget: a sample about every second, so the Timeline has points within seconds.
      serve = await startServe([
        '--memtrace-dir',
        traces,
        '--cpu-budget',
        '50',
        '--dirty-watch',
        String(grower.pid),
        '--dirty-fallback',
        'accessed',
      ]);
      teardown.add(async () => {
        assert.equal(await serve.stop(), 0, serve.stderr());
      });
      browser = await launchBrowser();
      teardown.add(() => browser.close());
      page = await browser.newPage();
      // Clicks and screenshots wait as long as the page waits: the machine may be shared with other test runs.
      page.setDefaultTimeout(PAGE_WAIT_MS);
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(serve.url);
    });

    after(async () => {
      // What scrolls sideways at 800×600 in the other views is not a failure, but it is said.
      if (narrow.length > 0) console.log(`sideways at 800×600:\n  ${narrow.join('\n  ')}`);
      await teardown.run();
    });

    test('Processes: the required columns, nothing scrolling sideways at 1440 px', async () => {
      await page.click('#tab-processes');
      await until(
        page,
        (pids: number[]) =>
          pids.every(
            (pid) =>
              document
                .querySelector(`#proc-body tr[data-pid="${pid}"] [data-col=ussBytes]`)
                ?.textContent.endsWith('iB') === true,
          ),
        [grower.pid, reserver.pid],
      );
      await until(
        page,
        (pid: number) =>
          document.querySelector(`#proc-body tr[data-pid="${pid}"] [data-col=reservedBytes]`)?.textContent ===
          '64.0 GiB',
        reserver.pid,
      );
      await until(page, () => document.querySelector('#pie svg path') !== null);
      const heads = await page.$$eval('#proc-head th', (ths) =>
        ths.filter((t) => !(t as HTMLElement).hidden).map((t) => t.textContent),
      );
      for (const h of [
        'PID',
        'Name',
        'PSS',
        'PSS, last hour',
        'USS',
        'RSS',
        'Swap',
        'Requested',
        '% of total',
        'Reserved',
      ])
        assert.ok(heads.includes(h), `column ${h} shown: ${heads.join(', ')}`);
      narrow.push(...(await shootAll(page, 'processes', undefined, undefined, true)));
      // The column picker brings a hidden column back.
      await page.click('#proc-columns summary');
      await page.check('#proc-columns-list input[data-col="calls"]');
      assert.equal(await page.isVisible('#proc-head th[data-col="calls"]'), true);
      await page.uncheck('#proc-columns-list input[data-col="calls"]');
      await page.click('#proc-columns summary');
    });

    test('Process detail', async () => {
      const sel = `#proc-body tr[data-pid="${grower.pid}"]`;
      await page.click(`${sel} [data-col=name]`);
      await until(page, () => (document.getElementById('detail-title')?.textContent ?? '').startsWith('mlgrow'));
      try {
        await until(
          page,
          () =>
            document.querySelectorAll('#detail-chart canvas').length > 0 &&
            document.querySelectorAll('#detail-maps tr').length > 0,
        );
        // The two panes of memory over time put the same time at the same x (data-x-pixels: where
        // each pane's axis puts the history's first and last time).
        const aligned = async (label: string): Promise<void> => {
          const xs = await page.evaluate(() => document.getElementById('detail-chart')?.dataset.xPixels ?? '');
          const [upper, lower] = xs.split('|');
          assert.ok(upper !== undefined && upper !== '' && upper === lower, `${label}: the panes' time axes: ${xs}`);
        };
        narrow.push(...(await shootAll(page, 'detail', undefined, aligned, true)));
      } finally {
        // A DOM click: the panel stays out of the other views' pictures whatever happened here.
        await page.evaluate(() => document.getElementById('detail-close')?.click());
      }
    });

    test('Calls: the unfiltered live list draws its rows', async () => {
      await page.click('#tab-calls');
      await until(page, () => document.querySelectorAll('#calls-inner .vrow:not(.more)').length > 10);
      narrow.push(...(await shootAll(page, 'calls', undefined, (label) => assertCallRowsDrawn(page, label), true)));
    });

    test('System', async () => {
      await page.click('#tab-system');
      await until(
        page,
        () =>
          document.querySelectorAll('#ledger svg text').length > 3 &&
          document.querySelectorAll('#used-body tr').length > 0,
      );
      narrow.push(...(await shootAll(page, 'system')));
    });

    test('Timeline: the window fits the young history, both charts span it alike, and the y axes end on round ticks', async () => {
      await page.click('#tab-timeline');
      await until(page, () => {
        const d = document.getElementById('timeline')?.dataset;
        return d !== undefined && Number(d.points) >= 20 && Number(d.series) > 0;
      });
      const w = await page.evaluate(() => {
        const d = document.getElementById('timeline')?.dataset ?? {};
        return { shownFromMs: Number(d.shownFromMs), firstMs: Number(d.firstMs), toMs: Number(d.toMs) };
      });
      // The server started less than an hour ago: the window starts at its first point, not an hour back.
      assert.ok(
        w.toMs - w.shownFromMs < 30 * 60_000,
        `window of ${Math.round((w.toMs - w.shownFromMs) / 1000)} s on a history of ${Math.round((w.toMs - w.firstMs) / 1000)} s`,
      );
      assert.ok(
        w.shownFromMs >= w.firstMs - 60_000,
        `window starts ${Math.round((w.firstMs - w.shownFromMs) / 1000)} s before the first point`,
      );
      // The y labels are round: whole numbers of one unit, or the decimals of a step of 2.5, 0.5 or 0.25.
      const labels = await page.evaluate(() => (document.getElementById('timeline')?.dataset.yTicks ?? '').split('|'));
      assert.ok(labels.length >= 4, `y labels: ${labels.join(', ')}`);
      for (const l of labels) assert.match(l, /^\d+(\.\d\d?)? (B|KiB|MiB|GiB|TiB)$/, `y label ${l}`);
      narrow.push(...(await shootAll(page, 'timeline', undefined, (label) => assertTimelineAligned(page, label))));
    });

    test('OCaml (memtrace)', async () => {
      await page.click('#tab-memtrace');
      await until(
        page,
        (name: string) =>
          [...document.querySelectorAll('#mt-file option')].some((o) => (o as HTMLOptionElement).value === name),
        TRACE,
      );
      await page.selectOption('#mt-file', TRACE);
      await until(
        page,
        () => document.querySelector('#mt-flame svg') !== null && document.querySelectorAll('#mt-sites tr').length > 0,
      );
      narrow.push(...(await shootAll(page, 'memtrace')));
    });

    test('Dirty pages', async () => {
      await until(page, () => document.getElementById('tab-dirty')?.hidden === false);
      await page.click('#tab-dirty');
      await until(page, () => (document.getElementById('dirty-state')?.textContent ?? '') !== '');
      narrow.push(...(await shootAll(page, 'dirty')));
      assert.deepEqual(errors, []);
    });
  },
);
