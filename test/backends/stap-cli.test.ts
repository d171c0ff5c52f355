// `memlens trace --from-stap`: the command reads memlens.stp output from a file or a pipe.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { fixturesDir } from '../helpers/paths.js';

// A file and a pipe are read by the built command; the other runs are in this process.

test('memlens trace --from-stap FILE --json: every call as NDJSON, the summary on stderr', async () => {
  const r = await runCli([
    'trace',
    '--from-stap',
    join(fixturesDir, 'stap', 'known-workload.txt'),
    '--no-store',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { pid: number; name: string; call: string; error: string | null });
  assert.equal(lines.length, 28);
  assert.ok(lines.some((l) => l.name === 'wl "q" (é)' && l.call === 'mmap' && l.error === 'EBADF'));
  const summary = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{')) ?? '{}') as {
    summary: { lost: unknown };
  };
  assert.deepEqual(summary.summary.lost, { lostEvents: 0, unpaired: 0, malformed: 0 });
});

test('memlens trace --from-stap -: reads the pipe; another format version is one clear error', async () => {
  const ok = await runCli(['trace', '--from-stap', '-', '--no-store', '--json'], {
    input: readFileSync(join(fixturesDir, 'stap', 'edge-cases.txt'), 'utf8'),
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim().split('\n').length, 6);
  const bad = await runCliInProcess(['trace', '--from-stap', '-', '--no-store'], { input: '#memlens-stap 9\n' });
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^memlens: SystemTap output on standard input:1: format version "9" of memlens\.stp output; this memlens reads version 1$/m,
  );
});

test('memlens trace --from-stap refuses a file that is not memlens.stp output, and empty input (exit 1, one line)', async () => {
  const readme = join(fixturesDir, 'stap', 'README.md');
  const r = await runCliInProcess(['trace', '--from-stap', readme, '--no-store']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^(TIME .*\n)?$/, 'no event line, at most the column header');
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('memlens: tracing'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0] ?? '',
    /^memlens: .*README\.md:1: not memlens\.stp output: the first line is "# SystemTap output fixtures .*", not the header "#memlens-stap 1"$/,
  );
  const empty = await runCliInProcess(['trace', '--from-stap', '-', '--no-store'], { input: '' });
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(empty.stderr, /^memlens: SystemTap output on standard input: empty: not memlens\.stp output/m);
});

test('memlens trace --from-stap with a store: input that is not memlens.stp output ends the process (exit 1), not only the reading', async () => {
  // The store's worker thread and the trace's signal handlers used to outlive the error: the
  // process printed it and then ran until SIGKILL (SIGTERM was taken as a stop of the trace).
  const dir = mkdtempSync(join(tmpdir(), 'memlens-stap-store-'));
  try {
    const db = join(dir, 'events.sqlite');
    const r = await runCli(['trace', '--from-stap', join(fixturesDir, 'stap', 'README.md'), '--db', db], {
      boundMs: 60_000,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /README\.md:1: not memlens\.stp output/);
    // Good input with the same store still ends normally after the failed run.
    const ok = await runCli(['trace', '--from-stap', join(fixturesDir, 'stap', 'known-workload.txt'), '--db', db], {
      boundMs: 60_000,
    });
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("memlens trace --from-stap: SystemTap's own losses (the L line) are the summary's lost events, in text and JSON", async () => {
  const text =
    readFileSync(join(fixturesDir, 'stap', 'known-workload.txt'), 'utf8') + 'L 2254860479780 1795434000125770880 2 3\n';
  const json = await runCliInProcess(['trace', '--from-stap', '-', '--no-store', '--json'], { input: text });
  assert.equal(json.code, 0, json.stderr);
  const summary = JSON.parse(json.stderr.split('\n').find((l) => l.startsWith('{')) ?? '{}') as {
    summary: { lost: unknown };
  };
  assert.deepEqual(summary.summary.lost, { lostEvents: 5, unpaired: 0, malformed: 0 });
  const human = await runCliInProcess(['trace', '--from-stap', '-', '--no-store', '--quiet'], { input: text });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout + human.stderr, /lost events: 5 {3}unpaired calls: 0 {3}malformed records: 0/);
});
