// The Processes tab in a real browser (Debian's chromium through playwright-core) against a live
// `memlens serve` run as root, with workloads of known memory (workload.c):
// - mlpv-reserve reserves 64 GiB with PROT_NONE and makes 8 MiB of it accessible and written;
// - mlpv-steady maps 1 GiB readable and writable and writes 32 MiB of it;
// - mlpv-grow maps and writes 1 MiB more every half second;
// - mlpv-gone0..2 map 4 TiB each (accessible, untouched) and are stopped: exited processes, among
//   the largest requesters, so that the tracer keeps accounting for them.
// The default order is PSS, so the 64 GiB reservation does not lead; exited processes are hidden
// until asked for; every n/a says why and the status strip counts what the rows show; the growing
// process's sparkline rises and it leads the order by growth; no two labels of the pie overlap at
// 1440×900 or 800×600. Screenshots at both sizes in both themes go to test-artifacts/screenshots/.
// The functions passed to the page run in the browser: hence the DOM types in this file.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { artifactsDir } from '../helpers/paths.js';
import { Teardown } from '../helpers/teardown.js';
import { waitingFor } from '../helpers/waiting.js';
import type { ProcessesBody } from '../../src/wire/messages.js';
import type { LiveServe, Workload } from './live-serve.js';
import { launchBrowser, startServe, startWorkloadMode, untilInPage as until } from './live-serve.js';

const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/chromium');
const GIB = 2 ** 30;
const MIB = 2 ** 20;
/** The sampler reads /proc every second to a minute (its CPU budget): waits for samples get minutes. */
const SAMPLES_WAIT_MS = 8 * 60_000;

const apiGet = async <T>(serve: LiveServe, path: string): Promise<T> =>
  (await (await fetch(`${serve.url}api/v1/${path}`)).json()) as T;

