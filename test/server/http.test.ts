// The HTTP side of `memlens serve` without a socket (fastify.inject): access checks, the
// read-only API, paging, input validation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  EVENT_COUNT_CAP,
  type EventCountBody,
  type EventsBody,
  type PieBody,
  type ProcessDetailBody,
  type ProcessesBody,
  type StatusBody,
} from '../../src/wire/messages.js';
import { eventFixture } from './fixtures.js';
import { repoRoot } from '../helpers/paths.js';
import { makeHarness } from './harness.js';

describe('access on loopback without a token', async () => {
  const h = await makeHarness('127.0.0.1', null);
  after(() => h.server.close());
  const app = h.server.app;

  test('no token is needed on loopback', () => assert.equal(h.token, null));

  test('a request naming this server is answered', async () => {
    const r = await app.inject({ url: '/api/v1/status', headers: { host: '127.0.0.1:7878' } });
    assert.equal(r.statusCode, 200);
    const body = r.json<StatusBody>();
    assert.equal(body.type, 'status');
    assert.equal(body.v, 1);
    assert.equal(body.totalVirtualBytes, (8192 + 2048) * 1024 * 1024);
  });

  test('localhost and [::1] are allowed hosts', async () => {
    for (const host of ['localhost:7878', '[::1]:7878', 'LOCALHOST']) {
      const r = await app.inject({ url: '/api/v1/status', headers: { host } });
      assert.equal(r.statusCode, 200, host);
    }
  });

  test('a foreign Host header is refused (DNS rebinding)', async () => {
    for (const host of ['evil.example', 'evil.example:7878', '127.0.0.1.evil.example', '[::2]:7878']) {
      const r = await app.inject({ url: '/api/v1/status', headers: { host } });
      assert.equal(r.statusCode, 403, host);
      assert.equal(r.json<{ type: string }>().type, 'error');
    }
  });

  test('the API is read-only: POST, PUT and DELETE are refused', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
      const r = await app.inject({ method, url: '/api/v1/processes', headers: { host: '127.0.0.1' }, payload: '{}' });
      assert.equal(r.statusCode, 405, method);
    }
  });

  test('every answer forbids inline scripts and sniffing', async () => {
    const r = await app.inject({ url: '/', headers: { host: '127.0.0.1' } });
    assert.match(String(r.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });

  test('processes: requested is joined from the tracer, PSS n/a stays null', async () => {
    const r = await app.inject({ url: '/api/v1/processes', headers: { host: '127.0.0.1' } });
    const body = r.json<ProcessesBody>();
    assert.equal(body.rows.length, 14);
    const p103 = body.rows.find((x) => x.pid === 103);
    assert.equal(p103?.pssBytes, null);
    assert.equal(p103.requestedBytes, 4 * 4 * 1024 * 1024);
    assert.equal(p103.requestedRatio, (16 * 1024 * 1024) / ((8192 + 2048) * 1024 * 1024));
    // Reserved (PROT_NONE) bytes come with the row and take no share of total virtual memory.
    assert.equal(p103.reservedBytes, 4 * 2 * 1024 * 1024);
    const hostile = body.rows.find((x) => x.pid === 113);
    assert.equal(hostile?.name, '<i id=pwn>x');
  });

  test('pie: top 10 then one "others" slice holding the rest', async () => {
    const body = (await app.inject({ url: '/api/v1/pie', headers: { host: '127.0.0.1' } })).json<PieBody>();
    assert.equal(body.slices.length, 11);
    assert.equal(body.slices[0]?.pid, 113);
    const others = body.slices[10];
    assert.equal(others?.label, 'others');
    assert.equal(others.pid, null);
    assert.equal(body.othersCount, 4);
    // The four smallest requesters: pids 100 to 103 with 4, 8, 12 and 16 MiB.
    assert.equal(others.bytes, (4 + 8 + 12 + 16) * 1024 * 1024);
    assert.equal(
      body.slices.reduce((s, x) => s + x.bytes, 0),
      body.totalRequestedBytes,
    );
  });

  test('events: newest first, keyset pages that join without gap or overlap', async () => {
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/v1/events?limit=7${next === null ? '' : `&before=${encodeURIComponent(next)}`}`;
      const body: EventsBody = (await app.inject({ url, headers: { host: '127.0.0.1' } })).json<EventsBody>();
      seen.push(...body.rows.map((r) => r.ktime));
      next = body.next;
      pages++;
    } while (next !== null && pages < 100);
    assert.equal(seen.length, 30);
    assert.equal(new Set(seen).size, 30);
    const sorted = [...seen].sort((a, b) => Number(BigInt(b) - BigInt(a)));
    assert.deepEqual(seen, sorted);
  });

  test('events: filters by pid, call and host', async () => {
    const byPid = (
      await app.inject({ url: '/api/v1/events?pid=113', headers: { host: '127.0.0.1' } })
    ).json<EventsBody>();
    assert.ok(byPid.rows.length > 0);
    assert.ok(byPid.rows.every((r) => r.pid === 113 && r.name === '<i id=pwn>x'));
    const other = (
      await app.inject({ url: '/api/v1/events?host=otherhost&call=munmap', headers: { host: '127.0.0.1' } })
    ).json<EventsBody>();
    assert.deepEqual(
      other.rows.map((r) => [r.host, r.call]),
      [['otherhost', 'munmap']],
    );
  });

  test('events/count: exact up to the cap, then "more than" the cap', async () => {
    const count = async (q: string): Promise<EventCountBody> =>
      (await app.inject({ url: `/api/v1/events/count?${q}`, headers: { host: '127.0.0.1' } })).json<EventCountBody>();
    const exact = await count('pid=113');
    assert.deepEqual([exact.count, exact.capped], [2, false]);
    const bulk = Array.from({ length: EVENT_COUNT_CAP + 1 }, (_, i) => ({ ...eventFixture(i, 'bulk'), pid: 999 }));
    h.store.events.push(...bulk);
    try {
      const over = await count('host=bulk&pid=999');
      assert.deepEqual([over.count, over.capped], [EVENT_COUNT_CAP, true]);
      h.store.events.pop();
      const at = await count('host=bulk&pid=999');
      assert.deepEqual([at.count, at.capped], [EVENT_COUNT_CAP, false], 'exactly the cap is not "more than"');
    } finally {
      h.store.events.splice(h.store.events.length - EVENT_COUNT_CAP);
    }
  });

  test('bad query values are a 400 with a reason, not a crash', async () => {
    for (const q of ['pid=abc', 'limit=0', 'limit=5000', 'call=execve', 'from=-1']) {
      const r = await app.inject({ url: `/api/v1/events?${q}`, headers: { host: '127.0.0.1' } });
      assert.equal(r.statusCode, 400, q);
      assert.match(r.json<{ message: string }>().message, /bad request/);
    }
  });

  test('process detail: mappings when readable, the reason when not', async () => {
    const ok = (
      await app.inject({ url: '/api/v1/processes/113', headers: { host: '127.0.0.1' } })
    ).json<ProcessDetailBody>();
    assert.equal(ok.mappings?.[0]?.kind, 'anonymous');
    assert.equal(ok.history.length, 1);
    const denied = (
      await app.inject({ url: '/api/v1/processes/100', headers: { host: '127.0.0.1' } })
    ).json<ProcessDetailBody>();
    assert.equal(denied.mappings, null);
    assert.equal(denied.mappingsError, 'permission denied');
    const missing = await app.inject({ url: '/api/v1/processes/99999', headers: { host: '127.0.0.1' } });
    assert.equal(missing.statusCode, 404);
  });

  test('a remote host shows stored totals and n/a for /proc figures', async () => {
    const body = (
      await app.inject({ url: '/api/v1/processes?host=otherhost', headers: { host: '127.0.0.1' } })
    ).json<ProcessesBody>();
    assert.equal(body.remote, true);
    assert.ok(body.rows.length > 0);
    assert.ok(body.rows.every((r) => r.rssBytes === null && r.pssBytes === null && r.sampledAtMs === null));
    // The store keeps call totals, not address spaces: reserved is not known there.
    assert.ok(body.rows.every((r) => r.reservedBytes === null));
    const hosts = (await app.inject({ url: '/api/v1/hosts', headers: { host: '127.0.0.1' } })).json<{
      hosts: string[];
    }>();
    assert.deepEqual(hosts.hosts, ['otherhost', 'testhost']);
  });
});

describe('the dashboard files, compressed once by the build', async () => {
  const h = await makeHarness('127.0.0.1', null);
  after(() => h.server.close());
  const app = h.server.app;
  const plain = readFileSync(join(repoRoot, 'dist', 'web', 'app.js'));

  test('brotli, then gzip, to a browser that accepts them; the same bytes once decoded', async () => {
    for (const [accept, encoding, decode] of [
      ['gzip, deflate, br, zstd', 'br', brotliDecompressSync],
      ['gzip, deflate', 'gzip', gunzipSync],
    ] as const) {
      const r = await app.inject({ url: '/app.js', headers: { host: '127.0.0.1', 'accept-encoding': accept } });
      assert.equal(r.statusCode, 200, accept);
      assert.equal(r.headers['content-encoding'], encoding, accept);
      assert.match(String(r.headers['content-type']), /javascript/);
      assert.match(String(r.headers.vary), /accept-encoding/i, 'a cache keeps the encodings apart');
      assert.ok(r.rawPayload.length < plain.length / 2, `${encoding}: ${r.rawPayload.length} of ${plain.length} bytes`);
      assert.ok(decode(r.rawPayload).equals(plain), `${encoding} decodes to app.js`);
    }
  });

  test('the page itself at "/", compressed and not', async () => {
    const html = readFileSync(join(repoRoot, 'dist', 'web', 'index.html'));
    for (const [accept, decode] of [
      ['gzip, deflate, br, zstd', brotliDecompressSync],
      ['gzip, deflate', gunzipSync],
      ['identity', (b: Buffer) => b],
    ] as const) {
      const r = await app.inject({ url: '/', headers: { host: '127.0.0.1', 'accept-encoding': accept } });
      assert.equal(r.statusCode, 200, accept);
      assert.match(String(r.headers['content-type']), /^text\/html/, accept);
      assert.ok(decode(r.rawPayload).equals(html), `${accept}: index.html`);
    }
  });

  test('the file as it is to a client that accepts no encoding', async () => {
    const r = await app.inject({ url: '/app.js', headers: { host: '127.0.0.1' } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.ok(r.rawPayload.equals(plain));
  });
});

describe('without tracing', async () => {
  const h = await makeHarness('127.0.0.1', null, { tracing: false });
  after(() => h.server.close());

  test('requested and calls are n/a (null), never 0, and the reason is in the status', async () => {
    const rows = (
      await h.server.app.inject({ url: '/api/v1/processes', headers: { host: '127.0.0.1' } })
    ).json<ProcessesBody>().rows;
    assert.ok(
      rows.every(
        (r) => r.requestedBytes === null && r.reservedBytes === null && r.calls === null && r.requestedRatio === null,
      ),
    );
    assert.ok(rows.every((r) => r.rssBytes !== null));
    const st = (
      await h.server.app.inject({ url: '/api/v1/status', headers: { host: '127.0.0.1' } })
    ).json<StatusBody>();
    assert.deepEqual(st.tracing, { state: 'unavailable', reason: 'tracing needs root' });
  });
});

describe('access on another address: a token on every request', async () => {
  const h = await makeHarness('0.0.0.0', null);
  after(() => h.server.close());
  const app = h.server.app;
  const token = h.token ?? '';

  test('a token was generated because the address is not loopback', () => {
    assert.ok(token.length >= 40);
  });

  test('no token: 401 for the API, the page and /metrics', async () => {
    for (const url of ['/api/v1/status', '/', '/app.js', '/metrics', '/nope']) {
      const r = await app.inject({ url, headers: { host: '127.0.0.1' } });
      assert.equal(r.statusCode, 401, url);
    }
  });

  test('a wrong token of the same length is refused', async () => {
    const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const r = await app.inject({
      url: '/api/v1/status',
      headers: { host: '127.0.0.1', authorization: `Bearer ${wrong}` },
    });
    assert.equal(r.statusCode, 401);
  });

  test('Bearer header, query and cookie are accepted', async () => {
    const bearer = await app.inject({
      url: '/api/v1/status',
      headers: { host: '127.0.0.1', authorization: `Bearer ${token}` },
    });
    assert.equal(bearer.statusCode, 200);
    const query = await app.inject({ url: `/?token=${encodeURIComponent(token)}`, headers: { host: '127.0.0.1' } });
    assert.equal(query.statusCode, 200);
    const setCookie = String(query.headers['set-cookie']);
    assert.match(setCookie, /memlens_token=.*HttpOnly.*SameSite=Strict/);
    const cookie = setCookie.split(';')[0] ?? '';
    const withCookie = await app.inject({ url: '/api/v1/processes', headers: { host: '127.0.0.1', cookie } });
    assert.equal(withCookie.statusCode, 200);
  });

  test('a valid token does not excuse a foreign Host', async () => {
    const r = await app.inject({
      url: '/api/v1/status',
      headers: { host: 'evil.example', authorization: `Bearer ${token}` },
    });
    assert.equal(r.statusCode, 403);
  });
});
