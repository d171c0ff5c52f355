// A real OCaml runtime eventlog (CTF with memtrace's magic), recorded here by a program linked
// with Debian's OCaml 4.13 instrumented runtime (-runtime-variant i, OCAML_EVENTLOG_ENABLED):
// memlens must name it and refuse it, not misread it as a memtrace trace.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ParseError } from '../../src/base/errors.js';
import { detectMemtrace } from '../../src/parsers/memtrace/index.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-eventlog-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a real OCaml runtime eventlog is recognised and refused by name', async () => {
  writeFileSync(
    join(dir, 'prog.ml'),
    'let () = let l = ref [] in for i = 1 to 100000 do l := [i] :: !l; if i mod 1000 = 0 then l := [] done\n',
  );
  execFileSync('ocamlfind', ['ocamlopt', '-runtime-variant', 'i', 'prog.ml', '-o', 'prog.exe'], {
    cwd: dir,
    stdio: 'pipe',
  });
  execFileSync(join(dir, 'prog.exe'), [], {
    cwd: dir,
    env: { ...process.env, OCAML_EVENTLOG_ENABLED: '1', OCAML_EVENTLOG_PREFIX: join(dir, 'run') },
    stdio: 'pipe',
  });
  const log = readdirSync(dir).find((f) => f.endsWith('.eventlog'));
  assert.ok(log, 'the instrumented runtime wrote an eventlog');
  const bytes = new Uint8Array(readFileSync(join(dir, log)));
  assert.deepEqual([...bytes.subarray(0, 4)], [0xc1, 0x1f, 0xfc, 0xc1], 'same magic as memtrace');
  assert.throws(
    () => detectMemtrace(bytes),
    (e: unknown) => e instanceof ParseError && /OCaml runtime eventlog/.test(e.message),
  );
  const r = await runCli(['memtrace', join(dir, log)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^memlens: .*an OCaml runtime eventlog.*not a memtrace trace.*\n$/);
});
