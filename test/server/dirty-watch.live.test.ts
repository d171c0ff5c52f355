// `memlens serve --dirty-watch PID` as an operator runs it: the built command with a private store,
// watching test/dirty/workload.c live on this machine's kernel. The HTTP API and the WebSocket
// carry the series, /metrics its figures; a target that exits ends the watch with its rounds; the
// checks of `memlens dirty` refuse the same targets with the same exit codes, before any server
// starts. Conditions are awaited by polling, each wait bounded (test/helpers/waiting.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { DirtyJson } from '../../src/wire/dirty.js';
import type { DirtyBody, ServerMessage, UpdateMessage } from '../../src/wire/messages.js';
import { runCli, runProcess } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';
import { Teardown } from '../helpers/teardown.js';
import { describePredicate, waitingFor } from '../helpers/waiting.js';
import { buildWorkload, startWorkload, type Workload } from '../dirty/workload.js';
import { freePort, startServe, type LiveServe } from '../web/live-serve.js';
import { parseExposition } from './exposition.js';
import { makeHarness } from './harness.js';

const hex = (n: bigint): string => `0x${n.toString(16)}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` returns something, within the wait bound. */
async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  return waitingFor(`the server: ${describePredicate(probe)}`, async (signal) => {
    for (;;) {
      signal.throwIfAborted();
      const got = await probe();
      if (got !== undefined) return got;
      await sleep(100);
    }
  });
}

async function dirtyBody(serve: LiveServe): Promise<DirtyBody> {
  const r = await fetch(`${serve.url}api/v1/dirty`);
  assert.equal(r.status, 200);
  return (await r.json()) as DirtyBody;
}

