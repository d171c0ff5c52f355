// The OCaml recording library (ocaml/) end to end: real OCaml programs with known memory
// behaviour, built with Debian's OCaml and dune, traced with MEMLENS_TRACE, then analysed by
// `memlens memtrace`. The leak must be named at its site, the race window and its site found,
// and nothing flagged in the steady program.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MemtraceWireReport } from '../../src/wire/memtrace.js';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';

const ocamlRoot = join(repoRoot, 'ocaml');
const exe = (name: string): string => join(ocamlRoot, '_build', 'default', 'examples', `${name}.exe`);
const dir = mkdtempSync(join(tmpdir(), 'memlens-ocaml-'));
after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  // dune builds the library and the example programs; a failure here is a failed test.
  const r = spawnSync('dune', ['build', '--root', ocamlRoot], { encoding: 'utf8' });
  assert.equal(r.status, 0, `dune build failed:\n${r.stderr}`);
});

function record(name: string, args: string[] = []): string {
  const trace = join(dir, `${name}.ctf`);
  const r = spawnSync(exe(name), args, {
    env: { ...process.env, MEMLENS_TRACE: trace, MEMLENS_TRACE_RATE: '1e-3' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return trace;
}

async function analyse(trace: string): Promise<MemtraceWireReport> {
  const r = await runCli(['memtrace', trace, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as MemtraceWireReport;
  assert.equal(j.integrity.ok, true, JSON.stringify(j.integrity));
  assert.equal(j.integrity.truncated, false);
  assert.equal(j.trace.formatVersion, 2);
  assert.equal(j.trace.sampleRate, 1e-3);
  assert.ok(j.events.allocations > 500, `${j.events.allocations} allocation samples`);
  return j;
}

function windowsSeen(j: MemtraceWireReport): string {
  const w = j.growthWindows.map(
    (x) =>
      `${x.kind} ${x.startS.toFixed(3)}-${x.endS.toFixed(3)} s: +${(x.growthBytes / 2 ** 20).toFixed(2)} MiB, freed later ${(100 * x.freedLaterFraction).toFixed(0)} %, settled ${x.settledAtS ?? 'never'}; ${x.sites.map((site) => `${site.label} ${(100 * site.shareOfGrowth).toFixed(0)} % (reclaimed ${(100 * site.reclaimedFraction).toFixed(0)} %)`).join(', ')}`,
  );
  return `trace of ${j.trace.durationS.toFixed(2)} s, peak live ${(j.totals.livePeak.totalBytes / 2 ** 20).toFixed(2)} MiB at ${j.totals.peakTimeS.toFixed(2)} s; windows:\n${w.join('\n')}`;
}

test("leak: the Lwt server simulation's never-evicting cache is named, allocations are attributed to the task", async () => {
  const j = await analyse(record('leak_server'));
  assert.equal(j.trace.context, 'leak_server');
  const labels = j.leaks.map((l) => l.label);
  assert.ok(
    labels.some((l) => /Leak_server\.build_response/.test(l)),
    labels.join('; '),
  );
  const top = j.leaks[0];
  assert.ok(top && top.shareOfEndLive > 0.5, "the leaking responses hold most of the end's live memory");
  // Every growth window with its figures, should a race be flagged: a real program's GC and clock
  // make the windows, and a failure in CI must say enough to tell why (the trace itself is gone).
  assert.equal(j.races.length, 0, windowsSeen(j));
  // Callbacks run from Lwt's scheduler, yet their samples carry the task's synthetic root frame.
  const task = j.tasks.find((t) => t.name === 'request handler');
  assert.ok(task && task.allocatedBytes > 0.5 * j.totals.allocated.totalBytes, JSON.stringify(j.tasks));
});

test('race: the window where the producer outpaces the consumer, and its site; no leak', async () => {
  const j = await analyse(record('alloc_race'));
  assert.equal(j.leaks.length, 0, j.leaks.map((l) => l.label).join('; '));
  assert.ok(j.races.length >= 1, j.growthWindows.map((w) => w.explanation).join('\n'));
  const race = [...j.races].sort((a, b) => b.growthBytes - a.growthBytes)[0];
  assert.ok(race);
  // The program races over its second quarter of ticks, then catches up.
  const d = j.trace.durationS;
  assert.ok(
    race.startS < 0.45 * d && race.endS > 0.4 * d && race.endS < 0.75 * d,
    `${race.startS}–${race.endS} of ${d} s`,
  );
  assert.match(race.sites[0]?.label ?? '', /Alloc_race\.make_message/);
  assert.ok(race.freedLaterFraction > 0.9);
  assert.notEqual(race.settledAtS, null, 'memory came back once the race stopped');
});

test('steady: nothing flagged', async () => {
  const j = await analyse(record('steady'));
  assert.equal(j.leaks.length, 0, j.leaks.map((l) => l.label).join('; '));
  assert.equal(j.races.length, 0, j.races.map((r) => r.explanation).join('; '));
  assert.equal(j.steadyState.steady, true, j.steadyState.reason);
});

test('Lwt promises: the estimate per creation site agrees with the exact count the program recorded', async () => {
  // lwt_promises.ml: each request, run as the task "request", creates exactly one pending promise
  // at each of 4 creation sites; the program counts tasks exactly (Memlens_trace_lwt.count_tasks).
  const requests = 20_000;
  const trace = record('lwt_promises', [String(requests)]);
  const j = await analyse(trace);
  assert.deepEqual(j.taskCounts, [{ name: 'request', started: requests, finished: requests }]);
  const exact = j.taskCounts[0]?.started ?? 0;
  const expected: [RegExp, string][] = [
    [/Lwt_promises\.fetch /, 'Lwt.wait'],
    [/Lwt_promises\.handle /, 'Lwt.bind'],
    [/Lwt_promises\.handle\.\(fun\) /, 'Lwt.pause'],
    [/Lwt_promises\.handle\.\(fun\) /, 'Lwt.map'],
  ];
  const table = j.lwtPromises.sites
    .map((s) => `${s.label} via ${s.via}: ${s.promises} ± ${s.promisesStdErr}`)
    .join('\n');
  for (const [label, via] of expected) {
    const site = j.lwtPromises.sites.find((s) => label.test(s.label) && s.via === via);
    assert.ok(site, `no creation site ${String(label)} via ${via} in\n${table}`);
    const est = site.promises ?? Number.NaN;
    const se = site.promisesStdErr ?? Number.NaN;
    // 4 standard errors: a false failure once in about 8,000 draws per site. (Gc.Memprof of
    // Debian's OCaml 4.13 seeds its generator the same way in every run, so one build and request
    // count draws the same samples each time; with 5,000 to 50,000 requests the four sites came
    // within 1.5 standard errors of the exact count.)
    assert.ok(Math.abs(est - exact) <= 4 * se, `${site.label} via ${via}: ${est} ± ${se}, exact ${exact}`);
    assert.ok(se < 0.15 * exact, `standard error ${se} of ${exact}`);
    assert.ok(site.allocatedBytes > 0 && site.livePeakBytes >= site.liveEndBytes);
    assert.ok(site.meanPromiseLifetimeS !== null && site.meanPromiseLifetimeS > 0);
  }
  // The recording library's glue (Memlens_trace_lwt.task wraps every request) is never a site:
  // the site is the application frame above it, the glue only its allocation point ("→ …"),
  // and what it allocates is Lwt's side.
  const glue = j.sites.filter((s) => /Memlens_trace_lwt/.test(s.label.split(' → ')[0] ?? ''));
  assert.deepEqual(
    glue.map((s) => s.label),
    [],
    'sites named after the recording glue',
  );
  const viaGlue = j.sites.filter((s) => /→ Memlens_trace_lwt/.test(s.label));
  assert.ok(viaGlue.length > 0 && viaGlue.every((s) => s.owner === 'lwt'), JSON.stringify(viaGlue));
  // The program is mostly Lwt's machinery: promises, callbacks, the run queue.
  assert.ok(j.lwtPromises.overhead.allocatedShare > 0.5, JSON.stringify(j.lwtPromises.overhead));
  assert.ok(j.lwtPromises.wordsPerPromise > 0);

  // The same numbers in the terminal report and the HTML file: each of the 4 sites' row with its
  // estimate, and the exact count beside them.
  const html = join(dir, 'lwt_promises.html');
  const r = await runCli(['memtrace', trace, '--html', html]);
  assert.equal(r.code, 0, r.stderr);
  const section = /^Lwt promises by creation site\n([\s\S]*?)\n\n/m.exec(r.stdout)?.[1] ?? '';
  assert.match(section, /Lwt's own machinery: \d+(\.\d)?% of the bytes allocated/, r.stdout);
  const page = readFileSync(html, 'utf8');
  const htmlRows = /<table id="lwt-promises">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? '';
  const rounded = (x: number | null): string => Math.round(x ?? Number.NaN).toLocaleString('en-US');
  for (const [label, via] of expected) {
    const site = j.lwtPromises.sites.find((s) => label.test(s.label) && s.via === via);
    assert.ok(site);
    const count = rounded(site.promises);
    const line = section.split('\n').find((l) => l.includes(`${site.label} via ${via}`)) ?? '';
    assert.match(
      line,
      new RegExp(`^\\s+${count}\\s+${rounded(site.promisesStdErr)}\\s`),
      `text row of ${site.label} via ${via}`,
    );
    const row = htmlRows.split('</tr>').find((x) => x.includes(`<code>${via}</code>`) && x.includes(site.label)) ?? '';
    assert.ok(row.startsWith(`<tr><td class="n">${count}</td>`), `HTML row of ${site.label} via ${via}: ${row}`);
  }
  assert.match(r.stdout, /^ {2}request: 20,000 started, 20,000 finished$/m);
  assert.match(page, /<td><code>request<\/code><\/td><td class="n">20,000<\/td><td class="n">20,000<\/td>/);
});

test('SIGTERM flushes the trace: the program exits as the signal would, the trace reads whole', async () => {
  const trace = join(dir, 'term.ctf');
  const child = spawn(exe('leak_server'), ['100000000'], {
    env: { ...process.env, MEMLENS_TRACE: trace, MEMLENS_TRACE_RATE: '1e-3' },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  // Wait until the program has written several packets, then stop it. About 200 bytes go to the
  // file per sample here, so 300 KB is well past the 500 samples analyse() asks for; 100 KB once
  // gave 494 on a busy machine.
  await waitingFor('leak_server to write 300 KB of trace before SIGTERM', async (signal) => {
    while (!signal.aborted && (!existsSync(trace) || statSync(trace).size < 300_000)) {
      assert.ok(!gone, 'leak_server exited before it was sent SIGTERM');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  child.kill('SIGTERM');
  assert.equal(await waitingFor('leak_server to exit after SIGTERM', () => exited), 128 + 15);
  const j = await analyse(trace);
  assert.ok(j.leaks.length >= 1);
});
