// Requests a hostile client can send before any authentication: each must be answered with an
// error status, never reach code that throws outside a handler (in the upgrade path that ends the
// process), and leave the server answering the next client.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../src/server/app.js';
import { connectionLimits } from '../../src/server/connections.js';
import { createAccessPolicy, decodeCookieValue, presentedToken } from '../../src/server/security.js';
import { HOST_CACHE_ENTRIES } from '../../src/server/views.js';
import { parseResourceLimit } from '../../src/parsers/proc/limits.js';
import { waitingFor } from '../helpers/waiting.js';
import { makeHarness } from './harness.js';
import { rawExchange, rawGet } from './raw-http.js';

/** One raw HTTP/1.1 exchange; resolves with the status code the server answered. */
function rawStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 101);
    });
    req.on('error', reject);
    // A server that died or stalls never answers: fail saying so rather than wait forever.
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer from 127.0.0.1:${port}${path} within 60 s`)));
    req.end();
  });
}

const MALFORMED = ['%E0%A4%A', '%', '%zz', '%C0%AF', '%ED%A0%80'];

describe('malformed percent-escapes in the token cookie', () => {
  test('decode to a value that matches nothing, without throwing', () => {
    for (const raw of MALFORMED) assert.equal(decodeCookieValue(raw), raw);
    assert.equal(decodeCookieValue('a%20b'), 'a b');
    assert.equal(presentedToken({ cookie: 'x=1; memlens_token=%E0%A4%A' }, '/'), '%E0%A4%A');
  });
});

describe('a token-mode server under malformed cookies', async () => {
  const h = await makeHarness('127.0.0.1', 'correct-horse-battery-staple');
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  after(() => h.server.close());
  const port = (h.server.app.server.address() as AddressInfo).port;

  test('a WebSocket upgrade is refused with 401 and the server keeps answering', async () => {
    for (const raw of MALFORMED) {
      const status = await rawStatus(port, '/api/v1/live', {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        Cookie: `memlens_token=${raw}`,
      });
      assert.equal(status, 401, raw);
    }
    assert.equal(h.server.hub.clientCount, 0);
    assert.equal(await rawStatus(port, '/api/v1/status?token=correct-horse-battery-staple', {}), 200);
  });

  test('over plain HTTP the same cookie is a 401, not a 500', async () => {
    for (const raw of MALFORMED) {
      const r = await h.server.app.inject({
        url: '/api/v1/status',
        headers: { host: '127.0.0.1', cookie: `memlens_token=${raw}` },
      });
      assert.equal(r.statusCode, 401, raw);
    }
  });
});

const UPGRADE = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Version': '13',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
};

describe('the WebSocket Origin must be this server, port included', async () => {
  const h = await makeHarness('127.0.0.1', null);
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  after(() => h.server.close());
  const port = (h.server.app.server.address() as AddressInfo).port;

  test('a page on another local port is refused', async () => {
    for (const origin of [
      'http://localhost:3000',
      'http://127.0.0.1:3000',
      `https://127.0.0.1:${port}`,
      'http://127.0.0.1',
      'null',
      `http://127.0.0.1:${port}/x`,
    ]) {
      const a = await rawExchange(
        port,
        rawGet('/api/v1/live', { ...UPGRADE, Host: `127.0.0.1:${port}`, Origin: origin }),
      );
      assert.equal(a.status, 403, origin);
    }
    assert.equal(h.server.hub.clientCount, 0);
  });

  test('the page the server itself served is accepted, also through a forwarded port', async () => {
    for (const [host, origin] of [
      [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`],
      ['localhost:9000', 'http://localhost:9000'],
    ] as const) {
      // A 101 opens a WebSocket, which has no end: its head is the whole answer.
      const a = await rawExchange(port, rawGet('/api/v1/live', { ...UPGRADE, Host: host, Origin: origin }), {
        untilHead: true,
      });
      assert.equal(a.status, 101, `${host} ${origin}: ${a.raw.slice(0, 200)}`);
    }
  });

  test('originAllowed compares scheme, host and port', () => {
    const p = createAccessPolicy({ listenHost: '127.0.0.1', token: null });
    assert.equal(p.originAllowed('http://localhost:7878', 'localhost:7878'), true);
    assert.equal(p.originAllowed('http://localhost', 'localhost:80'), true);
    assert.equal(p.originAllowed('http://localhost:3000', 'localhost:7878'), false);
    assert.equal(p.originAllowed('http://evil.example:7878', 'evil.example:7878'), false);
    assert.equal(p.originAllowed('http://localhost:7878', undefined), false);
    assert.equal(p.originAllowed(undefined, 'localhost:7878'), true);
  });
});

describe('answers written before any route runs', async () => {
  const h = await makeHarness('127.0.0.1', null);
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  after(() => h.server.close());
  const port = (h.server.app.server.address() as AddressInfo).port;
  const marker = 'ECHOMARKER';

  const hasSecurityHeaders = (headers: Map<string, string>): boolean =>
    headers.get('x-content-type-options') === 'nosniff' &&
    (headers.get('content-security-policy') ?? '').includes("default-src 'self'") &&
    headers.get('cache-control') === 'no-store';

  test('a path parameter over the router limit: the Host is checked, nothing is echoed', async () => {
    const path = `/api/v1/processes/${'1'.repeat(200)}${marker}`;
    const foreign = await rawExchange(port, rawGet(path, { Host: 'evil.example', Connection: 'close' }));
    assert.equal(foreign.status, 403, foreign.raw.slice(0, 300));
    const own = await rawExchange(port, rawGet(path, { Host: `127.0.0.1:${port}`, Connection: 'close' }));
    assert.equal(own.status, 414, own.raw.slice(0, 300));
    for (const a of [foreign, own]) {
      assert.ok(hasSecurityHeaders(a.headers), a.raw.slice(0, 600));
      assert.ok(!a.raw.includes(marker) && !a.raw.includes('1111111111'), a.raw.slice(0, 600));
    }
  });

  test('a URL over the header limit: a fixed answer with the security headers', async () => {
    const a = await rawExchange(port, rawGet(`/${marker}${'a'.repeat(20_000)}`, { Host: `127.0.0.1:${port}` }));
    assert.equal(a.status, 431, a.raw.slice(0, 300));
    assert.ok(hasSecurityHeaders(a.headers), a.raw.slice(0, 600));
    assert.ok(!a.raw.includes(marker));
  });

  test('bytes that are not HTTP: 400 with the security headers', async () => {
    const a = await rawExchange(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad\u0001Header: ${marker}\r\n\r\n`);
    assert.equal(a.status, 400, a.raw.slice(0, 300));
    assert.ok(hasSecurityHeaders(a.headers));
    assert.ok(!a.raw.includes(marker));
  });

  test('the server still answers', async () => {
    const a = await rawExchange(port, rawGet('/api/v1/status', { Host: `127.0.0.1:${port}`, Connection: 'close' }));
    assert.equal(a.status, 200);
  });

  test('silent connections are given seconds, not a minute', () => {
    const server = h.server.app.server;
    assert.equal(server.headersTimeout, 10_000);
    assert.equal(HEADERS_TIMEOUT_MS, 10_000);
    assert.equal(server.requestTimeout, REQUEST_TIMEOUT_MS);
  });
});