/** The process's resident pages (VmRSS): no count of touched pages can exceed it. */
function residentPages(w: Workload): number {
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${w.pid}/status`, 'utf8'))?.[1]);
  return Math.floor((kib * 1024) / w.pageSize);
}

/** Does this kernel track soft-dirty pages? memlens dirty's own probe says (exit code 1 and supported false when not). */
async function softDirtySupported(pid: number): Promise<boolean> {
  const r = await runCli(['dirty', String(pid), '--json']);
  return (JSON.parse(r.stdout) as DirtyJson).softDirty.supported;
}

/** A WebSocket client that keeps every message it receives, from the moment it connects. */
class LiveClient {
  private readonly inbox: ServerMessage[] = [];
  private wake: (() => void) | null = null;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : data instanceof ArrayBuffer
          ? Buffer.from(data).toString('utf8')
          : data.toString('utf8');
      this.inbox.push(JSON.parse(text) as ServerMessage);
      this.wake?.();
    });
  }

  static open(url: string): Promise<LiveClient> {
    return waitingFor(
      `a WebSocket to ${url} to open`,
      () =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(url);
          const client = new LiveClient(ws);
          ws.once('open', () => resolve(client));
          ws.once('error', reject);
        }),
    );
  }

  send(m: unknown): void {
    this.socket.send(JSON.stringify(m));
  }

  /** The next message, within the wait bound. */
  async next(): Promise<ServerMessage> {
    return waitingFor('the next WebSocket message', async () => {
      for (;;) {
        const m = this.inbox.shift();
        if (m !== undefined) return m;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    });
  }

  /** Skips messages until one satisfies `want`. */
  async nextWhere<M extends ServerMessage>(want: (m: ServerMessage) => m is M): Promise<M> {
    for (;;) {
      const m = await this.next();
      if (want(m)) return m;
    }
  }

  close(): void {
    this.socket.close();
  }
}

const isDirtyUpdate = (m: ServerMessage): m is UpdateMessage & { dirty: NonNullable<UpdateMessage['dirty']> } =>
  m.type === 'update' && m.dirty !== undefined && m.dirty.rounds.length > 0;

describe('a live watch with the accessed fallback: API, WebSocket and /metrics', () => {
  let w: Workload;
  let serve: LiveServe;
  let comm: string;
  let body: DirtyBody;
  const ROUNDS = 8;
  const teardown = new Teardown();

  before(async () => {
    // 1000 pages mapped and touched; then pages 5, 8, 11, … (120 of them) written every 40 ms.
    w = await startWorkload(['1000', 'loop', '5', '120', '3', '40'], { binary: buildWorkload({ static: true }) });
    teardown.add(() => w.stop());
    comm = readFileSync(`/proc/${w.pid}/comm`, 'utf8').trim();
    serve = await startServe([
      '--no-trace',
      '--dirty-watch',
      String(w.pid),
      '--dirty-fallback',
      'accessed',
      '--dirty-interval',
      '300ms',
    ]);
    teardown.add(async () => assert.equal(await serve.stop(), 0, serve.stderr()));
    // At least ROUNDS rounds, and converged: a fixed write set converges within a few rounds, so
    // 40 rounds without convergence end the wait (and fail the test below) rather than hang.
    body = await until(async () => {
      const b = await dirtyBody(serve);
      return (b.series.length >= ROUNDS && b.watch?.converged === true) || b.series.length >= 40 ? b : undefined;
    });
  });

  after(() => teardown.run());

  test('GET /api/v1/dirty: the watch, its rule, and every round so far, touched pages never called writes', async () => {
    assert.equal(body.type, 'dirty');
    assert.equal(body.v, 1);
    const h = body.watch;
    assert.ok(h !== null);
    assert.equal(h.pid, w.pid);
    assert.equal(h.name, comm);
    assert.equal(h.pageSize, w.pageSize);
    assert.equal(h.method, 'accessed');
    assert.equal(h.meaning, 'pages touched (read or written)');
    assert.equal(h.softDirty.supported, await softDirtySupported(w.pid));
    assert.equal(h.state, 'running');
    assert.equal(h.reason, null);
    assert.equal(h.stopReason, null);
    assert.equal(h.intervalMs, 300);
    assert.equal(h.untilStable, false);
    assert.deepEqual(h.rule, { tolerance: 0.05, stableRounds: 3, minRounds: 4, maxRounds: null, noisePages: 8 });
    // Rounds 1, 2, … without a gap; each one a full interval or more, read one after the other.
    assert.deepEqual(
      body.series.map((r) => r.round),
      Array.from({ length: body.series.length }, (_, i) => i + 1),
    );
    assert.equal(h.rounds, body.series.length);
    for (const [i, r] of body.series.entries()) {
      assert.ok(r.pages >= 120, `round ${r.round}: ${r.pages} pages`);
      assert.equal(r.bytes, r.pages * w.pageSize);
      assert.equal(r.newMappingPages, 0);
      assert.ok(r.intervalMs >= 300, `round ${r.round} lasted ${r.intervalMs} ms`);
      if (i > 0) assert.ok(r.atMs > (body.series[i - 1]?.atMs ?? 0));
    }
    // The newest round's areas: exactly the 120 pages written in the workload's own area.
    const area = h.areas.find((a) => a.start === hex(w.address));
    assert.deepEqual(area, {
      start: hex(w.address),
      end: hex(w.address + BigInt(w.pages * w.pageSize)),
      mapping: '[anon]',
      pages: 120,
    });
    assert.equal(h.areasTotal, h.areas.length);
    assert.deepEqual(h.ranges, []);
    assert.deepEqual(h.newMappingRanges, []);
    assert.ok((h.byMapping.find((m) => m.mapping === '[anon]')?.pages ?? 0) >= 120);
    assert.equal(
      h.byMapping.reduce((s, m) => s + m.pages, 0),
      body.series[body.series.length - 1]?.pages,
    );
    // The same write set every round: the rule converges, and the watch keeps going.
    assert.equal(h.converged, true, JSON.stringify(body.series.map((r) => r.pages)));
    assert.ok(h.convergedSinceRound !== null && h.convergedSinceRound >= h.rule.minRounds);
    // Converged at the newest round: the working set is the mean of the rule's window, the newest 4 counts.
    const window = body.series.slice(-(h.rule.stableRounds + 1)).map((r) => r.pages);
    assert.equal(h.workingSetPages, Math.round(window.reduce((a, b) => a + b, 0) / window.length));
    assert.ok(h.workingSetPages >= 120 && h.workingSetPages <= residentPages(w), `working set ${h.workingSetPages}`);
    assert.equal(h.workingSetBytes, h.workingSetPages * w.pageSize);
    assert.equal(body.series[body.series.length - 1]?.converged, true);
    assert.deepEqual(h.hugePageAreas, []);
  });

  test('the WebSocket sends the rounds after the one the page holds, then each new round once', async () => {
    const port = new URL(serve.url).port;
    const client = await LiveClient.open(`ws://127.0.0.1:${port}/api/v1/live`);
    try {
      assert.equal((await client.next()).type, 'hello');
      // Without `dirty` in the subscription, no update carries the watch.
      client.send({ type: 'subscribe', v: 1 });
      for (let statuses = 0; statuses < 3;) {
        const m = await client.next();
        assert.ok(m.type !== 'update' || m.dirty === undefined, 'a watch was sent to a client that did not ask');
        if (m.type === 'update' && m.status !== undefined) statuses++;
      }
      // The page holds the rounds up to `held` (it loaded them over HTTP).
      const held = (await dirtyBody(serve)).watch?.rounds ?? 0;
      client.send({ type: 'subscribe', v: 1, dirty: { afterRound: held } });
      let expected = held + 1;
      for (let updates = 0; updates < 3; updates++) {
        const m = await client.nextWhere(isDirtyUpdate);
        assert.deepEqual(
          m.dirty.rounds.map((r) => r.round),
          Array.from({ length: m.dirty.rounds.length }, (_, i) => expected + i),
        );
        expected += m.dirty.rounds.length;
        assert.equal(m.dirty.watch.rounds, expected - 1);
        assert.equal(m.dirty.watch.pid, w.pid);
      }
      // What enters the server is checked: a round number below 0 is refused.
      client.send({ type: 'subscribe', v: 1, dirty: { afterRound: -1 } });
      const refused = await client.nextWhere((m): m is Extract<ServerMessage, { type: 'error' }> => m.type === 'error');
      assert.equal(refused.message, 'invalid message');
    } finally {
      client.close();
    }
  });

  test('/metrics: the newest round as touched pages (no written-pages series), rounds, verdict, no pid label', async () => {
    const text = await (await fetch(`${serve.url}metrics`)).text();
    const f = parseExposition(text);
    assert.deepEqual(
      f.get('memlens_dirty_watch_info')?.samples.map((s) => s.labels),
      [{ program: comm, method: 'accessed' }],
    );
    assert.equal(f.get('memlens_dirty_watch_running')?.samples[0]?.value, 1);
    const rounds = f.get('memlens_dirty_rounds_total');
    assert.equal(rounds?.type, 'counter');
    assert.ok((rounds.samples[0]?.value ?? 0) >= ROUNDS);
    // Touched pages are resident pages: at least the 120 written, at most the whole resident set.
    const touched = f.get('memlens_dirty_round_touched_pages')?.samples[0]?.value ?? 0;
    assert.ok(touched >= 120 && touched <= residentPages(w), `touched ${touched}`);
    // The fallback never produces a count of writes, nor new-mapping pages.
    assert.equal(f.get('memlens_dirty_round_written_pages'), undefined);
    assert.equal(f.get('memlens_dirty_round_new_mapping_pages'), undefined);
    assert.equal(f.get('memlens_dirty_converged')?.samples[0]?.value, 1);
    const ws = f.get('memlens_dirty_working_set_pages')?.samples[0]?.value ?? 0;
    assert.ok(ws >= 120 && ws <= residentPages(w), `working set ${ws}`);
    assert.equal(f.get('memlens_dirty_round_interval_seconds')?.samples[0]?.value, 0.3);
    assert.equal(f.get('memlens_dirty_page_size_bytes')?.samples[0]?.value, w.pageSize);
    assert.ok((f.get('memlens_dirty_round_age_seconds')?.samples[0]?.value ?? -1) >= 0);
    for (const name of f.keys()) if (name.startsWith('memlens_dirty')) assert.match(name, /^memlens_dirty_[a-z_]+$/);
    assert.ok(!/\bpid="/.test(text), 'no pid label');
  });

  test('the API stays read-only: the watch cannot be started, changed or stopped through it', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetch(`${serve.url}api/v1/dirty`, { method, body: method === 'DELETE' ? null : '{}' });
      assert.equal(r.status, 405, method);
    }
    assert.equal((await dirtyBody(serve)).watch?.state, 'running');
  });
});

