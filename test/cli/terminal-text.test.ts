// Names from processes reach the terminal escaped: C0, DEL, C1 (U+009B is CSI by itself) and the
// bidirectional overrides and isolates, in every renderer (snapshot, process, trace, memtrace).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { printable } from '../../src/base/terminal-text.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { waitingFor } from '../helpers/waiting.js';

const scratch = mkdtempSync(join(tmpdir(), 'memlens-terminal-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Characters a terminal acts on instead of showing: none may reach it raw. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

// Bytes c2 9b 32 4a (U+009B CSI, "2J": clear the screen) and U+202E (right-to-left override):
// 9 bytes of UTF-8, within comm's 15.
const HOSTILE = 'a\u009b2J\u202eb';

test('printable: controls, C1 and bidirectional marks become visible escapes; other text stays', () => {
  assert.equal(printable('\u001b[2J\u007f'), '\\x1b[2J\\x7f');
  assert.equal(printable('\u0085\u009b2J'), '\\x85\\x9b2J');
  assert.equal(printable('x\u202ey\u2066z\u2069'), 'x\\u{202e}y\\u{2066}z\\u{2069}');
  assert.equal(printable('ünïcødé ✓ \u00a0'), 'ünïcødé ✓ \u00a0');
});

test('a process named with CSI and RLO shows escaped in snapshot and process', async () => {
  const exe = join(scratch, HOSTILE);
  copyFileSync('/bin/sleep', exe);
  const child = spawn(exe, ['600'], { stdio: 'ignore' });
  const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const pid = child.pid;
    assert.ok(pid !== undefined);
    const proc = await runCliInProcess(['process', String(pid)]);
    assert.equal(proc.code, 0, proc.stderr);
    assert.doesNotMatch(proc.stdout, RAW, 'process output holds no raw control');
    assert.match(proc.stdout, /a\\x9b2J\\u\{202e\}b/);
    const snap = await runCliInProcess(['snapshot', '--limit', '100000', '--sort', 'name']);
    assert.equal(snap.code, 0, snap.stderr);
    assert.doesNotMatch(snap.stdout, RAW, 'snapshot output holds no raw control');
    assert.match(snap.stdout, /a\\x9b2J\\u\{202e\}b/);
  } finally {
    child.kill();
    await waitingFor('the renamed sleep to end after SIGTERM', () => ended);
  }
});

test('trace lines and summary show such names escaped', async () => {
  // A stap record (tracing/memlens.stp escapes each name byte as \xHH) of a process with that name.
  const name = [...Buffer.from(HOSTILE)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  const file = join(scratch, 'hostile.stap');
  writeFileSync(
    file,
    `#memlens-stap 1\nC 1000 1795434000000001000 4242 4243 ${name} ${name} mmap 0x0 0x1000 0x3 0x22 -1 140000000000000\n`,
  );
  const r = await runCliInProcess(['trace', '--from-stap', file, '--no-store']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, RAW, 'trace output holds no raw control');
  assert.equal(r.stdout.match(/a\\x9b2J\\u\{202e\}b/g)?.length, 3, 'name and thread on the line, name in the summary');
});
