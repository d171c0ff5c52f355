import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { MemtraceWireReport } from '../../src/wire/memtrace.js';
import { runCli } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { publicTracePath, readPublicTrace, withoutPublicTraces } from './public-traces.js';
import { buildScenario } from './scenarios.js';
import { TraceEncoder } from './trace-encoder.js';

// memlens runs in this process (runCliInProcess) but for the terminal report, which runs as the
// built command.
const dir = mkdtempSync(join(tmpdir(), 'memlens-memtrace-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('--json follows the contract: trace, events, sites, leaks, races', { skip: withoutPublicTraces }, async () => {
  const r = await runCliInProcess(['memtrace', publicTracePath('ocamlopt-v3.ctf'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as MemtraceWireReport;
  assert.equal(j.schema, 'memlens.memtrace');
  assert.equal(j.version, 3);
  assert.equal(j.trace.formatVersion, 3);
  assert.equal(j.trace.sampleRate, 2e-5);
  assert.equal(j.events.allocations, 1676);
  assert.ok(j.events.promotions > 0 && j.events.collections > 0);
  assert.equal(j.integrity.ok, true);
  assert.ok(Array.isArray(j.sites) && j.sites.length > 0);
  assert.ok(Array.isArray(j.leaks) && Array.isArray(j.races));
  // Allocated bytes = samples / rate × word size: a multiple of 8 / 2e-5 = 400,000 bytes.
  assert.equal(j.totals.allocated.totalBytes % 400_000, 0);
  assert.equal(
    j.totals.allocated.totalBytes,
    j.sites.reduce((n, s) => n + s.allocatedBytes, 0),
  );
});

test('terminal report and --html on a scenario trace; --folded with --hide-lwt', async () => {
  const trace = join(dir, 'scenario.ctf');
  writeFileSync(
    trace,
    buildScenario({ durationS: 60, tickUs: 2000, leak: true, race: { fromS: 20, toS: 35 }, warmup: false, seed: 3 })
      .bytes,
  );
  const html = join(dir, 'report.html');
  const r = await runCli(['memtrace', trace, '--html', html, '--top', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Leak suspects\n {2}1\. Dune__exe__Cache\.add/);
  assert.match(r.stdout, /Allocation races\n {2}1\. /);
  assert.match(r.stdout, /Lwt's own/);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.ok(!/<link|\ssrc=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(page), 'no external resources');
  assert.match(page, /id="flame-data"/);
  const f = await runCliInProcess(['memtrace', trace, '--folded', '--hide-lwt']);
  assert.equal(f.code, 0, f.stderr);
  assert.ok(!/Lwt/.test(f.stdout));
  assert.match(f.stdout, /^Dune__exe__Server\.main;/m);
});

test('--html escapes every string from the trace', async () => {
  const evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>';
  const enc = new TraceEncoder({
    executable: evil,
    host: '<b>host</b>',
    locations: new Map([
      [0x10, [{ filename: '<svg onload=alert(3)>.ml', line: 1, startChar: 0, endChar: 1, defname: `${evil}.f` }]],
    ]),
  });
  const bytes = enc.finishWith((e) => e.alloc(1_700_000_000_000_100, { lengthWords: 2, stack: [0x10] }));
  const trace = join(dir, 'evil.ctf');
  writeFileSync(trace, bytes);
  const html = join(dir, 'evil.html');
  const r = await runCliInProcess(['memtrace', trace, '--html', html]);
  assert.equal(r.code, 0, r.stderr);
  const page = readFileSync(html, 'utf8');
  assert.ok(!page.includes('<script>alert'));
  assert.ok(!page.includes('<img src=x'));
  assert.ok(!page.includes('<svg onload'));
  assert.ok(!page.includes('<b>host'));
  assert.ok(page.includes('&lt;/script&gt;&lt;script&gt;alert(1)'));
  // Exactly the report's own two script elements.
  assert.equal(page.match(/<script/g)?.length, 2);
});

test('bad input: one line and exit 1; bad usage: exit 2', { skip: withoutPublicTraces }, async () => {
  const text = join(dir, 'text.ctf');
  writeFileSync(text, 'not a trace\n');
  let r = await runCliInProcess(['memtrace', text]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^memlens: .*not a memtrace trace \(no CTF magic\)\n$/);
  const mirage = join(dir, 'mirage.ctf');
  const m = new Uint8Array(200);
  m.set([
    0xc1, 0x1f, 0xfc, 0xc1, 0x05, 0x88, 0x3b, 0x8d, 0x52, 0x1a, 0x48, 0x7b, 0xb3, 0x97, 0x45, 0x6a, 0xb1, 0x50, 0x68,
    0x0c,
  ]);
  writeFileSync(mirage, m);
  r = await runCliInProcess(['memtrace', mirage]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^memlens: .*mirage-profile.*\n$/);
  r = await runCliInProcess(['memtrace', join(dir, 'missing.ctf')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such file/);
  r = await runCliInProcess(['memtrace', publicTracePath('synthetic-v2.ctf'), '--top', '0']);
  assert.equal(r.code, 2);
  r = await runCliInProcess(['memtrace', publicTracePath('synthetic-v2.ctf'), '--json', '--folded']);
  assert.equal(r.code, 2);
  r = await runCliInProcess(['serve', '--memtrace-dir', join(dir, 'no-such-dir')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--memtrace-dir: .* is not a directory/);
});

test('a truncated trace is analysed with a warning, exit 0', { skip: withoutPublicTraces }, async () => {
  const bytes = readPublicTrace('ocamlopt-v3.ctf');
  const cut = join(dir, 'cut.ctf');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  const r = await runCliInProcess(['memtrace', cut, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as MemtraceWireReport;
  assert.equal(j.integrity.truncated, true);
  assert.ok(j.integrity.warnings.some((w) => /ends inside a packet/.test(w)));
  assert.ok(j.events.allocations > 0 && j.events.allocations < 1676);
});