test('a target that exits mid-watch ends the watch with its rounds; the server runs on and says so', async () => {
  const w = await startWorkload(['50', 'once']);
  const serve = await startServe([
    '--no-trace',
    '--dirty-watch',
    String(w.pid),
    '--dirty-fallback',
    'accessed',
    '--dirty-interval',
    '300ms',
  ]);
  try {
    // Two rounds measured, then the process ends (its stdin closes) while the watch goes on.
    await until(async () => ((await dirtyBody(serve)).watch?.rounds ?? 0) >= 2 || undefined);
    await w.stop();
    const body = await until(async () => {
      const b = await dirtyBody(serve);
      return b.watch?.state === 'running' ? undefined : b;
    });
    const h = body.watch;
    assert.ok(h !== null);
    assert.equal(h.state, 'stopped');
    assert.equal(h.stopReason, 'exited');
    assert.ok(h.rounds >= 2, `${h.rounds} rounds`);
    assert.equal(body.series.length, h.rounds);
    assert.equal(
      h.reason,
      `process ${w.pid} exited during the watch: the ${h.rounds === 1 ? '1 round' : `${h.rounds} rounds`} measured before are kept`,
    );
    // The rest of the dashboard is unaffected.
    assert.equal((await fetch(`${serve.url}api/v1/status`)).status, 200);
    const f = parseExposition(await (await fetch(`${serve.url}metrics`)).text());
    assert.equal(f.get('memlens_dirty_watch_running')?.samples[0]?.value, 0);
    assert.equal(f.get('memlens_dirty_rounds_total')?.samples[0]?.value, h.rounds);
  } finally {
    await w.stop();
    const code = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  }
  assert.match(
    serve.stderr(),
    new RegExp(`memlens: dirty watch of process ${w.pid}: process ${w.pid} exited during the watch`),
  );
});

