// The dashboard's OCaml view in Chromium against a server listening on a free port (live tier; the
// routes themselves are tested in process by serve.test.ts, on the same server: serve-fixture.ts).
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import type { DashboardServer } from '../../src/server/app.js';
import { artifactsDir } from '../helpers/paths.js';
import { untilInPage } from '../web/live-serve.js';
import { withoutPublicTraces } from './public-traces.js';
import { startMemtraceServer, type MemtraceServer } from './serve-fixture.js';

let fixture: MemtraceServer | undefined;
let server: DashboardServer;
before(async () => {
  if (withoutPublicTraces !== false) return;
  fixture = await startMemtraceServer();
  server = fixture.server;
});
after(() => fixture?.close());

test(
  'the OCaml view in Chromium: open a trace, see live memory, findings, sites and the flame graph',
  { skip: withoutPublicTraces },
  async () => {
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const address = server.app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${address.port}/#memtrace`);
      await untilInPage(page, () => document.querySelectorAll('#mt-file option').length > 1);
      await page.selectOption('#mt-file', 'server.ctf');
      await untilInPage(page, () => document.querySelectorAll('#mt-sites tr').length > 0);
      const findings = (await page.locator('#mt-findings').textContent()) ?? '';
      assert.match(findings, /Leak suspect: Dune__exe__Cache\.add/);
      assert.match(findings, /Allocation race: allocation outpaced reclamation/);
      assert.match((await page.locator('#mt-sites').textContent()) ?? '', /Lwt/);
      // Lwt's promises by creation site, with the exact task count the trace carries.
      await untilInPage(page, () => document.querySelectorAll('#mt-promises tr').length > 0);
      const promises = (await page.locator('#mt-promises').textContent()) ?? '';
      assert.match(promises, /Dune__exe__Server\.handle_request/);
      assert.match(promises, /Lwt\.wait/);
      const promisesInfo = (await page.locator('#mt-promises-info').textContent()) ?? '';
      assert.match(promisesInfo, /tasks \(exact\): request handler: 20,000 started/);
      // Lwt's share of the bytes allocated, of the live peak and of the end, as in the text report.
      assert.match(
        promisesInfo,
        /Lwt's own machinery: [\d.]+% of the bytes allocated, [\d.]+% of the live peak, [\d.]+% of the end/,
      );
      const frames = await page.locator('#mt-flame svg g').count();
      assert.ok(frames > 3);
      assert.ok((await page.locator('#mt-flame svg g', { hasText: 'Lwt.bind' }).count()) > 0);
      await page.locator('#mt-hide-lwt').check();
      assert.equal(await page.locator('#mt-flame svg g', { hasText: 'Lwt.bind' }).count(), 0);
      mkdirSync(artifactsDir, { recursive: true });
      await page.screenshot({ path: join(artifactsDir, 'memtrace-dashboard.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  },
);
