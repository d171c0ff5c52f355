// `memlens serve --from ARCHIVE` without a socket (fastify.inject): the BusyBox series fixture
// replayed into the views the live server fills (src/server/read-only.ts), and each view's API
// answer checked against the series: the status names the archive, the Timeline's default window
// ends at the last snapshot and holds every snapshot, the process detail has its history.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createDashboardServer, type DashboardServer } from '../../src/server/app.js';
import { replayArchive, type ReplayedArchive } from '../../src/server/read-only.js';
import { createAccessPolicy } from '../../src/server/security.js';
import { DashboardViews } from '../../src/server/views.js';
import type { HistoryBody, LedgerBody, ProcessDetailBody, ProcessesBody, StatusBody } from '../../src/wire/messages.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { fixturesDir, repoRoot } from '../helpers/paths.js';

const FIXTURE = join(fixturesDir, 'capture', 'series-busybox-1.35-linux-6.18.44.snap.gz');
let replayed: ReplayedArchive;
let server: DashboardServer;
const logged: string[] = [];

before(async () => {
  replayed = await replayArchive(FIXTURE, (line) => logged.push(line));
  const views = new DashboardViews(replayed.state, null, replayed.readMappings);
  views.history = replayed.history;
  views.readOnly = replayed.readOnly;
  server = await createDashboardServer({
    views,
    access: createAccessPolicy({ listenHost: '127.0.0.1', token: null }),
    webRoot: join(repoRoot, 'dist', 'web'),
    version: 'test',
    defaultMetrics: false,
  });
});

after(async () => {
  await server.close();
  await replayed.close();
});

async function get<T>(url: string): Promise<T> {
  const r = await server.app.inject({ url, headers: { host: '127.0.0.1' } });
  assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
  return r.json<T>();
}

test('the status says read-only, which archive, how many snapshots, from when to when', async () => {
  const s = await get<StatusBody>('/api/v1/status');
  const ro = s.readOnly;
  assert.ok(ro);
  assert.equal(ro.archive, 'series-busybox-1.35-linux-6.18.44.snap.gz');
  assert.equal(ro.snapshots, 4);
  assert.equal(ro.truncated, 0);
  assert.ok(ro.toMs - ro.fromMs > 2000 && ro.toMs - ro.fromMs < 10_000, `${ro.toMs - ro.fromMs} ms`);
  assert.equal(s.tracing.state, 'disabled');
  assert.equal(s.sampler.lastSampleMs, ro.toMs);
  assert.ok(s.memTotalBytes !== null && s.memTotalBytes > 0);
  assert.deepEqual(logged, []);
});

test('processes and ledger are the last snapshot', async () => {
  const s = await get<StatusBody>('/api/v1/status');
  const p = await get<ProcessesBody>('/api/v1/processes');
  assert.equal(p.atMs, s.readOnly?.toMs);
  const grower = p.rows.find((r) => r.pid === 2);
  assert.ok(grower, 'the growing shell');
  assert.ok(grower.pssBytes !== null && grower.pssBytes > 1024 * 1024, `pss ${grower.pssBytes}`);
  assert.ok(!p.rows.some((r) => r.pid === 3 && r.alive), 'the sleep that exited is not running');
  // Its sparkline, growing: points at least 10 s apart but the newest (process-history.ts), so
  // the first and the newest of a 3 s series.
  const spark = p.pssHistory?.series.find((x) => x.pid === 2);
  assert.ok(spark, 'sparkline of pid 2');
  assert.equal(spark.pssBytes.length, 2);
  assert.ok((spark.pssBytes[1] ?? 0) > (spark.pssBytes[0] ?? Infinity));
  const l = await get<LedgerBody>('/api/v1/ledger');
  assert.equal(l.atMs, s.readOnly?.toMs);
  assert.ok(l.root !== null);
});

test("the Timeline's default window ends at the series' end and holds every snapshot", async () => {
  const s = await get<StatusBody>('/api/v1/status');
  const ro = s.readOnly;
  assert.ok(ro);
  const h = await get<HistoryBody>('/api/v1/history?points=400');
  assert.equal(h.toMs, ro.toMs);
  assert.equal(h.tier, 'every sample');
  assert.equal(h.points.length, 4);
  assert.equal(h.points[0]?.tMs, ro.fromMs);
  assert.equal(h.points[3]?.tMs, ro.toMs);
  // The page asks for the series' own range (web/views/timeline.ts pinRange): the same points.
  const own = await get<HistoryBody>(`/api/v1/history?from=${ro.fromMs}&to=${ro.toMs}&points=400`);
  assert.equal(own.points.length, 4);
  // Processes are kept per minute (the whole 3 s series is one or two buckets): pid 2 ranks first.
  assert.equal(own.processes[0]?.pid, 2);
  assert.ok(own.series.some((x) => x.pid === 2 && x.points.length > 0));
});

test('the process detail: its history over the series; no mappings without smaps, saying why', async () => {
  const d = await get<ProcessDetailBody>('/api/v1/processes/2');
  assert.equal(d.history.length, 4);
  assert.ok((d.history[3]?.pssBytes ?? 0) > (d.history[0]?.pssBytes ?? Infinity));
  assert.equal(d.mappings, null);
  assert.match(d.mappingsError ?? '', /no smaps/);
});

test('serve --from refuses the options of a live server', async () => {
  const r = await runCliInProcess(['serve', '--from', FIXTURE, '--db', 'sqlite:x.sqlite', '--port', '7999']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--db: not with --from/);
});