test('without soft-dirty tracking and without --dirty-fallback: the server runs, the watch says why not, nothing is cleared', async (t) => {
  const w = await startWorkload(['300', 'once']);
  const supported = await softDirtySupported(w.pid);
  const serve = await startServe(['--no-trace', '--dirty-watch', String(w.pid), '--dirty-interval', '300ms']);
  try {
    const h = (await dirtyBody(serve)).watch;
    assert.ok(h !== null);
    assert.equal(h.method, 'soft-dirty');
    assert.equal(h.meaning, 'pages written');
    if (supported) {
      t.diagnostic('this kernel tracks soft-dirty pages: the watch runs (the soft-dirty VM test checks its counts)');
      assert.equal(h.state, 'running');
      return;
    }
    assert.equal(h.state, 'unavailable');
    assert.equal(h.softDirty.supported, false);
    assert.match(
      h.reason ?? '',
      /^soft-dirty tracking is not available on this kernel: .*CONFIG_MEM_SOFT_DIRTY.*\. Restart memlens serve with --dirty-fallback accessed to count pages touched \(read or written\) instead\.$/,
    );
    // A while later: still no round, and the workload's referenced bits (all 300 pages touched at
    // its start) are intact: nothing was cleared.
    await sleep(1000);
    const later = await dirtyBody(serve);
    assert.equal(later.watch?.rounds, 0);
    assert.deepEqual(later.series, []);
    const after = JSON.parse(
      (await runCli(['dirty', String(w.pid), '--fallback', 'accessed', '--json'])).stdout,
    ) as DirtyJson;
    assert.equal(after.areas.find((a) => a.start === hex(w.address))?.pages, 300);
    const f = parseExposition(await (await fetch(`${serve.url}metrics`)).text());
    assert.equal(f.get('memlens_dirty_watch_running')?.samples[0]?.value, 0);
    assert.equal(f.get('memlens_dirty_converged')?.samples.length, 0);
    assert.match(serve.stderr(), /dirty watch of process \d+: not started: soft-dirty tracking is not available/);
  } finally {
    await w.stop();
    const code = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  }
});

