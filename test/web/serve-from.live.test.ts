// `memlens serve --from SERIES` in Chromium: the built server over the BusyBox series fixture;
// the status strip says read-only with the archive, its snapshots and time range, and the
// Timeline draws the series' own range (its window ends at the last snapshot, every snapshot drawn).
// The functions passed to the page run in the browser: hence the DOM types in this file.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { StatusBody } from '../../src/wire/messages.js';
import { cliPath, fixturesDir } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { freePort, launchBrowser, untilInPage } from './live-serve.js';

const canRun = existsSync('/usr/bin/chromium');
const FIXTURE = join(fixturesDir, 'capture', 'series-busybox-1.35-linux-6.18.44.snap.gz');

describe('serve --from a series, in Chromium', { skip: canRun ? false : 'needs /usr/bin/chromium' }, () => {
  let child: ChildProcess | undefined;
  after(async () => {
    const c = child;
    if (c === undefined || c.exitCode !== null) return;
    await waitingFor(`memlens serve --from (pid ${c.pid}) to exit after SIGINT`, () => {
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGINT');
      return exited;
    });
  });

  test('the status strip says read-only, and the Timeline shows the series’ range', async () => {
    const port = await freePort();
    const c = spawn(process.execPath, [cliPath, 'serve', '--from', FIXTURE, '--port', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    child = c;
    let out = '';
    let err = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const url = await waitingFor(
      'memlens serve --from to print its URL',
      () =>
        new Promise<string>((resolve, reject) => {
          c.stdout.setEncoding('utf8').on('data', (d: string) => {
            out += d;
            const m = /dashboard at (\S+)/.exec(out);
            if (m?.[1] !== undefined) resolve(m[1]);
          });
          c.once('exit', (code) => reject(new Error(`exited with ${code}: ${out} ${err}`)));
        }),
    );
    assert.match(out, /read-only: series-busybox-1\.35-linux-6\.18\.44\.snap\.gz \(4 snapshots of /);
    const status = (await (await fetch(`${url}api/v1/status`)).json()) as StatusBody;
    const ro = status.readOnly;
    assert.ok(ro);

    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      await untilInPage(page, () =>
        (document.getElementById('st-sample')?.textContent ?? '').startsWith(
          'read-only: series-busybox-1.35-linux-6.18.44.snap.gz (4 snapshots, from ',
        ),
      );
      await page.click('#tab-timeline');
      await untilInPage(
        page,
        (end: number) => {
          const d = document.getElementById('timeline')?.dataset;
          return d !== undefined && Number(d.toMs) === end && Number(d.points) === 4;
        },
        ro.toMs,
      );
      const drawn = await page.evaluate(() =>
        Object.fromEntries(Object.entries(document.getElementById('timeline')?.dataset ?? {})),
      );
      // The window is the series' range, at least a minute (the shortest window).
      assert.ok(Number(drawn.fromMs) <= ro.fromMs, JSON.stringify(drawn));
      assert.ok(ro.toMs - Number(drawn.fromMs) <= 61_000, JSON.stringify(drawn));
    } finally {
      await browser.close();
    }
  });
});
