// The tests of issue #15 part 1 for one emulated board (board.ts): the archive that the capture
// script wrote on the board, analysed here by `memlens snapshot --from` and `memlens process
// --from`, against what the board itself reported at the same moment:
//  - the ledger, exactly, against figures derived here from the board's own /proc/meminfo (the
//    very read the script made, copied aside on the board and sent back as plain text), with
//    CONFIG_VMAP_STACK taken from the kernel package's own config file;
//  - the known workload's figures within a page of its smaps_rollup read on the board;
//  - on armhf, the high memory split and the 32-bit address space.
// Both test files (test/capture/board-*.live.test.ts) call boardTests with their architecture.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LedgerItemJson, ProcessMappingsJson, SnapshotJson } from '../../src/wire/snapshot.js';
import { runCli } from '../helpers/cli.js';
import { artifactsDir, cliPath } from '../helpers/paths.js';
import {
  BOARDS,
  boardUnavailable,
  captureCost,
  prepareBoard,
  runBoard,
  WORKLOAD_BYTES,
  type BoardArch,
  type BoardFiles,
  type BoardRun,
} from './board.js';

/** "Key:   123 kB" lines in bytes; unit-less counts (HugePages_*) are left out, as in SnapshotJson.meminfo. */
function meminfoBytesOf(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s+(\d+) kB$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]) * 1024);
  }
  return out;
}

/** The ledger's top level as the kernel's documentation defines each part (docs/snapshot.md). */
function expectedLedger(mi: Map<string, number>, vmapStack: boolean): Map<string, number> {
  const v = (k: string): number => mi.get(k) ?? 0;
  const vmalloc = vmapStack ? Math.max(0, v('VmallocUsed') - v('KernelStack')) : v('VmallocUsed');
  const out = new Map<string, number>([
    ['free', v('MemFree')],
    ['page_cache', Math.max(0, v('Cached') - v('Shmem'))],
    ['buffers', v('Buffers')],
    ['shmem', v('Shmem')],
    ['anon', v('AnonPages')],
    ['swap_cache', v('SwapCached')],
    [
      'kernel',
      v('SReclaimable') +
        v('SUnreclaim') +
        v('KernelStack') +
        v('PageTables') +
        v('SecPageTables') +
        vmalloc +
        v('Percpu'),
    ],
    ['hugetlb', v('Hugetlb')],
    ['zswap', v('Zswap')],
  ]);
  out.set('unaccounted', v('MemTotal') - [...out.values()].reduce((a, b) => a + b, 0));
  return out;
}

function checkSums(items: LedgerItemJson[], total: number, where: string): void {
  assert.equal(
    items.reduce((n, i) => n + i.bytes, 0),
    total,
    where,
  );
  for (const i of items) if (i.items) checkSums(i.items, i.bytes, `${where} > ${i.key}`);
}

