// The dashboard in a real browser (Debian's chromium through playwright-core) against a live
// `memlens serve` run as root: a workload with known mappings shows up in the processes table,
// the pie and the calls table; the ledger renders; a process named "<i id=pwn>x" with a command
// line full of quotes and markup shows as literal text and injects nothing. Conditions are
// awaited by polling the page, each wait bounded; the one condition that events dropped by the
// kernel could make impossible is decided by the loss count instead (startTracedWorkloads).
// Screenshots go to test-artifacts/.
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
import type { ProcessesBody, StatusBody } from '../../src/wire/messages.js';
import type { LiveServe, Workload } from './live-serve.js';
import { hoverChartUntil, launchBrowser, startServe, startWorkload, untilInPage as until } from './live-serve.js';

const HOSTILE_NAME = '<i id=pwn>x';
const HOSTILE_ARGS = [
  `"'"''<script>window.__pwned=1</script>`,
  `<img src=x onerror="window.__pwned=2">`,
  `'"><svg onload=window.__pwned=3>`,
];
const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/chromium');

const GIB = 2 ** 30;
const apiGet = async <T>(serve: LiveServe, path: string): Promise<T> =>
  (await (await fetch(`${serve.url}api/v1/${path}`)).json()) as T;

/**
 * Starts both workloads and waits until the server's figures have their calls: 4 × 512 GiB mapped
 * and one unmapped is 1.50 TiB requested (plus the dynamic loader's few small mappings); the
 * hostile one maps 2 × 512 GiB. The tracer
 * traces every process, so when the machine makes more calls than it keeps, the kernel drops
 * events, counts them, and the workloads' calls may be among the dropped: their figures can then
 * never come right. A drop while they wait starts a new pair, and after three such attempts the
 * test fails saying so, instead of waiting for figures that cannot come.
 */
async function startTracedWorkloads(serve: LiveServe): Promise<{ known: Workload; hostile: Workload }> {
  const lostNow = async (): Promise<number> => (await apiGet<StatusBody>(serve, 'status')).lost.lostEvents;
  const drops: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const lostBefore = await lostNow();
    const known = await startWorkload('mlworkload', 512, 4, 1);
    const hostile = await startWorkload(HOSTILE_NAME, 512, 2, 0, HOSTILE_ARGS);
    const dropped = await waitingFor(
      `the server to count the calls of workloads ${known.pid} and ${hostile.pid} (attempt ${attempt})`,
      async () => {
        for (;;) {
          const rows = (await apiGet<ProcessesBody>(serve, 'processes')).rows;
          // The dynamic loader's few small mappings come on top of the workload's own.
          const counted = (pid: number, bytes: number): boolean => {
            const requested = rows.find((r) => r.pid === pid)?.requestedBytes ?? 0;
            return requested >= bytes && requested < bytes + GIB;
          };
          if (counted(known.pid, 3 * 512 * GIB) && counted(hostile.pid, 2 * 512 * GIB)) return 0;
          const lost = (await lostNow()) - lostBefore;
          if (lost > 0) return lost;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      },
    );
    if (dropped === 0) return { known, hostile };
    drops.push(dropped);
    await known.stop();
    await hostile.stop();
    assert.ok(
      attempt < 3,
      `the kernel dropped events while the workloads ran, in each of 3 attempts (${drops.join(', ')} events): this machine makes more calls than the tracer keeps, so the figures cannot be checked`,
    );
  }
}

