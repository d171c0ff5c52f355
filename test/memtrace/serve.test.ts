// The dashboard's OCaml view: the memtrace routes of the server (fastify.inject). The view itself in
// Chromium is in serve-browser.live.test.ts, on the same server (serve-fixture.ts).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DashboardServer } from '../../src/server/app.js';
import type { MemtraceFilesBody, MemtraceReportBody } from '../../src/wire/memtrace.js';
import { withoutPublicTraces } from './public-traces.js';
import { startMemtraceServer, type MemtraceServer } from './serve-fixture.js';

let fixture: MemtraceServer | undefined;
before(async () => {
  if (withoutPublicTraces === false) fixture = await startMemtraceServer();
});
after(() => fixture?.close());

function serverOf(): DashboardServer {
  assert.ok(fixture, 'the server was not started');
  return fixture.server;
}
const get = (url: string) => serverOf().app.inject({ url, headers: { host: '127.0.0.1' } });

test(
  'memtrace routes: list the directory, analyse a trace, refuse names outside it',
  { skip: withoutPublicTraces },
  async () => {
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
    assert.equal(
      (
        await serverOf().app.inject({
          method: 'POST',
          url: '/api/v1/memtrace/report?file=server.ctf',
          headers: { host: '127.0.0.1' },
          payload: '{}',
        })
      ).statusCode,
      405,
    );
  },
);
