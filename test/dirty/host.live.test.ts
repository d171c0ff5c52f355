// memlens dirty on the machine's own kernel, live. Whether this kernel tracks soft-dirty decides
// what is checked: the probe must agree with the kernel's configuration, and the accessed-page
// fallback must count exactly the pages a workload touches.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { release } from 'node:os';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { startWorkload } from './workload.js';
import type { DirtyJson, DirtyWatchJson } from '../../src/wire/dirty.js';
import { scannableAreas } from '../../src/analyses/dirty/areas.js';
import { SoftDirtyScanner } from '../../src/parsers/pagemap.js';
import { ProcessPages, type ScanInterval } from '../../src/sources/pagemap.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';

/** CONFIG_MEM_SOFT_DIRTY of the running kernel, or undefined when its configuration is not readable. */
function kernelHasSoftDirty(): boolean | undefined {
  let config: string | undefined;
  if (existsSync('/proc/config.gz')) config = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  else if (existsSync(`/boot/config-${release()}`)) config = readFileSync(`/boot/config-${release()}`, 'utf8');
  if (config === undefined) return undefined;
  return /^CONFIG_MEM_SOFT_DIRTY=y$/m.test(config);
}

const hex = (n: bigint): string => `0x${n.toString(16)}`;

test(`the soft-dirty probe agrees with the kernel's configuration (kernel ${release()})`, async (t) => {
  const w = await startWorkload(['16', 'once']);
  try {
    const r = await runCli(['dirty', String(w.pid), '--json']);
    const doc = JSON.parse(r.stdout) as DirtyJson;
    const configured = kernelHasSoftDirty();
    t.diagnostic(
      `kernel ${release()}: CONFIG_MEM_SOFT_DIRTY ${configured === undefined ? 'unknown' : configured ? 'y' : 'off'}; probe: ${doc.softDirty.probe}`,
    );
    if (configured !== undefined) assert.equal(doc.softDirty.supported, configured);
    assert.equal(doc.pid, w.pid);
    assert.equal(doc.pageSize, w.pageSize);
    if (!doc.softDirty.supported) {
      // Said plainly, with the way out, and a failure exit code.
      assert.equal(r.code, 1);
      assert.match(r.stderr, /soft-dirty tracking is not available on this kernel/);
      assert.match(r.stderr, /--fallback accessed/);
      assert.match(r.stderr, /pages touched \(read or written\)/);
      assert.deepEqual(doc.ranges, []);
      const human = await runCli(['dirty', String(w.pid)]);
      assert.equal(human.code, 1);
      assert.equal(human.stdout, '');
      assert.match(human.stderr, /CONFIG_MEM_SOFT_DIRTY/);
    } else {
      assert.equal(r.code, 0);
      // Never cleared: every page the workload touched since it mapped the area is soft-dirty.
      const inArea = doc.ranges.filter(
        (x) => BigInt(x.start) >= w.address && BigInt(x.end) <= w.address + BigInt(w.pages * w.pageSize),
      );
      assert.equal(
        inArea.reduce((s, x) => s + x.pages, 0),
        w.pages,
      );
    }
  } finally {
    await w.stop();
  }
});

