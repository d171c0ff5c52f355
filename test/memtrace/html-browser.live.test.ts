// The HTML report in a real Chromium: it works offline (no request leaves the file), its flame
// graph draws, hides Lwt frames and zooms, and the page raises no script error.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { artifactsDir } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { buildScenario, LEAKY_SERVER } from './scenarios.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-memtrace-html-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the HTML report works offline in Chromium: timeline, flame graph, hide Lwt, zoom', async () => {
  const trace = join(dir, 'server.ctf');
  writeFileSync(trace, buildScenario(LEAKY_SERVER).bytes);
  const html = join(dir, 'report.html');
  const r = await runCli(['memtrace', trace, '--html', html]);
  assert.equal(r.code, 0, r.stderr);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const external: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('request', (req) => {
      if (!req.url().startsWith('file://')) external.push(req.url());
    });
    await page.goto(`file://${html}`);
    assert.equal(await page.locator('svg[aria-label="live memory over time"]').count(), 1);
    const all = await page.locator('#flame svg g').count();
    assert.ok(all > 5, `flame graph frames: ${all}`);
    assert.equal((await page.locator('#flame svg g', { hasText: 'Lwt.bind' }).count()) > 0, true);
    await page.locator('#hide-lwt').check();
    assert.equal(await page.locator('#flame svg g', { hasText: 'Lwt.bind' }).count(), 0);
    assert.ok((await page.locator('#flame svg g').count()) < all);
    await page.locator('#flame svg g', { hasText: 'Dune__exe__Producer.push' }).first().click();
    assert.match((await page.locator('#flame-info').textContent()) ?? '', /zoom out/);
    mkdirSync(artifactsDir, { recursive: true });
    await page.screenshot({ path: join(artifactsDir, 'memtrace-report.png'), fullPage: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(external, []);
  } finally {
    await browser.close();
  }
});