/** Polls the API until `check` holds, at most `boundMs`; fails saying what it waited for. */
async function untilApi(
  serve: LiveServe,
  what: string,
  check: (b: ProcessesBody) => boolean,
  boundMs = SAMPLES_WAIT_MS,
): Promise<void> {
  await waitingFor(what, async () => {
    const end = Date.now() + boundMs;
    for (;;) {
      if (check(await apiGet<ProcessesBody>(serve, 'processes'))) return;
      if (Date.now() > end) throw new Error(`waited ${Math.round(boundMs / 1000)} s for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  });
}

/** The rendered text boxes of the pie (ring labels and legend), as the page lays them out. */
function pieTextBoxes(page: Page): Promise<{ text: string; x: number; y: number; w: number; h: number }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('#pie svg text')]
      .filter(
        (t) =>
          t.textContent !== '' &&
          getComputedStyle(t).display !== 'none' &&
          t.getAttribute('opacity') !== '0' &&
          t.closest('[opacity="0"]') === null,
      )
      .map((t) => {
        const r = t.getBoundingClientRect();
        return { text: t.textContent, x: r.x, y: r.y, w: r.width, h: r.height };
      })
      .filter((b) => b.w > 0 && b.h > 0),
  );
}

function overlaps(boxes: { text: string; x: number; y: number; w: number; h: number }[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a === undefined || b === undefined) continue;
      // One pixel of slack: glyph boxes of neighbouring lines touch.
      const ox = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const oy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (ox > 1 && oy > 1) out.push(`"${a.text}" and "${b.text}"`);
    }
  }
  return out;
}

describe(
  'the Processes tab in chromium against a live memlens serve',
  { skip: canRun ? false : 'needs root (tracing) and /usr/bin/chromium' },
  () => {
    let serve: LiveServe;
    let browser: BrowserContext;
    let page: Page;
    let reserve: Workload;
    let steady: Workload;
    let grow: Workload;
    const gone: Workload[] = [];
    const teardown = new Teardown();
    const shots = join(artifactsDir, 'screenshots');
    const row = (w: Workload): string => `#proc-body tr[data-pid="${w.pid}"]`;

    before(async () => {
      mkdirSync(shots, { recursive: true });
      serve = await startServe();
      teardown.add(async () => {
        const code = await serve.stop();
        assert.equal(code, 0, serve.stderr());
      });
      reserve = await startWorkloadMode('mlpv-reserve', ['reserve', '64', '8']);
      teardown.add(() => reserve.stop());
      steady = await startWorkloadMode('mlpv-steady', ['map', '1', '32']);
      teardown.add(() => steady.stop());
      grow = await startWorkloadMode('mlpv-grow', ['grow', '1', '500']);
      teardown.add(() => grow.stop());
      for (let i = 0; i < 3; i++) {
        const w = await startWorkloadMode(`mlpv-gone${i}`, ['map', '4096', '1']);
        gone.push(w);
        teardown.add(() => w.stop());
      }
      // The tracer must have seen the short-lived ones' 4 TiB before they go.
      await untilApi(serve, `the tracer to count 4 TiB requested by ${gone.map((w) => w.pid).join(', ')}`, (b) =>
        gone.every((w) => (b.rows.find((r) => r.pid === w.pid)?.requestedBytes ?? 0) >= 4096 * GIB),
      );
      for (const w of gone) await w.stop();
      await untilApi(serve, `the server to list ${gone.map((w) => w.pid).join(', ')} as exited`, (b) =>
        gone.every((w) => b.rows.some((r) => r.pid === w.pid && !r.alive)),
      );
      // The workloads' PSS comes with a /proc sample after they started.
      await untilApi(serve, `a /proc sample with the PSS of ${reserve.pid}, ${steady.pid} and ${grow.pid}`, (b) =>
        [reserve, steady, grow].every((w) => (b.rows.find((r) => r.pid === w.pid)?.pssBytes ?? null) !== null),
      );
      browser = await launchBrowser();
      teardown.add(() => browser.close());
      page = await browser.newPage();
      await page.goto(serve.url);
    });

    after(() => teardown.run());

    test('the default order is PSS, and the 64 GiB reservation does not lead', async () => {
      await until(page, (sel: string) => document.querySelector(sel) !== null, row(reserve));
      assert.equal(await page.getAttribute('th[data-col=pssBytes]', 'aria-sort'), 'descending');
      const order = await page.evaluate(() => {
        const units: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
        return [...document.querySelectorAll('#proc-body tr')].map((tr) => {
          const m = /^([\d.]+) (\w+)$/.exec(tr.querySelector('[data-col=pssBytes]')?.textContent ?? '');
          return {
            pid: Number((tr as HTMLElement).dataset.pid),
            pss: m === null ? null : Number(m[1]) * (units[m[2] ?? ''] ?? NaN),
          };
        });
      });
      // Descending, every n/a after the figures.
      const known = order.filter((o) => o.pss !== null);
      assert.ok(
        known.every((o, i) => i === 0 || (known[i - 1]?.pss ?? 0) >= (o.pss ?? 0)),
        'rows are ordered by PSS',
      );
      assert.ok(
        order.slice(known.length).every((o) => o.pss === null),
        'n/a rows come last',
      );
      // Among the workloads, the one holding 32 MiB comes before the one reserving 64 GiB.
      const at = (w: Workload): number => order.findIndex((o) => o.pid === w.pid);
      assert.ok(at(steady) >= 0 && at(reserve) > at(steady), `steady at ${at(steady)}, reserve at ${at(reserve)}`);
      // Its address space is all there, in the columns that say what it is.
      const mapped = await page.textContent(`${row(reserve)} [data-col=mappedNowBytes]`);
      assert.match(mapped ?? '', /^64\.0 GiB$/);
    });

    test('the reservation shows in its own column, not as requested memory', async (t) => {
      const r = (await apiGet<ProcessesBody>(serve, 'processes')).rows.find((x) => x.pid === reserve.pid);
      assert.ok(r !== undefined);
      const cell = await page.textContent(`${row(reserve)} [data-col=reservedBytes]`);
      if (r.reservedBytes === null) {
        // Until the tracer follows mprotect, the column says so instead of a number.
        assert.equal(r.unavailable.reserved, 'not-measured');
        assert.equal(cell, 'n/a \u00b7 not traced');
        t.skip('the tracer does not follow mprotect yet: reservedBytes is null');
        return;
      }
      // 64 GiB reserved, of which 8 MiB were made accessible; requested holds those 8 MiB (and the
      // loader's few mappings), not the reservation.
      assert.equal(r.reservedBytes, 64 * GIB - 8 * MIB);
      assert.ok(
        r.requestedBytes !== null && r.requestedBytes >= 8 * MIB && r.requestedBytes < GIB,
        String(r.requestedBytes),
      );
      await until(
        page,
        (sel: string) => document.querySelector(`${sel} [data-col=reservedBytes]`)?.textContent === '64.0 GiB',
        row(reserve),
      );
    });

    test('exited processes are hidden until asked for, and their n/a says why', async () => {
      for (const w of gone) assert.equal(await page.locator(row(w)).count(), 0, `exited ${w.pid} is hidden`);
      const button = page.locator('#proc-exited');
      assert.match((await button.textContent()) ?? '', /^show \d+ exited$/);
      await button.click();
      await until(page, (sels: string[]) => sels.every((s) => document.querySelector(s) !== null), gone.map(row));
      for (const w of gone) {
        const pss = page.locator(`${row(w)} [data-col=pssBytes]`);
        assert.equal(await pss.textContent(), 'n/a \u00b7 exited');
        assert.match((await pss.getAttribute('title')) ?? '', /exited/);
        assert.equal(await page.locator(`${row(w)}.exited`).count(), 1);
      }
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.screenshot({ path: join(shots, 'processes-exited-shown.png') });
      // Exited processes take part in the pie of requested memory only now that they are shown.
      await page.selectOption('#pie-figure', 'requested');
      await until(
        page,
        (pid: number) => (document.getElementById('pie')?.getAttribute('aria-label') ?? '').includes(`(${pid})`),
        gone[0]?.pid ?? 0,
      );
      await button.click();
      await until(
        page,
        (pid: number) =>
          !(document.getElementById('pie')?.getAttribute('aria-label') ?? '(').includes(`(${pid})`) &&
          document.getElementById('pie-note')?.textContent.includes('live processes') === true,
        gone[0]?.pid ?? 0,
      );
      await page.selectOption('#pie-figure', 'pss');
      for (const w of gone) assert.equal(await page.locator(row(w)).count(), 0);
    });

    test('every n/a in a row says why, and the status strip counts what the rows show', async () => {
      await until(page, () => {
        const cells = [...document.querySelectorAll('#proc-body td.na')];
        const bare = cells.filter((c) => !/^n\/a · \S/.test(c.textContent) || (c.getAttribute('title') ?? '') === '');
        if (bare.length > 0) return false;
        const shown = document.querySelectorAll('#proc-body tr').length;
        const naPss = [...document.querySelectorAll('#proc-body td[data-col=pssBytes]')].filter((c) =>
          c.textContent.startsWith('n/a'),
        ).length;
        const strip = document.getElementById('st-pss')?.textContent ?? '';
        return naPss === 0
          ? strip === `PSS for all ${shown.toLocaleString('en-US')} shown`
          : strip.startsWith(`PSS n/a for ${naPss.toLocaleString('en-US')} of ${shown.toLocaleString('en-US')} shown`);
      });
    });

    test('the detail panel and the row show the same RSS and PSS', async () => {
      // A process started after the last sample has no /proc figures in its row until the detail
      // reads them: then the row shows what the detail shows.
      const late = await startWorkloadMode('mlpv-late', ['map', '1', '16']);
      teardown.add(() => late.stop());
      await until(page, (sel: string) => document.querySelector(sel) !== null, row(late));
      await page.click(`${row(late)} [data-col=name]`);
      await until(page, () => /RSS \d/.test(document.getElementById('detail-figures')?.textContent ?? ''));
      await until(
        page,
        (sel: string) => {
          const figures = document.getElementById('detail-figures')?.textContent ?? '';
          const rss = /RSS ([^·]+?) ·/.exec(figures)?.[1];
          const pss = /PSS ([^·]+?) ·/.exec(figures)?.[1];
          const tr = document.querySelector(sel);
          return (
            rss !== undefined &&
            tr?.querySelector('[data-col=rssBytes]')?.textContent === rss &&
            tr.querySelector('[data-col=pssBytes]')?.textContent === pss
          );
        },
        row(late),
      );
      await page.click('#detail-close');
      await late.stop();
    });

    test("the growing process's sparkline rises and it leads the order by growth", async () => {
      await page.fill('#proc-filter', 'mlpv');
      // A slope needs samples: the sampler's interval is a second to a minute.
      await until(
        page,
        (sel: string) => {
          const tr = document.querySelector(sel);
          const pts = (tr?.querySelector('svg.spark polyline')?.getAttribute('points') ?? '')
            .split(' ')
            .filter((p) => p !== '')
            .map((p) => p.split(',').map(Number));
          const first = pts[0];
          const last = pts[pts.length - 1];
          // SVG's y grows downwards: a rising line ends higher (smaller y) than it starts.
          return (
            pts.length >= 3 &&
            first !== undefined &&
            last !== undefined &&
            (last[1] ?? 0) < (first[1] ?? 0) - 4 &&
            /^\+/.test(tr?.querySelector('[data-col=growth]')?.textContent ?? '')
          );
        },
        row(grow),
        SAMPLES_WAIT_MS,
      );
      await page.click('th[data-col=growth]');
      assert.equal(await page.getAttribute('th[data-col=growth]', 'aria-sort'), 'descending');
      await until(
        page,
        (pid: string) => document.querySelector<HTMLElement>('#proc-body tr')?.dataset.pid === pid,
        String(grow.pid),
      );
      await page.selectOption('#proc-window', '1h');
      await until(
        page,
        (pid: string) => document.querySelector<HTMLElement>('#proc-body tr')?.dataset.pid === pid,
        String(grow.pid),
      );
      await page.screenshot({ path: join(shots, 'processes-growing.png') });
      await page.fill('#proc-filter', '');
      await page.click('th[data-col=pssBytes]');
    });

    for (const figure of ['pss', 'requested'] as const) {
      test(`no two labels of the ${figure} pie overlap, at 1440×900 and at 800×600`, async () => {
        await page.selectOption('#pie-figure', figure);
        for (const [width, height] of [
          [1440, 900],
          [800, 600],
        ] as const) {
          await page.setViewportSize({ width, height });
          await page.locator('#pie').scrollIntoViewIfNeeded();
          await until(
            page,
            (f: string) =>
              (document.getElementById('pie-note')?.textContent ?? '').startsWith(
                'Top 10 of ' + (f === 'pss' ? 'PSS' : 'requested'),
              ),
            figure,
          );
          // The chart lays out again after a resize: wait until its text has settled.
          let boxes = await pieTextBoxes(page);
          await waitingFor(`the pie's labels to settle at ${width}×${height}`, async () => {
            for (let i = 0; i < 50; i++) {
              await new Promise((resolve) => setTimeout(resolve, 200));
              const again = await pieTextBoxes(page);
              if (JSON.stringify(again) === JSON.stringify(boxes)) return;
              boxes = again;
            }
            throw new Error(`the pie's labels were still moving after 10 s at ${width}×${height}`);
          });
          assert.ok(boxes.length >= 3, `labels: ${JSON.stringify(boxes)}`);
          assert.deepEqual(overlaps(boxes), [], `${figure} pie at ${width}×${height}`);
          // No label is cut: a name never ends in an ellipsis.
          assert.ok(
            boxes.every((b) => !b.text.includes('\u2026')),
            boxes.map((b) => b.text).join(' | '),
          );
          const pie = await page.locator('#pie').boundingBox();
          assert.ok(pie !== null);
          for (const b of boxes)
            assert.ok(
              b.x >= pie.x - 1 && b.x + b.w <= pie.x + pie.width + 1,
              `"${b.text}" lies outside the chart at ${width}×${height}`,
            );
        }
        await page.selectOption('#pie-figure', 'pss');
      });
    }

    test('screenshots at 1440×900 and 800×600, light and dark', async () => {
      for (const theme of ['light', 'dark'] as const) {
        if ((await page.evaluate(() => document.documentElement.dataset.theme)) !== theme) await page.click('#theme');
        await until(page, (t: string) => document.documentElement.dataset.theme === t, theme);
        for (const [width, height] of [
          [1440, 900],
          [800, 600],
        ] as const) {
          await page.setViewportSize({ width, height });
          await page.evaluate(() => document.querySelector('main')?.scrollTo(0, 0));
          await new Promise((resolve) => setTimeout(resolve, 500));
          await page.screenshot({ path: join(shots, `processes-${width}x${height}-${theme}.png`) });
          if (width === 800) {
            // At 800 px the pie is under the table: scrolled to, it is drawn whole.
            await page.locator('#pie').scrollIntoViewIfNeeded();
            await page.screenshot({ path: join(shots, `processes-${width}x${height}-${theme}-pie.png`) });
          }
        }
      }
    });
  },
);
