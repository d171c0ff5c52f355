// Without root: run the command as nobody. Other users' smaps_rollup cannot be opened
// (PTRACE_MODE_READ), so their PSS must be null, never 0, with one warning line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PagesJson } from '../../src/wire/pages.js';
import type { SnapshotJson } from '../../src/wire/snapshot.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { cliPath, repoRoot } from '../helpers/paths.js';

const NOBODY = 65534;

function nobodyCanRead(path: string): boolean {
  return (
    spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(path)})`], {
      uid: NOBODY,
      gid: NOBODY,
    }).status === 0
  );
}

/**
 * Runs the CLI as nobody. A checkout under a private home directory is out of nobody's reach;
 * then the built command (and the one package it loads) is copied to a world-readable place.
 */
let copied: string | undefined;
function runAsNobody(args: string[]): Promise<CliResult> {
  if (nobodyCanRead(cliPath)) return runCli(args, { uid: NOBODY, gid: NOBODY });
  if (!copied) {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-nobody-'));
    chmodSync(dir, 0o755);
    cpSync(join(repoRoot, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
    cpSync(join(repoRoot, 'node_modules', 'commander'), join(dir, 'node_modules', 'commander'), { recursive: true });
    spawnSync('chmod', ['-R', 'a+rX', dir]);
    copied = join(dir, 'dist', 'src', 'cli', 'main.js');
  }
  const r = spawnSync(process.execPath, [copied, ...args], {
    uid: NOBODY,
    gid: NOBODY,
    env: { ...process.env, NO_COLOR: '1' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return Promise.resolve({ code: r.status, stdout: r.stdout, stderr: r.stderr });
}

test("as nobody: exit 0, other users' PSS null, their RSS still read, one warning line", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to switch to nobody');
    return;
  }
  const r = await runAsNobody(['snapshot', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as SnapshotJson;
  // Zombies have no address space left: 0 bytes is then a fact, not a guess, and nothing is unread.
  // Other tests may start processes as nobody meanwhile: a child forked by root becomes
  // nobody between memlens's read of its status and of its smaps_rollup. Such a process is
  // readable by then, rightly; only processes that are still someone else's are checked.
  const others = j.processes.filter((p) => p.uid !== NOBODY && p.vmSize !== 0 && stillOwnedByOther(p.pid));
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
  const warnings = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('memlens: warning:'));
  assert.equal(warnings.length, 1, r.stderr);
  // The warning counts what was denied at the time of the read, exited processes included.
  const deniedCount = j.processes.filter((p) => p.unread.includes('smaps_rollup: permission denied')).length;
  assert.ok(deniedCount >= others.length);
  assert.match(
    warnings[0] ?? '',
    new RegExp(
      `^memlens: warning: ${deniedCount} of ${j.stats.collected} processes partly read \\(smaps_rollup: permission denied ×${deniedCount}\\)`,
    ),
  );
  assert.match(warnings[0] ?? '', /run as root/);
  const human = await runAsNobody(['snapshot', '--limit', '500']);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /n\/a/);
  // pid 1 belongs to root and outlives the test.
  const denied = await runAsNobody(['process', '1']);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^memlens: cannot read \d+\/smaps: permission denied/);
});

function stillOwnedByOther(pid: number): boolean {
  try {
    const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return uid !== undefined && Number(uid) !== NOBODY;
  } catch {
    return false; // exited since
  }
}

function sum(j: SnapshotJson): number {
  return j.ledger.items.reduce((a, i) => a + i.bytes, 0);
}

test('as nobody: memlens pages says the frames need root, and still shows zones and free blocks', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to switch to nobody');
    return;
  }
  const r = await runAsNobody(['pages', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /frames not read: \/proc\/kpageflags needs root/);
  const j = JSON.parse(r.stdout) as PagesJson;
  assert.equal(j.frames.read, false);
  assert.equal(j.frames.ramRanges, null, 'iomem shows nobody no addresses');
  assert.ok(j.zones.length > 0);
  assert.ok(j.buddy && j.buddy.zones.length > 0);
  assert.equal(j.buddy.zones[0]?.migrateTypes, null, 'pagetypeinfo is root-only since 5.9');
  assert.deepEqual(j.reconciliation, []);
  assert.ok(j.notes.some((n) => n.includes('iomem')));
});
