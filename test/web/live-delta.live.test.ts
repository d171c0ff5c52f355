// The processes table as changes, in a real browser (Debian's chromium through playwright-core)
// against a live `memlens serve` run as root, tracing, with a workload that maps 1 MiB more every
// half second (so that some rows move between samples while most do not): the page gets the table
// whole once, then changes that leave the unmoved rows out; the table it holds after applying them
// is the one the HTTP API serves for the same table number; a page opened later gets the whole
// table first, and shows the same rows.
// The functions passed to the page run in the browser: hence the DOM types in this file.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import type { ProcessesBody, ServerMessage } from '../../src/wire/messages.js';
import { canonicalTable } from '../../src/wire/processes-delta.js';
import { Teardown } from '../helpers/teardown.js';
import { waitingFor } from '../helpers/waiting.js';
import type { LiveServe, Workload } from './live-serve.js';
import { launchBrowser, startServe, startWorkloadMode, untilInPage as until } from './live-serve.js';

declare global {
  interface Window {
    /** Set by the page (web/main.ts): the processes table it holds. */
    memlensLiveTable?: () => { body: ProcessesBody; deltas: number } | null;
  }
}

const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/chromium');
/** How long the matching of the page's table with the API's may take at most. */
const MATCH_BOUND_MS = 4 * 60_000;

/** What the page's WebSocket brought, update by update: the table whole, or a change. */
interface TableFrame {
  kind: 'whole' | 'change';
  table: number | undefined;
  rows: number;
  removed: number;
}

function recordTables(page: Page): TableFrame[] {
  const frames: TableFrame[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string') return;
      const m = JSON.parse(payload) as ServerMessage;
      if (m.type !== 'update') return;
      if (m.processes !== undefined)
        frames.push({ kind: 'whole', table: m.processes.table, rows: m.processes.rows.length, removed: 0 });
      if (m.processesDelta !== undefined)
        frames.push({
          kind: 'change',
          table: m.processesDelta.table,
          rows: m.processesDelta.rows.length,
          removed: m.processesDelta.removed.length,
        });
    });
  });
  return frames;
}

/** The table the page holds, as its changes made it (null before the first). */
function heldTable(page: Page): Promise<{ body: ProcessesBody; deltas: number } | null> {
  return page.evaluate(() => window.memlensLiveTable?.() ?? null);
}

describe(
  'the processes table as changes, in chromium against a live memlens serve',
  { skip: canRun ? false : 'needs root (tracing) and /usr/bin/chromium' },
  () => {
    let serve: LiveServe;
    let browser: BrowserContext;
    let grow: Workload;
    const teardown = new Teardown();
    const apiTable = async (): Promise<ProcessesBody> =>
      (await (await fetch(`${serve.url}api/v1/processes`)).json()) as ProcessesBody;

    before(async () => {
      serve = await startServe();
      teardown.add(async () => {
        const code = await serve.stop();
        assert.equal(code, 0, serve.stderr());
      });
      grow = await startWorkloadMode('mldelta-grow', ['grow', '1', '500']);
      teardown.add(() => grow.stop());
      browser = await launchBrowser();
      teardown.add(() => browser.close());
    });

    after(() => teardown.run());

    test('the page applies the changes and holds the table the API serves', async () => {
      const page = await browser.newPage();
      const frames = recordTables(page);
      await page.goto(serve.url);
      // Three changes applied, one of them leaving rows out: the growing workload moves every
      // half second, and most processes do not between two samples.
      await until(page, () => (window.memlensLiveTable?.()?.deltas ?? 0) >= 3);
      const first = frames[0];
      assert.equal(first?.kind, 'whole', `the first table comes whole: ${JSON.stringify(frames.slice(0, 3))}`);
      assert.equal(
        frames.filter((f) => f.kind === 'whole').length,
        1,
        `whole once, changes after: ${JSON.stringify(frames)}`,
      );
      // The API's table and the page's are compared when they carry the same number: the tracer
      // changes the table up to four times a second, so a few tries may be needed.
      const matched = await waitingFor(
        'the page and GET /api/v1/processes to hold the same table number',
        async () => {
          const end = Date.now() + MATCH_BOUND_MS;
          let tries = 0;
          for (;;) {
            tries++;
            const held = await heldTable(page);
            const api = await apiTable();
            if (held !== null && held.deltas > 0 && held.body.table === api.table)
              return { held: held.body, api, tries };
            if (Date.now() > end)
              throw new Error(`after ${tries} tries in ${MATCH_BOUND_MS / 1000} s no table number matched`);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        MATCH_BOUND_MS + 30_000,
      );
      assert.deepEqual(canonicalTable(matched.held), canonicalTable(matched.api));
      assert.ok(
        frames.some((f) => f.kind === 'change' && f.rows < matched.api.rows.length),
        `some change left unmoved rows out: ${JSON.stringify(frames)}`,
      );
      // The growing workload's row is in it, and the page shows it.
      assert.ok(matched.held.rows.some((r) => r.pid === grow.pid));
      await until(page, (pid: number) => document.querySelector(`#proc-body tr[data-pid="${pid}"]`) !== null, grow.pid);
      await page.close();
    });

    test('a page opened later gets the whole table first, then changes', async () => {
      const page = await browser.newPage();
      const frames = recordTables(page);
      await page.goto(serve.url);
      await until(page, () => (window.memlensLiveTable?.()?.deltas ?? 0) >= 1);
      const first = frames[0];
      assert.ok(first !== undefined);
      assert.equal(first.kind, 'whole', JSON.stringify(frames.slice(0, 3)));
      assert.ok(first.rows > 0);
      assert.equal(frames[1]?.kind, 'change', JSON.stringify(frames.slice(0, 3)));
      // The page holds a table the WebSocket named.
      const held = await heldTable(page);
      assert.ok(held !== null);
      assert.ok(
        frames.some((f) => f.table === held.body.table),
        JSON.stringify(frames),
      );
      await page.close();
    });
  },
);
