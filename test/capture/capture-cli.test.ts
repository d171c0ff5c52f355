// memlens capture on the command line: the printed script is the shipped one, and bad usage or bad
// archives give one line and the documented exit code. Runs of the script over this machine's /proc
// (-o) are in capture-cli.live.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseArchive } from '../../src/parsers/archive.js';
import { captureScriptPath } from '../../src/sources/capture-script.js';
import { loadArchive } from '../../src/sources/archive.js';
import { UserError } from '../../src/base/errors.js';
import { runCli } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { repoRoot } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'memlens-capture-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
// --print-script runs as the built command; the other runs are in this process.

test('capture --print-script prints the shipped script', async () => {
  const r = await runCli(['capture', '--print-script']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, readFileSync(join(repoRoot, 'scripts', 'capture.sh'), 'utf8'));
  assert.equal(captureScriptPath(), join(repoRoot, 'scripts', 'capture.sh'));
  // The package ships it (package.json "files").
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('scripts/capture.sh'));
});

test('capture usage errors exit 2 with one line', async () => {
  for (const args of [['capture'], ['capture', '--print-script', '-o', join(scratch, 'x')], ['capture', '--bogus']]) {
    const r = await runCliInProcess(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('capture --every/--for: the printed script fixes the options in its first lines; bad combinations exit 2', async () => {
  const script = readFileSync(join(repoRoot, 'scripts', 'capture.sh'), 'utf8');
  const series = await runCliInProcess(['capture', '--every', '10s', '--for', '1h', '--print-script']);
  assert.equal(series.code, 0, series.stderr);
  // A series keeps rollups only unless --smaps.
  assert.equal(
    series.stdout,
    `MEMLENS_CAPTURE_SMAPS=no\nMEMLENS_CAPTURE_EVERY_MS=10000\nMEMLENS_CAPTURE_FOR_MS=3600000\n${script}`,
  );
  const full = await runCliInProcess(['capture', '--smaps', '--every', '1s', '--for', '5s', '--print-script']);
  assert.equal(full.stdout, `MEMLENS_CAPTURE_EVERY_MS=1000\nMEMLENS_CAPTURE_FOR_MS=5000\n${script}`);
  for (const [args, message] of [
    [['--every', '10s'], /--every and --for go together/],
    [['--for', '1h'], /--every and --for go together/],
    [['--every', '50ms', '--for', '1s'], /--every: at least 100ms/],
    [['--every', '10s', '--for', '5s'], /--for must be at least one --every interval/],
    [['--every', 'often', '--for', '1h'], /--every/],
  ] as const) {
    const r = await runCliInProcess(['capture', ...args, '--print-script']);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
});

test('capture -o into an unwritable place exits 1 with one line', async () => {
  const r = await runCliInProcess(['capture', '-o', join(scratch, 'no', 'such', 'dir', 'x.snap')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^memlens: cannot write .*x\.snap: ENOENT\n$/);
});

test('loading an archive: not an archive, corrupt, truncated, gzip-compressed', async () => {
  const good = readFileSync(join(repoRoot, 'fixtures', 'capture', 'busybox-1.35-linux-6.18.44.snap'));
  const notArchive = join(scratch, 'meminfo');
  writeFileSync(notArchive, readFileSync('/proc/meminfo'));
  await assert.rejects(
    loadArchive(notArchive),
    (e: unknown) => e instanceof UserError && /is not a memlens capture archive/.test(e.message),
  );
  const truncated = join(scratch, 'truncated.snap');
  writeFileSync(truncated, good.subarray(0, good.length - 10));
  await assert.rejects(
    loadArchive(truncated),
    (e: unknown) => e instanceof UserError && /^corrupt archive: .*truncated/.test(e.message),
  );
  await assert.rejects(
    loadArchive(join(scratch, 'absent.snap')),
    (e: unknown) => e instanceof UserError && /cannot read archive .*ENOENT/.test(e.message),
  );
  const { gzipSync } = await import('node:zlib');
  const gz = join(scratch, 'board.snap.gz');
  writeFileSync(gz, gzipSync(good));
  assert.equal((await loadArchive(gz)).recordCount, parseArchive(good)?.recordCount);
});

test('snapshot --from - reads the real BusyBox fixture from stdin: what nobody could not read is null, never 0', async () => {
  const fixture = readFileSync(join(repoRoot, 'fixtures', 'capture', 'busybox-1.35-linux-6.18.44.snap'));
  const r = await runCliInProcess(['snapshot', '--from', '-', '--json'], { input: fixture });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^memlens: warning: 1 of 2 processes partly read \(smaps_rollup: permission denied/);
  const j = JSON.parse(r.stdout) as {
    host: string;
    time: string;
    pageSize: number;
    ledger: { total: number };
    stats: { kernelThreadsSkipped: number };
    processes: {
      name: string;
      user: string | null;
      pss: number | null;
      uss: number | null;
      rss: number | null;
      unread: string[];
    }[];
  };
  assert.equal(j.host, 'vm');
  assert.equal(j.time, '2026-11-23T12:03:28.000Z');
  assert.equal(j.pageSize, 4096);
  assert.equal(j.ledger.total, 24684084 * 1024);
  assert.equal(j.stats.kernelThreadsSkipped, 1);
  const sleeper = j.processes.find((p) => p.name === 'we ird) (x');
  assert.ok(sleeper);
  assert.equal(sleeper.user, 'root');
  assert.equal(sleeper.pss, null);
  assert.equal(sleeper.uss, null);
  assert.ok(sleeper.rss !== null && sleeper.rss > 0, 'status is readable, so RSS is known');
  assert.deepEqual(sleeper.unread, ['smaps_rollup: permission denied']);
  const shell = j.processes.find((p) => p.user === 'nobody');
  assert.ok(shell?.pss !== null && shell?.pss !== undefined && shell.pss > 0);
});

test('process PID --from: a kernel thread of the archive is refused in one line, exit 1', async () => {
  const r = await runCliInProcess([
    'process',
    '2',
    '--from',
    join(repoRoot, 'fixtures', 'capture', 'busybox-1.35-linux-6.18.44.snap'),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^memlens: process 2 is a kernel thread/m);
});
