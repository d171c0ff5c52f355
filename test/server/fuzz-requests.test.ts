// Fuzz target for everything a client sends the dashboard server: methods, paths, query strings,
// headers and cookies (through fastify.inject, and a sample as raw bytes over a real socket, some
// of them damaged), WebSocket upgrades, and WebSocket messages. Every answer must be a status the
// server means to give (no 500, no crash), and the server must still answer afterwards.
// MEMLENS_FUZZ_INPUTS sets the count (default 2000: about half a minute); MEMLENS_FUZZ_SEED the seed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { SeededRandom } from '../../src/base/random.js';
import { fixturesDir } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { makeHarness } from './harness.js';
import { rawExchange } from './raw-http.js';

const INPUTS = Number(process.env.MEMLENS_FUZZ_INPUTS ?? 2000);
const SEED = Number(process.env.MEMLENS_FUZZ_SEED ?? 20261206);
const TOKEN = 'fuzz-token-0123456789';

/** Statuses the server gives on purpose. 500 is not among them: it means an input reached code that threw. */
const HTTP_STATUSES = new Set([
  200, 204, 206, 304, 400, 401, 403, 404, 405, 406, 408, 411, 412, 413, 414, 415, 416, 422, 431, 503, 505,
]);
const UPGRADE_STATUSES = new Set([101, 400, 401, 403, 404, 426, 503]);
/** WebSocket close codes the server or ws may use (1006: closed without a frame, after 1009/1008). */
const CLOSE_CODES = new Set([1000, 1001, 1002, 1005, 1006, 1007, 1008, 1009]);

const pick = <T>(rng: SeededRandom, xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)] as T;

const ROUTES = [
  '/',
  '/index.html',
  '/app.js',
  '/style.css',
  '/favicon.svg',
  '/metrics',
  '/api/v1/status',
  '/api/v1/hosts',
  '/api/v1/processes',
  '/api/v1/processes/113',
  '/api/v1/processes/0',
  '/api/v1/pie',
  '/api/v1/ledger',
  '/api/v1/timeline',
  '/api/v1/events',
  '/api/v1/events/count',
  '/api/v1/memtrace/files',
  '/api/v1/memtrace/report',
  '/api/v1/dirty',
  '/api/v1/pages',
  '/api/v1/pages/frames',
  '/api/v1/live',
  '/api/v2/status',
  '/api',
  '/../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '//api/v1/status',
] as const;
const KEYS = [
  'host',
  'token',
  'pid',
  'name',
  'call',
  'from',
  'to',
  'before',
  'limit',
  'file',
  'host[]',
  '__proto__',
  'constructor',
  'detailPid',
  'start',
  'end',
  'cells',
  'count',
  '',
] as const;
const ATOMS = [
  '',
  '0',
  '1',
  '-1',
  '113',
  '1.5',
  '1e309',
  'NaN',
  'Infinity',
  '9007199254740993',
  '99999999999999999999',
  '0x10',
  'mmap',
  'munmap',
  'brk',
  'mremap',
  'testhost',
  'otherhost',
  'plain.ctf',
  'fifo.ctf',
  'outside.ctf',
  '../outside.ctf',
  '.hidden.ctf',
  'a/b.ctf',
  TOKEN,
  '%',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%ED%A0%80',
  '%00',
  '%0d%0a',
  '+',
  '&',
  '=',
  '__proto__',
  'constructor',
  '[]',
  '{}',
  '"',
  "'",
  '<script>',
  '\\',
  '\u00e9',
  '\u{1F600}',
  'null',
  'true',
] as const;

function randomText(rng: SeededRandom, max: number): string {
  const n = rng.int(0, max);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    if (r < 0.6) s += String.fromCharCode(rng.int(0x20, 0x7e));
    else if (r < 0.75) s += `%${rng.int(0, 255).toString(16).padStart(2, '0')}`;
    else if (r < 0.85) s += pick(rng, ['%', '%z', '%E0%A4', '%ff', '%u1234']);
    else if (r < 0.95) s += String.fromCodePoint(rng.int(0xa0, 0x2fff));
    else s += String.fromCharCode(rng.int(0, 0x1f));
  }
  return s;
}

function value(rng: SeededRandom): string {
  const r = rng.next();
  if (r < 0.5) return pick(rng, ATOMS);
  if (r < 0.9) return randomText(rng, 40);
  return pick(rng, ATOMS).repeat(rng.int(1, 400));
}