describe('what memlens serve refuses before it starts (the checks of memlens dirty)', () => {
  /** Runs `memlens serve` with a private store; a refusal means no server ever listened. */
  const serveCli = async (
    args: string[],
    opts: { uid?: number; gid?: number } = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const port = await freePort();
    return runCli(
      ['serve', '--no-trace', '--port', String(port), '--db', `/dev/null/never-opened-${port}.db`, ...args],
      opts,
    );
  };
  const oneLine = (r: { code: number | null; stdout: string; stderr: string }, code: number, re: RegExp): void => {
    assert.equal(r.code, code, r.stderr);
    assert.equal(r.stdout, '', 'no server was started');
    assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, r.stderr);
    assert.match(r.stderr, re);
  };

  test('pid 1 without --dirty-force: exit code 1, one line', async () => {
    oneLine(
      await serveCli(['--dirty-watch', '1']),
      1,
      /^memlens: refusing pid 1 \(init\): clearing its bits disturbs it; use --dirty-force if you mean it\n$/,
    );
  });

  test('memlens itself without --dirty-force: exit code 1', async () => {
    // `exec` keeps the shell's pid for memlens: $$ is memlens's own pid.
    const port = await freePort();
    const r = await runProcess('/bin/sh', [
      '-c',
      `exec "$0" "$1" serve --no-trace --port ${port} --db /dev/null/never-opened.db --dirty-watch $$ --dirty-fallback accessed`,
      process.execPath,
      cliPath,
    ]);
    oneLine(r, 1, /^memlens: refusing pid \d+ \(memlens itself\): .*--dirty-force/);
  });

  test('no such process: exit code 1', async () => {
    // PID_MAX_LIMIT, the largest pid Linux can give, above this machine's pid_max: no such process.
    oneLine(await serveCli(['--dirty-watch', '4194304']), 1, /^memlens: no running process 4194304\n$/);
  });

  test("no right to write clear_refs (another user's process): exit code 1, before anything is cleared", async () => {
    const w = await startWorkload(['16', 'once']);
    try {
      oneLine(
        await serveCli(['--dirty-watch', String(w.pid), '--dirty-fallback', 'accessed'], { uid: 65534, gid: 65534 }),
        1,
        /permission denied/,
      );
    } finally {
      await w.stop();
    }
  });

  test('bad values and flags without --dirty-watch are usage errors: exit code 2', async () => {
    for (const args of [
      ['--dirty-watch', 'abc'],
      ['--dirty-watch', '0'],
      ['--dirty-watch', '123', '--dirty-interval', 'soon'],
      ['--dirty-watch', '123', '--dirty-tolerance', '150%'],
      ['--dirty-watch', '123', '--dirty-max-rounds', '0'],
      ['--dirty-watch', '123', '--dirty-fallback', 'guess'],
      ['--dirty-interval', '1s'],
      ['--dirty-until-stable'],
      ['--dirty-force'],
    ]) {
      const r = await serveCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    const stray = await serveCli(['--dirty-interval', '1s', '--dirty-fallback', 'accessed']);
    assert.match(stray.stderr, /--dirty-interval, --dirty-fallback: only with --dirty-watch PID/);
    const help = await runCli(['serve', '--help']);
    assert.match(help.stdout, /--dirty-watch <pid>/);
    assert.match(help.stdout, /keeps going after it converges/);
  });
});

test('without --dirty-watch: GET /api/v1/dirty says there is no watch, and /metrics has no dirty series', async () => {
  const h = await makeHarness('127.0.0.1', null);
  try {
    const r = await h.server.app.inject({ url: '/api/v1/dirty', headers: { host: '127.0.0.1' } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { type: 'dirty', v: 1, watch: null, series: [] });
    const text = (await h.server.app.inject({ url: '/metrics', headers: { host: '127.0.0.1' } })).body;
    assert.doesNotMatch(text, /memlens_dirty/);
  } finally {
    await h.server.close();
  }
});