describe('requests from other sites (Fetch Metadata)', async () => {
  const h = await makeHarness('127.0.0.1', null);
  after(() => h.server.close());
  const app = h.server.app;

  test('another site may not call the API, even with mode no-cors', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const r = await app.inject({
        url: '/api/v1/status?host=x',
        headers: { host: '127.0.0.1:7878', 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors' },
      });
      assert.equal(r.statusCode, 403, site);
    }
  });

  test('the page itself, the address bar and a link to the page are served', async () => {
    for (const [site, mode, url] of [
      ['same-origin', 'cors', '/api/v1/status'],
      ['none', 'navigate', '/api/v1/status'],
      ['cross-site', 'navigate', '/'],
      [undefined, undefined, '/api/v1/status'],
    ] as const) {
      const headers: Record<string, string> = { host: '127.0.0.1:7878' };
      if (site !== undefined) headers['sec-fetch-site'] = site;
      if (mode !== undefined) headers['sec-fetch-mode'] = mode;
      const r = await app.inject({ url, headers });
      assert.equal(r.statusCode, 200, `${site} ${mode} ${url}`);
    }
  });
});

describe('made-up ?host= values create no state', async () => {
  const h = await makeHarness('127.0.0.1', null);
  after(() => h.server.close());
  const app = h.server.app;
  const sizes = (): { remoteTotals: number } => h.views.cacheSizes();

  test('5000 distinct hosts leave the caches within their bound', async () => {
    for (let i = 0; i < 5000; i++) {
      const url = i % 2 === 0 ? `/api/v1/processes?host=made-up-${i}` : `/api/v1/status?host=made-up-${i}`;
      const r = await app.inject({ url, headers: { host: '127.0.0.1:7878' } });
      assert.equal(r.statusCode, 200);
    }
    const s = sizes();
    assert.ok(s.remoteTotals <= HOST_CACHE_ENTRIES, JSON.stringify(s));
    assert.deepEqual(s, { remoteTotals: 0 });
  });

  test('a host the store holds is still answered from its stored totals', async () => {
    const r = await app.inject({ url: '/api/v1/processes?host=otherhost', headers: { host: '127.0.0.1:7878' } });
    assert.ok(r.json<{ rows: unknown[] }>().rows.length > 0);
    assert.equal(sizes().remoteTotals, 1);
  });
});

