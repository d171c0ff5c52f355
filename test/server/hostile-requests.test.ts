// Requests a hostile client can send before any authentication: each must be answered with an
// error status, never reach code that throws outside a handler (in the upgrade path that ends the
// process), and leave the server answering the next client.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { decodeCookieValue, presentedToken } from '../../src/server/security.js';
import { makeHarness } from './harness.js';

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
      const status = await rawStatus(port, '/api/v1/live', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', Cookie: `memlens_token=${raw}` });
      assert.equal(status, 401, raw);
    }
    assert.equal(h.server.hub.clientCount, 0);
    assert.equal(await rawStatus(port, '/api/v1/status?token=correct-horse-battery-staple', {}), 200);
  });

  test('over plain HTTP the same cookie is a 401, not a 500', async () => {
    for (const raw of MALFORMED) {
      const r = await h.server.app.inject({ url: '/api/v1/status', headers: { host: '127.0.0.1', cookie: `memlens_token=${raw}` } });
      assert.equal(r.statusCode, 401, raw);
    }
  });
});
