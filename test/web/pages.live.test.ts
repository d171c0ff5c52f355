// The "Physical memory" tab in a real browser (Debian's chromium through playwright-core) against a
// live `memlens serve` run as root: the whole frame range as a map, a hover that names a range and
// its kinds, a click that zooms into one cell (the server walks that range only) down to single
// frames, whose hover shows their flags, and back out. Screenshots go to test-artifacts/serve/.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { artifactsDir } from '../helpers/paths.js';
import type { LiveServe } from './live-serve.js';
import { launchBrowser, startServe, untilInPage as until } from './live-serve.js';

const canRun = existsSync('/usr/bin/chromium') && process.getuid?.() === 0;
const shots = join(artifactsDir, 'serve');

/** Moves over the map's middle (a little right and down each try) until its tooltip holds `text`. */
async function hoverMap(page: Page, text: RegExp): Promise<string> {
  const box = await page.locator('#pages-map').boundingBox();
  assert.ok(box, 'the map has no box');
  let seen = '';
  for (let i = 0; i < 40; i++) {
    await page.mouse.move(box.x + box.width * (0.3 + i * 0.01), box.y + box.height * (0.3 + i * 0.01));
    seen = await page.evaluate(() =>
      [...document.querySelectorAll('#pages-map div')]
        .filter((d) => d.querySelector('canvas') === null)
        .map((d) => d.textContent)
        .join('|'),
    );
    if (text.test(seen)) return seen;
  }
  return seen;
}

const note = async (page: Page): Promise<string> => (await page.textContent('#pages-note')) ?? '';

describe('the Physical memory tab', { skip: canRun ? false : 'needs /usr/bin/chromium and root' }, () => {
  let serve: LiveServe;
  let browser: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    mkdirSync(shots, { recursive: true });
    serve = await startServe(['--no-trace']);
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${serve.url}#pages`);
  });

  after(async () => {
    await browser.close();
    await serve.stop();
  });

  test('map, hover, zoom to single frames and back', async () => {
    await until(page, () => (document.getElementById('pages-legend')?.children.length ?? 0) > 0);
    const whole = await note(page);
    assert.match(whole, /^frames \d+–\d+ of .*, \d+ frames \(.*\) per cell/);
    // The map starts at the first frame of RAM (iomem) or of a zone (zoneinfo), not at frame 0.
    const zoneStarts = [...readFileSync('/proc/zoneinfo', 'utf8').matchAll(/start_pfn:\s+(\d+)/g)].map((m) =>
      Number(m[1]),
    );
    const ramStarts = [...readFileSync('/proc/iomem', 'utf8').matchAll(/^([0-9a-f]+)-[0-9a-f]+ : System RAM$/gm)].map(
      (m) => Number(BigInt(`0x${m[1]}`) / 4096n),
    );
    assert.equal(Number(/^frames (\d+)–/.exec(whole)?.[1]), Math.min(...zoneStarts, ...ramStarts), whole);
    assert.match((await page.textContent('#pages-legend')) ?? '', /free \(buddy allocator\)/);
    assert.match((await page.textContent('#pages-zones')) ?? '', /Normal \(node 0\): frames \d+–\d+, cells \d+–\d+/);
    await page.screenshot({ path: join(shots, 'pages-whole.png') });
    const tip = await hoverMap(page, /frames \d+–\d+/);
    assert.match(tip, /frames \d+–\d+.*0x[0-9a-f]+–0x[0-9a-f]+/);
    // Zoom: one click on a cell walks only that cell's frames.
    const box = await page.locator('#pages-map').boundingBox();
    assert.ok(box);
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await until(page, (w: string) => (document.getElementById('pages-note')?.textContent ?? w) !== w, whole);
    const zoomed = await note(page);
    assert.match(zoomed, /1 frame \(4\.00 KiB\) per cell/, zoomed);
    assert.equal(await page.isVisible('#pages-back'), true);
    const frameTip = await hoverMap(page, /flags: /);
    assert.match(frameTip, /flags: .* raw 0x[0-9a-f]+ · mapped \d+×/);
    await page.screenshot({ path: join(shots, 'pages-frames.png') });
    await page.click('#pages-back');
    await until(page, (w: string) => document.getElementById('pages-note')?.textContent === w, whole);
    assert.deepEqual(errors, []);
  });
});
