// The dashboard's OCaml view: the memtrace routes of the server (fastify.inject), then the view
// itself in Chromium against a server listening on a free port.
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { createDashboardServer, type DashboardServer } from '../../src/server/app.js';
import { LiveState } from '../../src/server/live-state.js';
import { createAccessPolicy } from '../../src/server/security.js';
import { DashboardViews } from '../../src/server/views.js';
import type { MemtraceFilesBody, MemtraceReportBody } from '../../src/wire/memtrace.js';
import { artifactsDir, repoRoot } from '../helpers/paths.js';
import { untilInPage } from '../web/live-serve.js';
import { readPublicTrace } from './public-traces.js';
import { buildScenario } from './scenarios.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-memtrace-serve-'));
const traces = join(dir, 'traces');
let server: DashboardServer;

before(async () => {
  mkdirSync(traces);
  writeFileSync(join(traces, 'server.ctf'), buildScenario({ durationS: 40, tickUs: 2000, leak: true, race: { fromS: 10, toS: 20 }, warmup: false, seed: 4 }).bytes);
  writeFileSync(join(traces, 'ocamlopt.ctf'), readPublicTrace('ocamlopt-v3.ctf'));
  writeFileSync(join(traces, 'notes.ctf'), 'not a trace\n');
  writeFileSync(join(dir, 'secret.ctf'), readPublicTrace('synthetic-v2.ctf'));
  symlinkSync(join(dir, 'secret.ctf'), join(traces, 'link.ctf'));
  const views = new DashboardViews(new LiveState({ host: 'testhost' }), null, null);
  server = await createDashboardServer({ views, access: createAccessPolicy({ listenHost: '127.0.0.1', token: null }), webRoot: join(repoRoot, 'dist', 'web'), version: 'test', defaultMetrics: false, memtraceDir: traces });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (url: string) => server.app.inject({ url, headers: { host: '127.0.0.1' } });

test('memtrace routes: list the directory, analyse a trace, refuse names outside it', async () => {
  const files = (await get('/api/v1/memtrace/files')).json<MemtraceFilesBody>();
  assert.equal(files.type, 'memtrace-files');
  // link.ctf points outside the directory: it is not listed (its size and mtime are not the
  // directory's to tell), and it cannot be opened (below).
  assert.deepEqual(
    files.files.map((f) => f.name),
    ['notes.ctf', 'ocamlopt.ctf', 'server.ctf'],
  );
  const r = await get('/api/v1/memtrace/report?file=server.ctf');
  assert.equal(r.statusCode, 200);
  const body = r.json<MemtraceReportBody>();
  assert.equal(body.type, 'memtrace-report');
  assert.equal(body.report.leaks.length, 1);
  assert.equal(body.report.races.length, 1);
  assert.ok(body.flame.stacks.length > 0);
  const opt = (await get('/api/v1/memtrace/report?file=ocamlopt.ctf')).json<MemtraceReportBody>();
  assert.equal(opt.report.events.allocations, 1676);
  for (const bad of ['../secret.ctf', '..%2Fsecret.ctf', '%2Fetc%2Fpasswd', 'server.txt', '.hidden.ctf']) {
    const res = await get(`/api/v1/memtrace/report?file=${bad}`);
    assert.equal(res.statusCode, 400, bad);
  }
  assert.equal((await get('/api/v1/memtrace/report?file=link.ctf')).statusCode, 400);
  assert.equal((await get('/api/v1/memtrace/report?file=missing.ctf')).statusCode, 404);
  const notTrace = await get('/api/v1/memtrace/report?file=notes.ctf');
  assert.equal(notTrace.statusCode, 422);
  assert.match(notTrace.json<{ message: string }>().message, /^notes\.ctf: not a memtrace trace/);
  // Read-only like the rest of the API.
  assert.equal((await server.app.inject({ method: 'POST', url: '/api/v1/memtrace/report?file=server.ctf', headers: { host: '127.0.0.1' }, payload: '{}' })).statusCode, 405);
});

test('the OCaml view in Chromium: open a trace, see live memory, findings, sites and the flame graph', async () => {
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
});
