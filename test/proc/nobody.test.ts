// Without root: run the command as nobody. Other users' smaps_rollup cannot be opened
// (PTRACE_MODE_READ), so their PSS must be null, never 0, with one warning line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { SnapshotJson } from '../../src/wire/snapshot.js';
import { runCli } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';

const NOBODY = 65534;

test('as nobody: exit 0, other users\' PSS null, their RSS still read, one warning line', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to switch to nobody');
    return;
  }
  const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(cliPath)})`], { uid: NOBODY, gid: NOBODY });
  assert.equal(probe.status, 0, `nobody must be able to read ${cliPath} (check the modes of the checkout's parent directories)`);
  const r = await runCli(['snapshot', '--json'], { uid: NOBODY, gid: NOBODY });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as SnapshotJson;
  const others = j.processes.filter((p) => p.uid !== NOBODY);
  assert.ok(others.length > 0);
  for (const p of others) {
    assert.equal(p.pss, null, `PSS of ${p.pid} (${p.name})`);
    assert.equal(p.uss, null);
    assert.equal(p.swapPss, null);
    assert.ok(p.rss !== null && p.rss > 0, 'RSS comes from status, readable by all');
    assert.ok(p.unread.includes('smaps_rollup: permission denied'));
  }
  const own = j.processes.filter((p) => p.uid === NOBODY);
  assert.ok(own.length > 0, 'the command itself runs as nobody');
  for (const p of own) assert.ok(p.pss !== null && p.pss > 0, 'own processes are readable');
  assert.equal(sum(j), j.ledger.total);
  const warnings = r.stderr.trim().split('\n').filter((l) => l.startsWith('memlens: warning:'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0] ?? '', new RegExp(`^memlens: warning: ${others.length} of ${j.stats.collected} processes partly read \\(smaps_rollup: permission denied ×${others.length}\\)`));
  assert.match(warnings[0] ?? '', /run as root/);
  const human = await runCli(['snapshot', '--limit', '500'], { uid: NOBODY, gid: NOBODY });
  assert.equal(human.code, 0);
  assert.match(human.stdout, /n\/a/);
});

function sum(j: SnapshotJson): number {
  return j.ledger.items.reduce((a, i) => a + i.bytes, 0);
}
