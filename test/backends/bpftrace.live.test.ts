// The bpftrace backend against the real kernel: a workload with exactly known calls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/base/errors.js';
import { createBpftraceBackend } from '../../src/sources/bpftrace.js';
import type { MemEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import {
  betweenMarkers,
  buildKnownWorkload,
  collect,
  expectedCalls,
  PROCESS_NAME,
  runKnownWorkload,
  shape,
  spawnKnownWorkload,
  WORKER_NAME,
} from './known-workload.js';

test('bpftrace backend: exact calls, results, errors, pid vs tid and names of a known workload', async () => {
  const bin = await buildKnownWorkload();
  // The workload is this test's child: memlens's default would leave it out.
  const backend = createBpftraceBackend({ host: 'test-host', excludeSelf: false });
  await backend.start();
  const collecting = collect(backend);
  const before = Date.now();
  const r = await runKnownWorkload(bin);
  const after = Date.now();
  await backend.stop();
  await backend.stop(); // safe twice
  const got = await collecting;

  const calls = betweenMarkers(got.events, r);
  assert.deepEqual(calls.map(shape), expectedCalls(r));
  for (const e of calls) {
    assert.equal(e.host, 'test-host');
    assert.ok(e.timeMs >= before - 5 && e.timeMs <= after + 5, `wall time ${e.timeMs} outside [${before}, ${after}]`);
  }

  const life = got.lifecycle;
  assert.ok(
    life.some((l) => l.kind === 'exec' && l.pid === r.pid && l.filename === bin),
    'exec of the workload',
  );
  assert.ok(
    life.some((l) => l.kind === 'rename' && l.pid === r.pid && l.tid === r.pid && l.newName === PROCESS_NAME),
    'process renamed',
  );
  assert.ok(
    life.some(
      (l) =>
        l.kind === 'fork' && l.parentPid === r.pid && l.childPid === r.pid && l.childTid === r.worker && l.isThread,
    ),
    'thread created',
  );
  assert.ok(
    life.some(
      (l) =>
        l.kind === 'rename' &&
        l.pid === r.pid &&
        l.tid === r.worker &&
        l.oldName === PROCESS_NAME &&
        l.newName === WORKER_NAME,
    ),
    'thread renamed',
  );
  assert.ok(
    life.some(
      (l) =>
        l.kind === 'fork' &&
        l.parentPid === r.pid &&
        l.childPid === r.child &&
        l.childTid === r.child &&
        !l.isThread &&
        l.name === PROCESS_NAME,
    ),
    'child forked',
  );
  assert.ok(
    life.some((l) => l.kind === 'exit' && l.pid === r.child),
    'child exited',
  );
  assert.ok(
    life.some((l) => l.kind === 'exit' && l.pid === r.pid),
    'workload exited',
  );
  assert.equal(
    life.filter((l) => l.kind === 'exit' && l.pid === r.pid).length,
    1,
    'one exit per process, not per thread',
  );

  const lost = backend.lost();
  assert.equal(lost.lostEvents, 0);
  assert.equal(lost.malformed, 0);
});

test('bpftrace backend: memlens and its descendants are left out by default', async () => {
  const bin = await buildKnownWorkload();
  const backend = createBpftraceBackend({ host: 'h', excludeSelf: true });
  await backend.start();
  const collecting = collect(backend);
  const r = await runKnownWorkload(bin);
  await backend.stop();
  const got = await collecting;
  const ours = new Set([process.pid, r.pid, r.child]);
  assert.deepEqual(
    got.events.filter((e) => ours.has(e.pid)),
    [],
  );
  assert.deepEqual(
    got.lifecycle.filter((l) => (l.kind === 'fork' ? ours.has(l.parentPid) : ours.has(l.pid))),
    [],
  );
});

test('bpftrace backend: --pid keeps only that process', async () => {
  const bin = await buildKnownWorkload();
  const held = spawnKnownWorkload(bin);
  const backend = createBpftraceBackend({ host: 'h', excludeSelf: false, pids: [held.pid] });
  await backend.start();
  const collecting = collect(backend);
  const r = await held.go();
  await backend.stop();
  const got = await collecting;
  assert.equal(r.pid, held.pid);
  assert.deepEqual(new Set(got.events.map((e) => e.pid)), new Set([r.pid]));
  // Its child is another process: left out.
  const calls = betweenMarkers(got.events, r);
  assert.deepEqual(
    calls.map(shape),
    expectedCalls(r).filter((c) => c.pid === r.pid),
  );
});

test('bpftrace backend: trace -- COMMAND keeps the command and its children, not memlens or its gate', async () => {
  const r = await runCli([
    'trace',
    '--backend',
    'bpftrace',
    '--json',
    '--no-store',
    '--',
    'sh',
    '-c',
    '/bin/true; exit 4',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /memlens: the command exited with code 4\n/);
  const names = new Set(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as MemEventJson).name),
  );
  assert.deepEqual([...names].sort(), ['sh', 'true']);
});

// memlens checks for root before it looks for bpftrace: as root, a missing bpftrace is said as such.
test('bpftrace backend: a missing bpftrace is one clear error', async () => {
  const b = createBpftraceBackend({ host: 'h', excludeSelf: true, bpftrace: '/nonexistent/bpftrace' });
  await assert.rejects(
    b.start(),
    (e: unknown) => e instanceof UserError && /bpftrace is not installed/.test(e.message),
  );
  await b.stop();
});