describe(
  'dashboard in chromium against a live memlens serve',
  { skip: canRun ? false : 'needs root (tracing) and /usr/bin/chromium' },
  () => {
    let serve: LiveServe;
    let browser: BrowserContext;
    let page: Page;
    let known: Workload;
    let hostile: Workload;
    const teardown = new Teardown();
    const shots = join(artifactsDir, 'serve');

    before(async () => {
      mkdirSync(shots, { recursive: true });
      serve = await startServe();
      teardown.add(async () => {
        const code = await serve.stop();
        assert.equal(code, 0, serve.stderr());
        // No deprecation or other runtime warning on an operator's terminal.
        assert.doesNotMatch(serve.stderr(), /Warning/);
      });
      ({ known, hostile } = await startTracedWorkloads(serve));
      teardown.add(() => known.stop());
      teardown.add(() => hostile.stop());
      browser = await launchBrowser();
      teardown.add(() => browser.close());
      page = await browser.newPage();
      await page.goto(serve.url);
    });

    after(() => teardown.run());

    test('the known workload appears in the processes table with its requested memory', async () => {
      await until(
        page,
        (pid: number) => {
          const row = document.querySelector(`#proc-body tr[data-pid="${pid}"]`);
          return (
            row !== null &&
            row.querySelector('[data-col=name]')?.textContent === 'mlworkload' &&
            row.querySelector('[data-col=requestedBytes]')?.textContent === '1.50 TiB'
          );
        },
        known.pid,
      );
      const ratio = await page.textContent(`#proc-body tr[data-pid="${known.pid}"] td[data-col=requestedRatio]`);
      assert.match(ratio ?? '', /%$/);
      assert.match((await page.textContent('#proc-total')) ?? '', /MemTotal \+ SwapTotal/);
      await page.screenshot({ path: join(shots, 'processes.png') });
    });

    test('the pie of requested memory has the workload as a slice', async () => {
      // The pie shows PSS by default; the workload's mappings are never touched, so they hold no memory.
      await page.selectOption('#pie-figure', 'requested');
      await until(
        page,
        (pid: number) =>
          (document.getElementById('pie')?.getAttribute('aria-label') ?? '').includes(`mlworkload (${pid}): 1.50 TiB`),
        known.pid,
      );
      assert.ok((await page.locator('#pie svg').count()) > 0);
    });

    test('hostile names and command lines are literal text, and nothing is injected', async () => {
      const sel = `#proc-body tr[data-pid="${hostile.pid}"]`;
      await until(
        page,
        (s: string) => document.querySelector(s)?.querySelector('[data-col=name]')?.textContent === '<i id=pwn>x',
        sel,
      );
      assert.equal(await page.locator('#pwn').count(), 0);
      // The pie's tooltip is HTML: hover over the ring until the hostile slice's tooltip shows.
      const tooltip = await hoverChartUntil(page, '#pie', HOSTILE_NAME);
      assert.ok(tooltip.includes(HOSTILE_NAME), `no tooltip with the hostile name (saw: ${tooltip.slice(0, 200)})`);
      await page.screenshot({ path: join(shots, 'pie-tooltip-hostile.png') });
      await page.mouse.move(5, 5);
      // The detail panel shows the command line as text.
      await page.click(sel);
      await until(
        page,
        (args: string[]) => (document.getElementById('detail-cmdline')?.textContent ?? '').includes(args[0] ?? '\0'),
        HOSTILE_ARGS,
      );
      const cmdline = (await page.textContent('#detail-cmdline')) ?? '';
      for (const a of HOSTILE_ARGS) assert.ok(cmdline.includes(a), a);
      await until(page, () => (document.getElementById('detail-title')?.textContent ?? '').startsWith('<i id=pwn>x'));
      await page.screenshot({ path: join(shots, 'detail-hostile.png') });
      const injected = await page.evaluate(() => ({
        pwn: document.getElementById('pwn') !== null,
        flag: (window as unknown as { __pwned?: number }).__pwned ?? null,
        inlineScripts: document.querySelectorAll('script:not([src])').length,
        italic: document.querySelectorAll('i').length,
        svg: document.querySelectorAll('svg[onload]').length,
        img: document.querySelectorAll('img[onerror]').length,
      }));
      assert.deepEqual(injected, { pwn: false, flag: null, inlineScripts: 0, italic: 0, svg: 0, img: 0 });
      await page.click('#detail-close');
    });

    test("the calls table shows the workload's calls, newest first", async () => {
      await page.click('#tab-calls');
      await page.fill('#calls-pid', String(known.pid));
      await page.click('#calls-form button[type=submit]');
      await until(page, () => {
        const rows = [...document.querySelectorAll('#calls-inner .vrow:not(.more)')].map((r) =>
          [...r.children].map((c) => c.textContent),
        );
        const mmaps = rows.filter((r) => r[3] === 'mmap' && r[4] === '512 GiB').length;
        const munmaps = rows.filter((r) => r[3] === 'munmap' && r[4] === '512 GiB').length;
        return mmaps === 4 && munmaps === 1;
      });
      const calls = await page.$$eval('#calls-inner .vrow:not(.more)', (rows) =>
        rows
          .map((r) => ({
            top: r.getBoundingClientRect().top,
            pid: r.children[1]?.textContent,
            name: r.children[2]?.textContent,
            call: r.children[3]?.textContent,
            size: r.children[4]?.textContent,
          }))
          .sort((a, b) => a.top - b.top),
      );
      assert.ok(calls.every((c) => c.pid === String(known.pid)));
      // The dynamic loader's mappings come before prctl renames the process; ours after it.
      const ours = calls.filter((c) => c.size === '512 GiB');
      assert.ok(ours.every((c) => c.name === 'mlworkload'));
      const firstMunmap = ours.findIndex((c) => c.call === 'munmap');
      const lastMmap = ours.map((c) => c.call).lastIndexOf('mmap');
      // Newest first: the munmap came after the four mmaps, so it is above them.
      assert.equal(firstMunmap, 0);
      assert.equal(lastMmap, 4);
      await page.fill('#calls-pid', '');
      await page.click('#calls-form button[type=submit]');
      await until(page, () => document.querySelectorAll('#calls-inner .vrow').length > 5);
      await page.screenshot({ path: join(shots, 'calls.png') });
    });

    test('the ledger chart renders from MemTotal down, with the "used" definitions', async () => {
      await page.click('#tab-system');
      await until(page, () =>
        (document.getElementById('ledger')?.getAttribute('aria-label') ?? '').startsWith('MemTotal'),
      );
      // Drawn as SVG, so that the tests can read each label's box (web/views/system.ts).
      assert.ok((await page.locator('#ledger svg').count()) > 0);
      assert.ok((await page.locator('#used-body tr').count()) >= 2);
      const label = (await page.getAttribute('#ledger', 'aria-label')) ?? '';
      assert.match(label, /free/);
      assert.match(label, /page cache/);
      await page.screenshot({ path: join(shots, 'system.png') });
    });

    test('the timeline and the dark theme render', async () => {
      await page.click('#tab-timeline');
      await until(page, () => Number(document.getElementById('timeline')?.dataset.points ?? '0') > 0);
      await page.screenshot({ path: join(shots, 'timeline.png') });
      await page.click('#theme');
      await until(page, () => document.documentElement.dataset.theme === 'dark');
      await page.screenshot({ path: join(shots, 'timeline-dark.png') });
      await page.click('#tab-processes');
      await page.screenshot({ path: join(shots, 'processes-dark.png') });
    });

    test('the status strip shows tracing running and lost events', async () => {
      await until(page, () => (document.getElementById('st-trace')?.textContent ?? '').startsWith('tracing (tracefs)'));
      assert.match((await page.textContent('#st-lost')) ?? '', /^lost \d/);
      assert.match((await page.textContent('#st-sample')) ?? '', /sampled .* ago/);
    });
  },
);
