// createStapBackend: from a file and from standard input, through the TraceBackend interface.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/base/errors.js';
import { createStapBackend } from '../../src/sources/stap.js';
import { fixturesDir, repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { collect } from './known-workload.js';

test('stap backend: a file gives batches in kernel-time order, and counts what it skipped', async () => {
  const b = createStapBackend(join(fixturesDir, 'stap', 'edge-cases.txt'), { host: 'h', excludeSelf: true });
  await b.start();
  const got = await collect(b);
  assert.equal(got.events.length, 6);
  const times = got.events.map((e) => e.ktimeNs);
  assert.deepEqual(
    times,
    [...times].sort((x, y) => (x < y ? -1 : 1)),
  );
  assert.equal(got.lifecycle.length, 4);
  assert.deepEqual(b.lost(), { lostEvents: 0, unpaired: 7, malformed: 6 });
  await b.stop();
  await b.stop();
});

test('stap backend: --pid keeps only that process, lifecycle included', async () => {
  const b = createStapBackend(join(fixturesDir, 'stap', 'edge-cases.txt'), {
    host: 'h',
    excludeSelf: false,
    pids: [4244],
  });
  await b.start();
  const got = await collect(b);
  assert.equal(got.events.length, 0);
  assert.deepEqual(
    got.lifecycle.map((l) => l.kind),
    ['exec'],
  );
});

test('stap backend: a missing file is one clear error', async () => {
  const b = createStapBackend('/nonexistent/trace.txt', { host: 'h', excludeSelf: true });
  await assert.rejects(
    b.start(),
    (e: unknown) => e instanceof UserError && e.message === 'cannot read /nonexistent/trace.txt: no such file',
  );
});

test('stap backend: reads standard input (stap memlens.stp | memlens trace --from-stap -)', async () => {
  const program = `
    const { createStapBackend } = await import(${JSON.stringify(join(repoRoot, 'dist', 'src', 'sources', 'stap.js'))});
    const b = createStapBackend('-', { host: 'h', excludeSelf: true });
    await b.start();
    let n = 0;
    for await (const batch of b.batches()) n += batch.events.length;
    process.stdout.write(JSON.stringify({ n, lost: b.lost() }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const text = readFileSync(join(fixturesDir, 'stap', 'known-workload.txt'));
  // Dribble it in two parts, as a pipe would.
  child.stdin.write(text.subarray(0, 1000));
  await new Promise((r) => setTimeout(r, 100));
  child.stdin.end(text.subarray(1000));
  const code = await waitingFor(
    'the process reading stap output from its stdin to end',
    () => new Promise((r) => child.on('close', r)),
  );
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { n: 28, lost: { lostEvents: 0, unpaired: 0, malformed: 0 } });
});
