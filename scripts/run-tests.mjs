// Runs the compiled test files of one tier with Node's own test runner:
//   node scripts/run-tests.mjs [fast|live|all]      (fast when no tier is given)
// fast: every *.test.js but *.live.test.js: no root, no service, no network beyond loopback.
// live: every *.live.test.js: the real kernel, MariaDB, Chromium, BusyBox, OCaml, npm, Prometheus
// (docs/testing.md says what each needs). Node 20 cannot glob, so the files are listed here.
// MEMLENS_TEST_FILTER=substring narrows the set further.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = join(root, 'dist', 'test');
// test/helpers/waiting.ts writes a note here for each condition a test is waiting for.
const waitingDir = join(root, 'test-artifacts', 'waiting');
// Each wait in a test has its own bound (test/helpers/waiting.ts), and every test has a backstop
// (--test-timeout below). If the suite prints nothing for this long (a whole run takes a few
// minutes), what is still running and what it waits for are printed. Nothing is stopped: the report
// is all.
const SILENT_REPORT_MS = 10 * 60_000;
// The backstop for a test that waits on something outside waitingFor: longer than any bounded wait
// inside it (the trace lock's is 20 minutes), so that the specific message comes first.
const TEST_BOUND_MS = 30 * 60_000;
// How long each test file took in the runs on this checkout (scripts/test-durations-reporter.mjs
// measures them): where a run's time goes, file by file. (Node's runner starts the files in the
// order of their paths whatever the order given, so these cannot order the run; on the fast tier
// that order was measured within 3 % of the best split of the files over two cores.)
const durationsFile = join(root, 'test-artifacts', 'test-durations.json');
const durationsReporter = join(root, 'scripts', 'test-durations-reporter.mjs');

const TIERS = ['fast', 'live', 'all'];
const tier = process.argv[2] ?? 'fast';
if (!TIERS.includes(tier) || process.argv.length > 3) {
  process.stderr.write(`usage: node scripts/run-tests.mjs [${TIERS.join('|')}]\n`);
  process.exit(2);
}
const isLive = (name) => name.endsWith('.live.test.js');
const inTier = (name) => tier === 'all' || (tier === 'live') === isLive(name);

const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    // A compiled file whose source is gone (renamed or removed since an earlier build) is stale.
    else if (
      name.endsWith('.test.js') &&
      inTier(name) &&
      existsSync(join(root, relative(join(root, 'dist'), p)).replace(/\.js$/, '.ts'))
    )
      files.push(p);
  }
};
walk(testRoot);
const filter = process.env.MEMLENS_TEST_FILTER;
const selected = filter ? files.filter((f) => relative(root, f).includes(filter)) : files;
if (selected.length === 0) {
  process.stderr.write(
    `run-tests: no ${tier} test file${filter ? ` whose path contains "${filter}"` : ''} under ${relative(root, testRoot)} (built?)\n`,
  );
  process.exit(1);
}

rmSync(waitingDir, { recursive: true, force: true });
mkdirSync(waitingDir, { recursive: true });

/** pid → { ppid, startTicks, args } of every process, read from /proc. */
function processes() {
  const all = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '')
        .join(' ');
      all.set(Number(name), { ppid: Number(fields[1]), startTicks: Number(fields[19]), args });
    } catch {
      // The process ended while it was being read.
    }
  }
  return all;
}