function path(rng: SeededRandom): string {
  let p: string = pick(rng, ROUTES);
  if (rng.next() < 0.2) p += `/${randomText(rng, 20)}`;
  if (rng.next() < 0.05) p = `/api/v1/processes/${'9'.repeat(rng.int(10, 300))}`;
  if (rng.next() < 0.1) p = p.replace(/\//g, () => pick(rng, ['/', '//', '/./', '/%2f', '\\']));
  const pairs = rng.int(0, 6);
  if (pairs > 0) {
    const q: string[] = [];
    for (let i = 0; i < pairs; i++) q.push(rng.next() < 0.1 ? value(rng) : `${pick(rng, KEYS)}=${value(rng)}`);
    p += `?${q.join(rng.next() < 0.9 ? '&' : ';')}`;
  }
  return p;
}

function headers(rng: SeededRandom, port: number): Record<string, string> {
  const h: Record<string, string> = {};
  const r = rng.next();
  h.host =
    r < 0.6
      ? `127.0.0.1:${port}`
      : r < 0.7
        ? 'localhost'
        : r < 0.75
          ? '[::1]:7878'
          : r < 0.85
            ? pick(rng, ['evil.example', '127.0.0.1.evil.example', '', '[', '[::1', ':', '::1:7878', '0.0.0.0'])
            : value(rng);
  if (rng.next() < 0.4)
    h.authorization =
      rng.next() < 0.5
        ? `Bearer ${TOKEN}`
        : pick(rng, ['Bearer', 'Bearer ', `bearer  ${value(rng)}`, 'Basic Zm9vOmJhcg==', value(rng)]);
  if (rng.next() < 0.4) {
    const parts = Array.from({ length: rng.int(1, 4) }, () =>
      rng.next() < 0.5 ? `memlens_token=${rng.next() < 0.3 ? TOKEN : value(rng)}` : `${value(rng)}=${value(rng)}`,
    );
    h.cookie = parts.join(pick(rng, ['; ', ';', ',', ' ']));
  }
  if (rng.next() < 0.3)
    h.origin = pick(rng, [
      `http://127.0.0.1:${port}`,
      'http://localhost:3000',
      'null',
      'https://evil.example',
      value(rng),
    ]);
  if (rng.next() < 0.3) h['sec-fetch-site'] = pick(rng, ['same-origin', 'same-site', 'cross-site', 'none', value(rng)]);
  if (rng.next() < 0.3) h['sec-fetch-mode'] = pick(rng, ['cors', 'no-cors', 'navigate', 'websocket', value(rng)]);
  if (rng.next() < 0.2)
    h.range = pick(rng, [
      'bytes=0-10',
      'bytes=-5',
      'bytes=5-1',
      'bytes=0-0,1-1,2-2',
      'bytes=99999999999999999999-',
      value(rng),
    ]);
  if (rng.next() < 0.2) h['if-none-match'] = value(rng);
  if (rng.next() < 0.2) h['if-modified-since'] = pick(rng, ['Thu, 01 Jan 1970 00:00:00 GMT', value(rng)]);
  if (rng.next() < 0.2) h['accept-encoding'] = pick(rng, ['gzip', 'br', 'identity;q=0', '*;q=0', value(rng)]);
  if (rng.next() < 0.1) h['content-type'] = value(rng);
  if (rng.next() < 0.1) h[`x-${rng.int(0, 99)}`] = value(rng);
  return h;
}

const METHODS = ['GET', 'GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;
/** Only over the raw socket: methods inject does not send, and ones that are not methods. */
const RAW_METHODS = ['TRACE', 'CONNECT', 'PROPFIND', 'G ET', 'get', ''] as const;

/** Header values inject can send: no controls but tab, nothing past U+00FF. */
function injectable(h: Record<string, string>): boolean {
  return Object.values(h).every((v) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v));
}

function rawRequest(
  method: string,
  url: string,
  h: Record<string, string>,
  rng: SeededRandom,
  damage: boolean,
): { bytes: Buffer; damaged: boolean } {
  const lines = [`${method} ${url} HTTP/1.1`, ...Object.entries(h).map(([k, v]) => `${k}: ${v}`), 'Connection: close'];
  let bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  let damaged = false;
  if (damage && rng.next() < 0.3) {
    damaged = true;
    const b = Buffer.from(bytes);
    for (let k = rng.int(1, 8); k > 0; k--)
      b[rng.int(0, b.length - 1)] = pick(rng, [0, 10, 13, 32, 58, 0x7f, 0xff, rng.int(0, 255)]);
    bytes = rng.next() < 0.3 ? b.subarray(0, rng.int(0, b.length)) : b;
  }
  return { bytes, damaged };
}

function subscribeLike(rng: SeededRandom): string {
  const r = rng.next();
  if (r < 0.1) return randomText(rng, 200);
  if (r < 0.15) return '['.repeat(rng.int(1, 5000));
  const msg: Record<string, unknown> = {};
  if (rng.next() < 0.9) msg.type = rng.next() < 0.8 ? 'subscribe' : value(rng);
  if (rng.next() < 0.9) msg.v = rng.next() < 0.8 ? 1 : pick(rng, [0, 2, '1', null, 1.5, -1]);
  const num = (): unknown => pick(rng, [1, 113, 0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER, '113', null, [], {}]);
  if (rng.next() < 0.5)
    msg.host =
      rng.next() < 0.5 ? pick(rng, ['testhost', 'otherhost']) : rng.next() < 0.9 ? value(rng) : 'h'.repeat(300);
  if (rng.next() < 0.4)
    msg.calls =
      rng.next() < 0.2
        ? value(rng)
        : {
            pid: num(),
            name: rng.next() < 0.5 ? value(rng) : 'n'.repeat(100),
            call: pick(rng, ['mmap', 'munmap', 'brk', 'mremap', 'x', 7]),
          };
  if (rng.next() < 0.4) msg.detailPid = num();
  if (rng.next() < 0.3) msg.dirty = rng.next() < 0.3 ? value(rng) : { afterRound: num() };
  if (rng.next() < 0.1) msg.__proto__ = { polluted: true };
  return JSON.stringify(msg);
}

describe('fuzz: hostile HTTP and WebSocket input', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-fuzz-'));
  mkdirSync(join(dir, 'traces'));
  writeFileSync(join(dir, 'traces', 'plain.ctf'), 'not a trace');
  execFileSync('mkfifo', [join(dir, 'traces', 'fifo.ctf')]);
  symlinkSync('/etc/passwd', join(dir, 'traces', 'outside.ctf'));
  // A proc root for the physical memory view: the 6.18 tables and 4096 frames of kpageflags/kpagecount.
  const proc = join(dir, 'proc');
  mkdirSync(proc);
  const pagesFixture = join(fixturesDir, 'pages', '6.18');
  for (const f of ['zoneinfo', 'buddyinfo', 'pagetypeinfo', 'iomem', 'meminfo'])
    copyFileSync(join(pagesFixture, f), join(proc, f));
  copyFileSync(join(pagesFixture, 'kpageflags-1048576-4096'), join(proc, 'kpageflags'));
  copyFileSync(join(pagesFixture, 'kpagecount-1048576-4096'), join(proc, 'kpagecount'));
  const servers = [
    await makeHarness('127.0.0.1', null, { memtraceDir: join(dir, 'traces'), pagesProcRoot: proc }),
    await makeHarness('127.0.0.1', TOKEN, { memtraceDir: join(dir, 'traces') }),
  ];
  for (const h of servers) await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  after(async () => {
    for (const h of servers) await h.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${INPUTS} inputs (seed ${SEED}): every answer is a defined status, and the server keeps answering`, async () => {
    const rng = new SeededRandom(SEED);
    const counts = { inject: 0, notSendable: 0, raw: 0, rawClosed: 0, upgrades: 0, wsSessions: 0, wsMessages: 0 };
    const statuses = new Map<number, number>();
    for (let i = 0; i < INPUTS; i++) {
      const h = servers[i % servers.length];
      assert.ok(h !== undefined);
      const port = (h.server.app.server.address() as AddressInfo).port;
      const method = pick(rng, METHODS);
      const url = path(rng);
      const hdrs = headers(rng, port);
      const what = `input ${i}: ${method} ${JSON.stringify(url).slice(0, 300)} ${JSON.stringify(hdrs).slice(0, 600)}`;

      // Header values with bytes inject cannot carry (controls, characters past U+00FF) go over the
      // raw socket, as does a sample of the rest, some of it damaged or cut short.
      const viaSocket = i % 20 === 0 || !injectable(hdrs);
      if (viaSocket && i % 50 !== 1) {
        const { bytes, damaged } = rawRequest(
          rng.next() < 0.2 ? pick(rng, RAW_METHODS) : method,
          url,
          hdrs,
          rng,
          i % 20 === 0,
        );
        // An intact request is answered and then closed (Connection: close); a damaged one may be cut
        // short, so it ends with end of file rather than wait for the header timeout.
        const a = await rawExchange(port, bytes, { halfClose: damaged });
        const sent = `input ${i}, raw: ${JSON.stringify(bytes.toString('latin1').slice(0, 600))}`;
        counts.raw++;
        if (a.status === 0) {
          counts.rawClosed++;
          assert.ok(damaged, `${sent}: connection closed without an answer`);
        } else assert.ok(HTTP_STATUSES.has(a.status), `${sent}: raw answer ${a.status}: ${a.raw.slice(0, 300)}`);
      } else if (i % 50 === 1) {
        const up = {
          ...hdrs,
          connection: 'Upgrade',
          upgrade: rng.next() < 0.9 ? 'websocket' : value(rng),
          'sec-websocket-version': rng.next() < 0.8 ? '13' : value(rng),
          'sec-websocket-key': rng.next() < 0.8 ? 'dGhlIHNhbXBsZSBub25jZQ==' : value(rng),
        };
        const target =
          rng.next() < 0.7
            ? `/api/v1/live${rng.next() < 0.5 ? `?token=${rng.next() < 0.5 ? TOKEN : value(rng)}` : ''}`
            : url;
        const lines = [`GET ${target} HTTP/1.1`, ...Object.entries(up).map(([k, v]) => `${k}: ${v}`)];
        const a = await rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), { untilHead: true });
        counts.upgrades++;
        assert.ok(
          a.status === 0 || UPGRADE_STATUSES.has(a.status) || HTTP_STATUSES.has(a.status),
          `${what}: upgrade answer ${a.status}: ${a.raw.slice(0, 300)}`,
        );
      } else {
        let status: number;
        try {
          status = (await h.server.app.inject({ method, url, headers: hdrs })).statusCode;
        } catch (e) {
          // light-my-request refuses some inputs before they reach the server (an invalid URL).
          counts.notSendable++;
          assert.ok(e instanceof Error && !/internal/i.test(e.message), `${what}: ${String(e)}`);
          continue;
        }
        counts.inject++;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        assert.ok(HTTP_STATUSES.has(status), `${what}: answered ${status}`);
      }

      if (i % 100 === 2) {
        // A live client with hostile messages.
        const token = h.token === null ? '' : `?token=${TOKEN}`;
        const n = rng.int(1, 20);
        const messages = Array.from({ length: n }, () =>
          rng.next() < 0.05
            ? Buffer.from(Array.from({ length: rng.int(1, 70_000) }, () => rng.int(0, 255)))
            : subscribeLike(rng),
        );
        const outcome = await waitingFor(
          `${what}: a WebSocket session of ${n} messages`,
          () =>
            new Promise<{ closed: number | null; received: number }>((resolve, reject) => {
              const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live${token}`, {
                headers: { Origin: `http://127.0.0.1:${port}` },
              });
              let received = 0;
              const timer = setTimeout(
                () => reject(new Error('no answer to the WebSocket session within 60 s')),
                60_000,
              );
              ws.on('message', () => {
                // hello, then one answer or update per message at most; a few is enough to know it lives.
                if (++received >= 2) {
                  clearTimeout(timer);
                  ws.terminate();
                  resolve({ closed: null, received });
                }
              });
              ws.once('open', () => {
                for (const m of messages) ws.send(m);
                // A valid subscription last, which is always answered with an update.
                ws.send(JSON.stringify({ type: 'subscribe', v: 1 }));
              });
              ws.once('close', (code) => {
                clearTimeout(timer);
                resolve({ closed: code, received });
              });
              ws.once('error', () => undefined);
            }),
        );
        counts.wsSessions++;
        counts.wsMessages += n;
        if (outcome.closed !== null)
          assert.ok(CLOSE_CODES.has(outcome.closed), `${what}: WebSocket closed with ${outcome.closed}`);
      }

      if (i % 250 === 0) {
        const a = await h.server.app.inject({
          url: '/api/v1/status',
          headers: { host: '127.0.0.1', authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(a.statusCode, 200, `after input ${i}`);
      }
    }
    for (const h of servers) {
      const port = (h.server.app.server.address() as AddressInfo).port;
      const a = await rawExchange(
        port,
        `GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(a.status, 200);
    }
    const summary = {
      seed: SEED,
      inputs: INPUTS,
      ...counts,
      statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
    };
    // The figures docs/testing.md quotes come from this line.
    process.stdout.write(`# fuzz-requests: ${JSON.stringify(summary)}\n`);
  });
});
