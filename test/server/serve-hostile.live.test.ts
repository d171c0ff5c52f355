// A real `memlens serve` process against hostile clients and a hostile start: a FIFO in the trace
// directory, a flood of connections that never finish their headers, and addresses it cannot
// listen on. Real sockets on loopback only, bounded counts; every wait fails after a generous bound
// saying what it waited for, since a stalled server is exactly what these tests look for.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MemtraceFilesBody } from '../../src/wire/memtrace.js';
import type { StatusBody } from '../../src/wire/messages.js';
import { cliPath } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { freePort, startServe } from '../web/live-serve.js';
import type { LiveServe } from '../web/live-serve.js';
import { rawExchange, rawGet } from './raw-http.js';

const BOUND_MS = 60_000;

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Polls `check` every 200 ms until it holds; fails after `boundMs` saying what it waited for. */
async function until(what: string, check: () => boolean | Promise<boolean>, boundMs = BOUND_MS): Promise<void> {
  await waitingFor(what, async () => {
    const deadline = Date.now() + boundMs;
    for (;;) {
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`waited ${boundMs / 1000} s for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
}

describe('a FIFO in --memtrace-dir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-fifo-'));
  const traces = join(dir, 'traces');
  const fifo = join(traces, 'fifo.ctf');
  let serve: LiveServe;
  before(async () => {
    mkdirSync(traces);
    execFileSync('mkfifo', [fifo]);
    writeFileSync(join(traces, 'plain.ctf'), 'not a trace, but a regular file');
    // A link out of the directory: neither listed nor read.
    symlinkSync('/etc/passwd', join(traces, 'outside.ctf'));
    writeFileSync(join(dir, 'secret.txt'), 'x'.repeat(12345));
    symlinkSync(join(dir, 'secret.txt'), join(traces, 'secret.ctf'));
    serve = await startServe(['--no-trace', '--memtrace-dir', traces]);
  });
  after(async () => {
    // Without the fix the readers are still blocked in open(): a writer that comes and goes
    // releases them, so that the server can stop.
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader is waiting.
    }
    await serve.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('five reports of the FIFO are refused, and the server keeps answering', async () => {
    const port = portOf(serve.url);
    // More requests than libuv has threads (four): blocked in open(), they would take them all.
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        rawExchange(
          port,
          rawGet('/api/v1/memtrace/report?file=fifo.ctf', { Host: `127.0.0.1:${port}`, Connection: 'close' }),
          { boundMs: BOUND_MS },
        ),
      ),
    );
    for (const a of answers) {
      assert.equal(a.status, 400, a.raw.slice(0, 300));
      assert.match(a.body, /not a regular file/);
    }
    const page = await rawExchange(port, rawGet('/', { Host: `127.0.0.1:${port}`, Connection: 'close' }));
    assert.equal(page.status, 200);
    const status = await rawExchange(
      port,
      rawGet('/api/v1/status', { Host: `127.0.0.1:${port}`, Connection: 'close' }),
    );
    assert.equal(status.status, 200);
    assert.equal((JSON.parse(status.body) as StatusBody).sampler.error, null);
  });

  test('the list holds only regular files inside the directory', async () => {
    const port = portOf(serve.url);
    const list = await rawExchange(
      port,
      rawGet('/api/v1/memtrace/files', { Host: `127.0.0.1:${port}`, Connection: 'close' }),
    );
    assert.equal(list.status, 200);
    const body = JSON.parse(list.body) as MemtraceFilesBody;
    assert.deepEqual(
      body.files.map((f) => f.name),
      ['plain.ctf'],
    );
    // The target of the link out of the directory (12345 bytes) is not given away.
    assert.ok(!list.body.includes('12345'));
    const outside = await rawExchange(
      port,
      rawGet('/api/v1/memtrace/report?file=outside.ctf', { Host: `127.0.0.1:${port}`, Connection: 'close' }),
    );
    assert.equal(outside.status, 400);
  });
});

test('--token-file: the token is required, and is not in the command line any user can read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-token-'));
  const token = 'from-a-file-0123456789abcdef';
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const serve = await startServe(['--no-trace', '--token-file', tokenFile]);
  try {
    const port = portOf(serve.url);
    const get = (headers: Record<string, string>) =>
      rawExchange(port, rawGet('/api/v1/status', { Host: `127.0.0.1:${port}`, Connection: 'close', ...headers }));
    assert.equal((await get({})).status, 401);
    assert.equal((await get({ Authorization: `Bearer ${token}x` })).status, 401);
    assert.equal((await get({ Authorization: `Bearer ${token}` })).status, 200);
    // The printed link carries it for the user who started the server.
    assert.equal(new URL(serve.url).searchParams.get('token'), token);
    const cmdline = readFileSync(`/proc/${serve.child.pid}/cmdline`, 'utf8');
    assert.ok(cmdline.includes(tokenFile) && !cmdline.includes(token), cmdline);
  } finally {
    await serve.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('a flood of connections that never finish their headers', () => {
  const token = 'flood-test-token';
  let serve: LiveServe;
  const flood: Socket[] = [];
  let open = 0;
  // The server runs with 400 descriptors (soft and hard): without a cap, 800 connections would use
  // them all. With it: 400 − 200 reserved = 200 connections, 50 per address (connections.ts).
  before(async () => {
    serve = await startServe(['--no-trace', '--token', token], { prefix: ['prlimit', '--nofile=400:400', '--'] });
  });
  after(async () => {
    for (const s of flood) s.destroy();
    await serve.stop();
  });

  test('a client with the token still gets its answer, and the sampler keeps reading /proc', async () => {
    const port = portOf(serve.url);
    const startMs = Date.now();
    // Two attackers' worth per address, from eight loopback addresses (127.0.0.0/8 is all lo).
    let settled = 0;
    for (let a = 2; a <= 9; a++) {
      for (let k = 0; k < 100; k++) {
        const s = connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${a}` });
        let connected = false;
        s.on('error', () => undefined);
        s.once('connect', () => {
          connected = true;
          open++;
          settled++;
          // Headers that never end.
          s.write(`GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `);
        });
        s.once('close', () => {
          if (connected) open--;
          else settled++;
        });
        flood.push(s);
      }
    }
    await until('all 800 flood connections to be connected or refused', () => settled >= 800);
    for (const from of ['127.0.0.1', '127.0.0.2']) {
      const a = await rawExchange(
        port,
        rawGet('/api/v1/status', { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${token}`, Connection: 'close' }),
        { localAddress: from },
      );
      assert.equal(a.status, 200, `from ${from}: ${a.raw.slice(0, 200)}`);
    }
    await until('the server to keep at most 200 of the flood connections open', () => open <= 200);
    // A sample taken after the flood began: the sampler still had descriptors to read /proc with.
    await until(
      'a /proc sample newer than the flood',
      async () => {
        const a = await rawExchange(
          port,
          rawGet('/api/v1/status', {
            Host: `127.0.0.1:${port}`,
            Authorization: `Bearer ${token}`,
            Connection: 'close',
          }),
        );
        const s = JSON.parse(a.body) as StatusBody;
        return (s.sampler.lastSampleMs ?? 0) > startMs;
      },
      180_000,
    );
    assert.doesNotMatch(serve.stderr(), /EMFILE/);
  });
});

/** Runs the real CLI to its end; resolves with its exit code and output. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-serve-exit-'));
  return waitingFor(
    `memlens ${args.join(' ')} to exit`,
    () =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [cliPath, ...args, '--db', join(dir, 'events.db')], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1', XDG_DATA_HOME: dir },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        // Generous: the start opens the store and, as root, a tracefs instance, on a busy machine.
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`memlens ${args.join(' ')} still running after 120 s; stderr: ${stderr}`));
        }, 120_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          rmSync(dir, { recursive: true, force: true });
          resolve({ code, stdout, stderr });
        });
      }),
  );
}

describe('serve exits when it cannot listen', () => {
  let taken: Server;
  let port = 0;
  before(async () => {
    port = await freePort();
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  // With the tracer (as root) for the port in use: its tracefs instance is closed again too.
  const cases: [string, string[], RegExp][] = [
    ['a port in use', ['--host', '127.0.0.1'], /^memlens: port \d+ on 127\.0\.0\.1 is already in use/],
    ['an address of another machine', ['--host', '8.8.8.8', '--no-trace'], /^memlens: cannot listen on 8\.8\.8\.8: /],
    [
      'a name that does not resolve',
      ['--host', 'evil.invalid', '--no-trace'],
      /^memlens: cannot listen on evil\.invalid: /,
    ],
  ];
  for (const [what, flags, line] of cases) {
    test(`${what}: exit code 1 and one line`, async () => {
      const r = await runCli(['serve', '--port', String(port), ...flags]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('memlens: tracing unavailable'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? '', line);
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.equal(r.stdout, '');
    });
  }
});

describe('serve --host 0.0.0.0', () => {
  let serve: LiveServe;
  before(async () => {
    serve = await startServe(['--no-trace', '--host', '0.0.0.0']);
  });
  after(() => serve.stop());

  test('the printed link opens the dashboard', async () => {
    const u = new URL(serve.url);
    assert.ok(u.searchParams.get('token'), serve.url);
    const a = await rawExchange(
      Number(u.port),
      rawGet(`${u.pathname}${u.search}`, { Host: u.host, Connection: 'close' }),
    );
    assert.equal(a.status, 200, `${serve.url}: ${a.raw.slice(0, 300)}`);
  });
});