function report(runnerPid, silentMs) {
  const lines = [`run-tests: nothing printed for ${(silentMs / 60_000).toFixed(1)} min; still running:`];
  const all = processes();
  // USER_HZ is 100 on every Linux architecture memlens runs on (sysconf(_SC_CLK_TCK)).
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const walkTree = (pid, depth) => {
    for (const [child, p] of all) {
      if (p.ppid !== pid) continue;
      const ageS = Math.round(uptimeS - p.startTicks / 100);
      lines.push(`${'  '.repeat(depth)}${child} (${ageS} s) ${p.args.slice(0, 240)}`);
      // A browser's own dozen processes say nothing about the test.
      if (!p.args.includes('chromium')) walkTree(child, depth + 1);
    }
  };
  walkTree(runnerPid, 1);
  const notes = existsSync(waitingDir) ? readdirSync(waitingDir).sort() : [];
  lines.push(notes.length === 0 ? 'no test has said what it waits for' : 'waiting for:');
  for (const n of notes) {
    try {
      lines.push(`  ${readFileSync(join(waitingDir, n), 'utf8').trim()}`);
    } catch {
      // Settled while being read.
    }
  }
  process.stdout.write(lines.map((l) => `# ${l}\n`).join(''));
}

// Tests that trace the kernel, restart databases or boot a VM serialise themselves through
// locks of their own; the rest run two files at a time (the machines have two cores).
// Files that assert what a starting `memlens trace` sweeps away (the tracefs instances left by killed
// runs): every tracer that starts removes them, so another test file starting one meanwhile (a
// `memlens serve` as root, a trace into a store…) removes the leftover these files wait to see
// removed, and their check fails. The trace lock (test/helpers/trace-lock.ts) is only held by tests
// that need tracing to themselves, not by every test that starts a tracer; so these files run last,
// one at a time, when no other file of the run is left to start one.
const ALONE = ['trace/trace.live.test.js', 'trace/tracefs-instance.live.test.js'].map((f) => join(testRoot, f));
const together = selected.filter((f) => !ALONE.includes(f));
const alone = selected.filter((f) => ALONE.includes(f));

// --test-force-exit: a file whose tests have all ended exits even if something it started still
// holds its event loop open, rather than keeping the run from ending.
function run(files, concurrency) {
  const measured = join(root, 'test-artifacts', `test-durations-${process.pid}.json`);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--test',
        '--test-force-exit',
        `--test-timeout=${TEST_BOUND_MS}`,
        '--test-reporter=tap',
        '--test-reporter-destination=stdout',
        `--test-reporter=${durationsReporter}`,
        '--test-reporter-destination=stdout',
        `--test-concurrency=${concurrency}`,
        ...files,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: root, env: { ...process.env, MEMLENS_TEST_DURATIONS: measured } },
    );
    let lastOutputMs = Date.now();
    let lastReportMs = 0;
    child.stdout.on('data', (chunk) => {
      lastOutputMs = Date.now();
      process.stdout.write(chunk);
    });
    const watch = setInterval(() => {
      const now = Date.now();
      if (now - lastOutputMs < SILENT_REPORT_MS || now - lastReportMs < SILENT_REPORT_MS) return;
      report(child.pid, now - lastOutputMs);
      lastReportMs = now;
    }, 10_000);
    child.on('close', (code) => {
      clearInterval(watch);
      keepDurations(measured);
      // A runner killed by a signal has no exit code: that is a failure too.
      resolve(code ?? 1);
    });
  });
}

/** The kept durations by path relative to the root; none on a fresh checkout. */
function readDurations() {
  try {
    const parsed = JSON.parse(readFileSync(durationsFile, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

/** Adds the durations a run measured (by absolute path) to the kept ones. */
function keepDurations(measured) {
  try {
    const now = JSON.parse(readFileSync(measured, 'utf8'));
    const all = readDurations();
    for (const [file, ms] of Object.entries(now)) all[relative(root, file)] = Math.round(ms);
    writeFileSync(durationsFile, `${JSON.stringify(all, null, 1)}\n`);
  } catch {
    // A run cut short, or one that ran no test, measured nothing: the kept durations stay as they were.
  } finally {
    rmSync(measured, { force: true });
  }
}

let failed = false;
if (together.length > 0) failed = (await run(together, 2)) !== 0;
if (alone.length > 0) failed = (await run(alone, 1)) !== 0 || failed;
process.exitCode = failed ? 1 : 0;