describe('connection caps', () => {
  test('derived from the descriptor limit, with a reserve', () => {
    assert.deepEqual(connectionLimits(400, 2), {
      fdLimit: 400,
      reserveFds: 200,
      maxConnections: 200,
      maxConnectionsPerAddress: 50,
      maxWebSockets: 50,
      maxWebSocketsPerAddress: 25,
    });
    const usual = connectionLimits(1024, 2);
    assert.equal(usual.maxConnections, 1024 - 260);
    const raised = connectionLimits(1_048_576, 64);
    assert.equal(raised.maxConnections, 4096);
    assert.equal(raised.maxWebSockets, 64);
    assert.ok(connectionLimits(null, 2).maxConnections < 1024);
  });

  test('/proc/self/limits is read', () => {
    const text =
      'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \nMax locked memory         unlimited            unlimited            bytes     \n';
    assert.deepEqual(parseResourceLimit(text, 'Max open files'), { soft: 1024, hard: 524288 });
    assert.deepEqual(parseResourceLimit(text, 'Max locked memory'), { soft: null, hard: null });
    assert.equal(parseResourceLimit(text, 'Max processes'), undefined);
  });
});

describe('WebSocket clients beyond the cap', async () => {
  const limits = { ...connectionLimits(1024, 2), maxWebSockets: 4, maxWebSocketsPerAddress: 4 };
  const h = await makeHarness('127.0.0.1', null, { limits });
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  after(() => h.server.close());
  const port = (h.server.app.server.address() as AddressInfo).port;

  test('are refused with 503 while HTTP keeps answering', async () => {
    const statuses: number[] = [];
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        await waitingFor(
          'a WebSocket handshake',
          () =>
            new Promise<number>((resolve, reject) => {
              const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live`);
              sockets.push(ws);
              ws.once('open', () => resolve(101));
              ws.once('unexpected-response', (_req, res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
              });
              ws.once('error', (e) => {
                if (!/Unexpected server response/.test(e.message)) reject(e);
              });
            }),
        ),
      );
    }
    assert.deepEqual(statuses, [101, 101, 101, 101, 503, 503]);
    assert.equal(h.server.hub.clientCount, 4);
    const a = await rawExchange(port, rawGet('/api/v1/status', { Host: `127.0.0.1:${port}`, Connection: 'close' }));
    assert.equal(a.status, 200);
    for (const ws of sockets) ws.terminate();
    await waitingFor('the server to see the WebSockets closed', async (signal) => {
      while (!signal.aborted && h.server.connections.counts().webSockets > 0)
        await new Promise((r) => setTimeout(r, 50));
    });
  });

  test('a client that only sends invalid messages is disconnected', async () => {
    const code = await waitingFor(
      'the server to close a WebSocket sending invalid messages',
      () =>
        new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live`);
          const timer = setTimeout(() => reject(new Error('still open after 60 s of invalid messages')), 60_000);
          ws.once('open', () => {
            for (let i = 0; i < 300; i++) ws.send('{"type":"nonsense"}');
          });
          ws.once('close', (c) => {
            clearTimeout(timer);
            resolve(c);
          });
          ws.once('error', reject);
        }),
    );
    assert.equal(code, 1008);
  });
});