export function boardTests(arch: BoardArch): void {
  const spec = BOARDS[arch];
  let files: BoardFiles | undefined;
  let skip: string | false = boardUnavailable(spec) ?? false;
  if (!skip) {
    try {
      // Synchronous on purpose: whether the tests run must be known when they are declared.
      files = prepareBoard(spec, join(artifactsDir, 'board'));
    } catch (e) {
      skip = `cannot fetch Debian's ${arch} kernel or BusyBox: ${(e as Error).message}`;
    }
  }
  const scratch = mkdtempSync(join(tmpdir(), `memlens-board-${arch}-`));
  let run: BoardRun;
  let snap: SnapshotJson;
  let archivePath: string;

  before(async () => {
    if (skip || !files) return;
    const script = execFileSync(process.execPath, [cliPath, 'capture', '--print-script'], { encoding: 'utf8' });
    // Boots take one to five minutes under TCG on a loaded machine; runBoard's guard (10 min)
    // stops a board that never powers off and says how far its console got.
    run = await runBoard(spec, files, script, scratch);
    archivePath = join(scratch, 'board.snap');
    const r = await runCli(['snapshot', '--json', '--from', archivePath]);
    assert.equal(r.code, 0, r.stderr);
    snap = JSON.parse(r.stdout) as SnapshotJson;
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  test(`${arch} board: Debian's kernel and BusyBox alone, the capture script ran to its end`, { skip }, () => {
    assert.equal(run.kernel, files?.kernelVersion, 'the board runs the downloaded kernel');
    assert.match(run.machine, arch === 'arm64' ? /^aarch64$/ : /^armv7/);
    assert.equal(run.captureExit, 0, run.console.slice(-2000));
    assert.equal(run.workloadBytes, WORKLOAD_BYTES, 'the workload holds its data');
    assert.match(snap.source, /^archive board\.snap/);
    assert.equal(snap.pageSize, 4096);
  });

  test(`${arch} board: the ledger equals the board's own meminfo, exactly`, { skip }, () => {
    const seenText = run.sections.get('meminfo-seen');
    assert.ok(seenText, 'the board copied its meminfo aside during the capture');
    const seen = meminfoBytesOf(seenText);
    // The same read the archive carries, and a live one: the reads straight before and after
    // the capture agree on the sizes that cannot move.
    const before = meminfoBytesOf(run.sections.get('meminfo-before') ?? '');
    const afterRead = meminfoBytesOf(run.sections.get('meminfo-after') ?? '');
    for (const k of ['MemTotal', 'HighTotal', 'LowTotal', 'SwapTotal', 'CmaTotal', 'VmallocTotal']) {
      assert.equal(seen.get(k), before.get(k), `${k} before`);
      assert.equal(seen.get(k), afterRead.get(k), `${k} after`);
    }
    assert.deepEqual(new Map(Object.entries(snap.meminfo)), seen, 'every meminfo size, in bytes');
    // The kernel's own build configuration, from the package: not what memlens assumes.
    const configPath = join(files?.kernelImage ?? '', '..', `config-${files?.kernelVersion ?? ''}`);
    assert.ok(existsSync(configPath), configPath);
    const vmapStack = /^CONFIG_VMAP_STACK=y$/m.test(readFileSync(configPath, 'utf8'));
    assert.equal(
      snap.ledger.vmapStack.value,
      vmapStack,
      `CONFIG_VMAP_STACK (memlens: ${snap.ledger.vmapStack.source})`,
    );
    const expected = expectedLedger(seen, vmapStack);
    assert.deepEqual(new Map(snap.ledger.items.map((i) => [i.key, i.bytes])), expected);
    assert.equal(snap.ledger.total, seen.get('MemTotal'));
    checkSums(snap.ledger.items, snap.ledger.total, arch);
    assert.equal(snap.ledger.inconsistent, false);
  });

  test(`${arch} board: high memory is ${arch === 'armhf' ? 'split out and shown' : 'absent'}`, { skip }, async () => {
    const seen = meminfoBytesOf(run.sections.get('meminfo-seen') ?? '');
    const text = await runCli(['snapshot', '--from', archivePath, '--bytes']);
    assert.equal(text.code, 0, text.stderr);
    if (arch === 'arm64') {
      assert.equal(seen.has('HighTotal'), false);
      assert.equal(snap.ledger.highmem, undefined);
      assert.doesNotMatch(text.stdout, /high memory/);
      return;
    }
    const highTotal = seen.get('HighTotal') ?? 0;
    assert.ok(highTotal > 0, `the ${spec.memoryMiB} MiB armhf board has high memory`);
    assert.deepEqual(snap.ledger.highmem, {
      highTotal,
      highFree: seen.get('HighFree'),
      lowTotal: seen.get('LowTotal'),
      lowFree: seen.get('LowFree'),
    });
    assert.equal(highTotal + (seen.get('LowTotal') ?? 0), seen.get('MemTotal'));
    const free = snap.ledger.items.find((i) => i.key === 'free');
    assert.deepEqual(
      free?.details?.map((d) => [d.key, d.bytes]),
      [
        ['free_low', seen.get('LowFree')],
        ['free_high', seen.get('HighFree')],
      ],
    );
    assert.match(text.stdout, new RegExp(`\\(of which high memory[^)]*\\)\\)?\\s+${highTotal}\\s`));
    assert.match(text.stdout, new RegExp(`\\(of which low memory[^)]*\\)\\)?\\s+${seen.get('LowTotal')}\\s`));
  });

  test(`${arch} board: the workload's figures are within a page of its smaps_rollup on the board`, { skip }, () => {
    const p = snap.processes.find((q) => q.pid === run.workloadPid);
    assert.ok(p, `workload pid ${run.workloadPid} in the analysis`);
    const near = (got: number | null, want: number | undefined, what: string): void => {
      assert.ok(got !== null && want !== undefined, `${what}: ${got} vs ${want}`);
      assert.ok(Math.abs(got - want) <= snap.pageSize, `${what}: memlens ${got}, board ${want}`);
    };
    // The rollup the board read during the capture (the read the script made, copied aside):
    // every figure within a page (the kernel prints kB, PSS with its fraction cut off).
    const seen = meminfoBytesOf(run.sections.get('rollup-seen') ?? '');
    near(p.rss, seen.get('Rss'), 'rss');
    near(p.pss, seen.get('Pss'), 'pss');
    near(p.pssAnon, seen.get('Pss_Anon'), 'pssAnon');
    near(p.pssFile, seen.get('Pss_File'), 'pssFile');
    near(p.pssShmem, seen.get('Pss_Shmem'), 'pssShmem');
    near(p.swap, seen.get('Swap'), 'swap');
    near(p.uss, (seen.get('Private_Clean') ?? 0) + (seen.get('Private_Dirty') ?? 0), 'uss');
    // The board's own read before the capture: the idle workload's own pages have not moved.
    // (Its PSS of BusyBox's pages has: BusyBox lives in the initramfs, a tmpfs, so its pages are
    // shmem that the capture's shell and commands share while they run.)
    const earlier = meminfoBytesOf(run.sections.get('rollup') ?? '');
    near(p.rss, earlier.get('Rss'), 'rss (before the capture)');
    near(p.pssAnon, earlier.get('Pss_Anon'), 'pssAnon (before the capture)');
    near(p.uss, (earlier.get('Private_Clean') ?? 0) + (earlier.get('Private_Dirty') ?? 0), 'uss (before the capture)');
    // The known memory: the shell variable sits in the heap or an anonymous mapping.
    assert.ok((p.pssAnon ?? 0) >= WORKLOAD_BYTES, `pssAnon ${p.pssAnon} holds the ${WORKLOAD_BYTES}-byte variable`);
  });

  test(
    `${arch} board: process --from shows the workload's ${arch === 'armhf' ? '32' : '64'}-bit address space`,
    { skip },
    async () => {
      const r = await runCli(['process', String(run.workloadPid), '--json', '--vmas', '--from', archivePath]);
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(r.stdout) as ProcessMappingsJson;
      const rollup = meminfoBytesOf(run.sections.get('rollup') ?? '');
      assert.ok(Math.abs(m.total.rss - (rollup.get('Rss') ?? NaN)) <= snap.pageSize, `rss ${m.total.rss}`);
      // ARM's [vectors] page is a gate area outside the mm's list of mappings, which the rollup walks.
      const ends = (m.vmas ?? []).filter((v) => v.name !== '[vectors]').map((v) => BigInt(v.end));
      assert.ok(ends.length > 0);
      const highest = ends.reduce((a, b) => (a > b ? a : b));
      // The rollup's header line spans the whole address space: "start-end ---p … [rollup]".
      const span = /^([0-9a-f]+)-([0-9a-f]+) /.exec(run.sections.get('rollup') ?? '');
      assert.equal(highest, BigInt(`0x${span?.[2] ?? '0'}`), 'the highest mapping ends where the rollup says');
      const text = await runCli([
        'process',
        String(run.workloadPid),
        '--vmas',
        '--sort',
        'name',
        '--from',
        archivePath,
      ]);
      assert.equal(text.code, 0, text.stderr);
      const summary = await runCli(['process', String(run.workloadPid), '--from', archivePath]);
      if (arch === 'armhf') {
        assert.equal(m.addressBits, 32);
        assert.ok((m.vmas ?? []).every((v) => BigInt(v.end) <= 0x1_0000_0000n));
        // ARM's vector page sits at 0xffff0000 (arch/arm/kernel/vdso.c, CONFIG_KUSER_HELPERS).
        assert.ok(m.vmas?.some((v) => v.name === '[vectors]' && v.start === '0xffff0000'));
        assert.match(text.stdout, /^0x[0-9a-f]{8}-0x[0-9a-f]{8} /m);
        assert.match(summary.stdout, /32-bit address space/);
      } else {
        assert.equal(m.addressBits, 64);
        assert.ok(highest > 0x1_0000_0000n);
        assert.match(summary.stdout, /64-bit address space/);
      }
    },
  );

  test(`${arch} board: the script's cost on the board (reported, not asserted)`, { skip }, (t) => {
    const cost = captureCost(run);
    const pids = new Set(snap.processes.map((p) => p.pid)).size;
    assert.ok(cost.archiveBytes > 0);
    assert.ok(Number.isFinite(cost.userSeconds) && Number.isFinite(cost.systemSeconds) && cost.maxRssKiB > 0);
    t.diagnostic(
      `${arch}: ${cost.userSeconds} s user + ${cost.systemSeconds} s system CPU (TCG), peak RSS ${cost.maxRssKiB} KiB, ` +
        `archive ${cost.archiveBytes} bytes (BusyBox time and wc ran besides the ${pids} user processes of the kept archive)`,
    );
  });
}
