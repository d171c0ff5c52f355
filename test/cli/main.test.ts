import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

test('--help exits 0 and lists the commands', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['snapshot', 'process', 'capture', 'trace', 'events', 'serve', 'dirty', 'memtrace'])
    assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
});

test('an unknown flag is a usage error: exit 2, one line', async () => {
  const r = await runCli(['--no-such-flag']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option/);
});
