// memlens capture -o on this machine: the shipped script runs with the system sh over the live /proc
// (live tier; the rest of the command line is in capture-cli.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseArchive } from '../../src/parsers/archive.js';
import { runCli } from '../helpers/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'memlens-capture-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('capture -o FILE runs the script with sh and writes an archive that includes the capturing shell', async () => {
  const out = join(scratch, 'here.snap');
  const r = await runCli(['capture', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*here\.snap: \d+ processes, [\d.]+ [KMG]iB of \/proc files/);
  const archive = parseArchive(readFileSync(out));
  assert.ok(archive);
  const shell = archive.meta.get('shell-pid');
  assert.ok(shell);
  const comm = archive.entries.get(`proc/${shell}/comm`);
  assert.ok(comm?.kind === 'file');
  assert.equal(new TextDecoder().decode(comm.data), 'sh\n');
  // Here getconf exists, so the page size is recorded directly.
  const { execFileSync } = await import('node:child_process');
  assert.equal(archive.meta.get('pagesize'), execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
});

test('capture --no-smaps: smaps only where smaps_rollup is unreadable; snapshot --from still works', async () => {
  const out = join(scratch, 'rollup-only.snap');
  const r = await runCli(['capture', '--no-smaps', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const archive = parseArchive(readFileSync(out));
  assert.ok(archive);
  let rollups = 0;
  for (const [name, entry] of archive.entries) {
    const m = /^proc\/(\d+)\/smaps_rollup$/.exec(name);
    if (!m) continue;
    const smaps = archive.entries.get(`proc/${m[1] ?? ''}/smaps`);
    if (entry.kind === 'file') {
      rollups++;
      assert.equal(smaps, undefined, `pid ${m[1] ?? ''}: smaps left out when the rollup was read`);
    }
  }
  assert.ok(rollups > 0);
  const snap = await runCli(['snapshot', '--from', out, '--json']);
  assert.equal(snap.code, 0, snap.stderr);
  const j = JSON.parse(snap.stdout) as { processes: { pss: number | null }[] };
  assert.ok(j.processes.some((p) => p.pss !== null && p.pss > 0));
  // The printed script carries the choice in its first line, for boards.
  const printed = await runCli(['capture', '--print-script', '--no-smaps']);
  assert.equal(printed.stdout.split('\n')[0], 'MEMLENS_CAPTURE_SMAPS=no');
});