test('fallback accessed, plain: reports the touched pages of an area and clears nothing', async () => {
  const w = await startWorkload(['300', 'once']);
  try {
    // The workload touched all 300 pages when it started. Nothing has cleared the bits since.
    const area = hex(w.address);
    for (let run = 0; run < 2; run++) {
      const r = await runCli(['dirty', String(w.pid), '--fallback', 'accessed', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as DirtyJson;
      assert.equal(doc.method, 'accessed');
      assert.equal(doc.meaning, 'pages touched (read or written)');
      assert.deepEqual(doc.ranges, []);
      const a = doc.areas.find((x) => x.start === area);
      // The second run still sees all 300: the first one did not clear anything.
      assert.equal(a?.pages, 300, `run ${run}: ${JSON.stringify(doc.areas)}`);
      assert.equal(
        doc.pages,
        doc.areas.reduce((s, x) => s + x.pages, 0),
      );
    }
    const human = await runCli(['dirty', String(w.pid), '--fallback', 'accessed']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /pages touched \(read or written\)/);
    assert.doesNotMatch(human.stdout, /pages written/);
  } finally {
    await w.stop();
  }
});

test('fallback accessed, --watch: each round counts exactly the pages the workload touched in its area', async () => {
  // 1000 pages mapped and touched; then pages 5, 8, 11, … (120 of them) are written every 40 ms.
  const w = await startWorkload(['1000', 'fixed', '5', '120', '3', '40']);
  try {
    const r = await runCli([
      'dirty',
      String(w.pid),
      '--watch',
      '--fallback',
      'accessed',
      '--interval',
      '400ms',
      '--max-rounds',
      '3',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as DirtyWatchJson;
    assert.equal(doc.method, 'accessed');
    assert.equal(doc.rounds.length, 3);
    assert.equal(doc.stopReason, 'max-rounds');
    const a = doc.areas.find((x) => x.start === hex(w.address));
    assert.equal(a?.pages, 120, JSON.stringify(doc.areas));
    for (const round of doc.rounds) assert.ok(round.pages >= 120, `round ${round.round}: ${round.pages}`);
    const human = await runCli([
      'dirty',
      String(w.pid),
      '--watch',
      '--fallback',
      'accessed',
      '--interval',
      '300ms',
      '--max-rounds',
      '2',
    ]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /round +1 .* touched/);
    assert.match(human.stdout, /round +2 .* touched/);
    assert.match(human.stdout, /not a count of writes/);
    assert.match(human.stdout, /[▁▂▃▄▅▆▇█]{2}/);
  } finally {
    await w.stop();
  }
});

test('a process exiting mid-watch ends the watch with the rounds so far, exit code 0 and a message', async () => {
  // The workload exits 5 s after it is ready: about 15 rounds of 300 ms once memlens runs. It was
  // 1.1 s, and on a machine busy building a kernel module memlens once started its first round
  // after that (0 rounds): the test is about the exit, not about how fast memlens starts.
  const w = await startWorkload(['50', 'exit-after', '5000']);
  const r = await runCli([
    'dirty',
    String(w.pid),
    '--watch',
    '--fallback',
    'accessed',
    '--interval',
    '300ms',
    '--max-rounds',
    '50',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`process ${w.pid} exited during the watch`));
  const doc = JSON.parse(r.stdout) as DirtyWatchJson;
  assert.equal(doc.stopReason, 'exited');
  assert.ok(doc.rounds.length >= 1 && doc.rounds.length < 50, `${doc.rounds.length} rounds`);
  await w.stop();
});

test('safety and usage: pid 1 refused without --force, bad values are usage errors, a missing pid fails', async () => {
  const init = await runCli(['dirty', '1', '--watch']);
  assert.equal(init.code, 1);
  assert.match(init.stderr, /refusing pid 1 .*--force/);
  for (const args of [
    ['dirty', 'abc'],
    ['dirty', '0'],
    ['dirty', '123', '--until-stable'],
    ['dirty', '123', '--max-rounds', '3'],
    ['dirty', '123', '--watch', '--interval', 'soon'],
    ['dirty', '123', '--watch', '--tolerance', '150%'],
    ['dirty', '123', '--watch', '--max-rounds', '0'],
    ['dirty', '123', '--fallback', 'guess'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  // PID_MAX_LIMIT (2^22), the largest pid Linux can give, is not running: a runtime failure.
  const gone = await runCli(['dirty', '4194304']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no running process 4194304/);
  const help = await runCli(['dirty', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /converges after 3 consecutive steady rounds/);
  assert.match(help.stdout, /never passes for stable/);
});

test('--watch needs the right to write clear_refs: an unprivileged user is refused before anything is cleared', async () => {
  const w = await startWorkload(['16', 'once']);
  try {
    const r = await runCli(['dirty', String(w.pid), '--watch', '--fallback', 'accessed', '--max-rounds', '1'], {
      uid: 65534,
      gid: 65534,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /permission denied/);
  } finally {
    await w.stop();
  }
});

test('transparent huge pages: memlens names exactly the areas smaps shows holding them', async (t) => {
  const w = await startWorkload(['16', 'once']);
  try {
    const huge = BigInt(`0x${await w.command('h 1024')}`);
    const r = await runCli(['dirty', String(w.pid), '--fallback', 'accessed', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as DirtyJson;
    // Read smaps independently: which areas hold AnonHugePages right now?
    const smaps = readFileSync(`/proc/${w.pid}/smaps`, 'utf8');
    const holding: string[] = [];
    let current = '';
    for (const line of smaps.split('\n')) {
      const head = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
      if (head?.[1]) current = `0x${head[1]}`;
      const m = /^AnonHugePages:\s+(\d+) kB/.exec(line);
      if (m?.[1] && Number(m[1]) > 0) holding.push(current);
    }
    assert.deepEqual(
      doc.hugePageAreas.map((a) => a.start),
      holding,
    );
    const mine = doc.hugePageAreas.find((a) => BigInt(a.start) <= huge && BigInt(a.end) > huge);
    t.diagnostic(
      `huge pages in the MADV_HUGEPAGE area: ${mine ? `${mine.anonHugeBytes} bytes` : 'none (the kernel could not or would not give any)'}`,
    );
    if (mine) {
      assert.equal(mine.anonHugeBytes % (2 * 1024 * 1024), 0);
      const human = await runCli(['dirty', String(w.pid), '--fallback', 'accessed']);
      assert.match(human.stdout, /transparent huge pages: one write there marks a whole 2 MiB page/);
    }
  } finally {
    await w.stop();
  }
});

test('Ctrl-C ends a watch like the end of a round: the rounds so far, a verdict, exit code 0', async () => {
  const w = await startWorkload(['100', 'fixed', '0', '20', '1', '40']);
  try {
    const child = spawn(
      process.execPath,
      [cliPath, 'dirty', String(w.pid), '--watch', '--fallback', 'accessed', '--interval', '200ms'],
      {
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      // Interrupt once the second round has been printed.
      if (!interrupted && /^round +2 /m.test(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await waitingFor(
      'memlens dirty --watch to exit after SIGINT (sent once round 2 is printed)',
      () => new Promise<number | null>((resolve) => child.on('close', resolve)),
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^round +1 /m);
    assert.match(stdout, /^(converged after|not converged after) \d+ rounds/m);
    assert.match(stdout, /rounds of 200 ms/);
  } finally {
    await w.stop();
  }
});

test('without soft-dirty, --watch without --fallback refuses before clearing anything', async (t) => {
  const w = await startWorkload(['300', 'once']);
  try {
    const probe = JSON.parse((await runCli(['dirty', String(w.pid), '--json'])).stdout) as DirtyJson;
    if (probe.softDirty.supported) {
      t.skip('this kernel tracks soft-dirty pages');
      return;
    }
    const r = await runCli(['dirty', String(w.pid), '--watch', '--max-rounds', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /soft-dirty tracking is not available/);
    // The referenced bits of the workload's 300 touched pages are intact: nothing was cleared.
    const after = JSON.parse(
      (await runCli(['dirty', String(w.pid), '--fallback', 'accessed', '--json'])).stdout,
    ) as DirtyJson;
    assert.equal(after.areas.find((a) => a.start === hex(w.address))?.pages, 300);
  } finally {
    await w.stop();
  }
});

test('batched pagemap reads give, interval by interval, what one read per interval gives, in fewer reads', async () => {
  const w = await startWorkload(['3000', 'once']);
  try {
    // Several areas, some small and close together (libraries), one split in three intervals.
    await w.command('m 7');
    await w.command('m 300');
    const pages = new ProcessPages(openLiveProcSource(), w.pid, w.pageSize);
    const areas = scannableAreas(await pages.maps());
    const intervals: ScanInterval[] = [];
    for (const a of areas) {
      const pages = (a.end - a.start) / BigInt(w.pageSize);
      if (pages >= 3n) {
        const third = (pages / 3n) * BigInt(w.pageSize);
        intervals.push(
          { start: a.start, end: a.start + third },
          { start: a.start + third, end: a.start + 2n * third },
          { start: a.start + 2n * third, end: a.end },
        );
      } else {
        intervals.push({ start: a.start, end: a.end });
      }
    }
    const batched = pages.openPagemap();
    const got = batched.scan(intervals);
    batched.close();
    // The reference: each interval on its own, with the plain parser.
    const fd = openSync(`/proc/${w.pid}/pagemap`, 'r');
    try {
      intervals.forEach((iv, i) => {
        const n = Number((iv.end - iv.start) / BigInt(w.pageSize));
        const buf = Buffer.alloc(n * 8);
        const read = readSync(fd, buf, 0, buf.length, Number((iv.start / BigInt(w.pageSize)) * 8n));
        const s = new SoftDirtyScanner(w.pageSize, iv.start);
        s.feed(buf.subarray(0, read));
        s.skipPages(n - read / 8);
        assert.deepEqual(got[i], s.finish(), `interval ${i} ${iv.start.toString(16)}-${iv.end.toString(16)}`);
      });
    } finally {
      closeSync(fd);
    }
    assert.equal(
      got.reduce((s, r) => s + r.tally.pages, 0),
      areas.reduce((s, a) => s + Number((a.end - a.start) / BigInt(w.pageSize)), 0),
    );
    // The workload's 3000 touched pages are present.
    const mine = intervals.findIndex((iv) => iv.start === w.address);
    assert.ok(mine >= 0);
    assert.equal(
      (got[mine]?.tally.present ?? 0) + (got[mine + 1]?.tally.present ?? 0) + (got[mine + 2]?.tally.present ?? 0),
      3000,
    );
    assert.ok(batched.reads < intervals.length / 2, `${batched.reads} reads for ${intervals.length} intervals`);
  } finally {
    await w.stop();
  }
});
