// memlens dirty on a kernel that really tracks soft-dirty pages: Debian's kernel booted under
// qemu (software emulation), running the checkout's own build through a read-only 9p share.
// One boot runs every check (vm-guest.ts); this file judges what the guest reported.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { artifactsDir, repoRoot } from '../helpers/paths.js';
import { findSoftDirtyKernel, runInVm, vmResults, type VmRun } from './vm.js';
import { buildWorkload } from './workload.js';
import type { DirtyJson, DirtyRangeJson, DirtyWatchJson } from '../../src/wire/dirty.js';
import type { DirtyBody } from '../../src/wire/messages.js';

interface Guest<T> {
  error?: string;
  code: number;
  stderr: string;
  doc: T;
  address: string;
  pages: number;
  pageSize: number;
  human: string;
  humanCode: number;
}

let run: VmRun;
let results: Map<string, unknown>;

function result<T>(name: string): Guest<T> {
  const r = results.get(name) as Guest<T> | undefined;
  assert.ok(r, `the guest reported no "${name}" result; console:\n${run.console.slice(-4000)}`);
  assert.equal(r.error, undefined, `guest check "${name}" failed: ${r.error}`);
  return r;
}

const inArea = (
  ranges: readonly DirtyRangeJson[],
  address: string,
  pages: number,
  pageSize: number,
): DirtyRangeJson[] => {
  const start = BigInt(address);
  const end = start + BigInt(pages * pageSize);
  return ranges.filter((r) => BigInt(r.start) >= start && BigInt(r.end) <= end);
};

before(async () => {
  const kernel = findSoftDirtyKernel();
  assert.ok(
    kernel,
    'no kernel with CONFIG_MEM_SOFT_DIRTY=y under /boot: run .ci/setup-system (it installs linux-image-amd64)',
  );
  buildWorkload();
  run = await runInVm(kernel, [process.execPath, join(repoRoot, 'dist', 'test', 'dirty', 'vm-guest.js')], {
    visible: [repoRoot, dirname(process.execPath)],
  });
  results = vmResults(run);
  // The whole console, for a person to read when a check fails.
  mkdirSync(artifactsDir, { recursive: true });
  writeFileSync(join(artifactsDir, 'dirty-vm-console.txt'), run.console);
  assert.equal(results.get('done'), true, `the guest did not finish; console:\n${run.console.slice(-6000)}`);
});

test('the guest runs the soft-dirty kernel, and memlens finds soft-dirty supported there', (t) => {
  const kernel = findSoftDirtyKernel();
  t.diagnostic(
    `soft-dirty checks ran on guest kernel ${String(results.get('release'))} (${kernel?.image ?? '?'}, qemu software emulation)`,
  );
  assert.equal(results.get('release'), kernel?.version);
  const r = result<DirtyJson>('untouched');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.doc.softDirty.supported, true);
  assert.equal(r.doc.method, 'soft-dirty');
  // Nothing cleared the bits since the workload touched its 64 pages: all of them count.
  const mine = inArea(r.doc.ranges, r.address, r.pages, r.doc.pageSize);
  assert.deepEqual(
    mine.map((x) => [x.start, x.end, x.pages, x.mapping]),
    [[r.address, `0x${(BigInt(r.address) + BigInt(64 * r.doc.pageSize)).toString(16)}`, 64, '[anon]']],
  );
  assert.equal(
    r.doc.pages,
    r.doc.ranges.reduce((s, x) => s + x.pages, 0),
  );
});

test('after a clear, memlens reports exactly the pages written: their addresses and their count', () => {
  const r = result<DirtyJson>('exact');
  assert.equal(r.code, 0, r.stderr);
  const ps = BigInt(r.pageSize);
  const base = BigInt(r.address);
  const expected: [string, string, number][] = [];
  for (let i = 0; i < 50; i++) {
    const p = base + BigInt(10 + 7 * i) * ps;
    expected.push([`0x${p.toString(16)}`, `0x${(p + ps).toString(16)}`, 1]);
  }
  expected.push([`0x${(base + 1500n * ps).toString(16)}`, `0x${(base + 1530n * ps).toString(16)}`, 30]);
  const mine = inArea(r.doc.ranges, r.address, r.pages, r.pageSize);
  assert.deepEqual(
    mine.map((x) => [x.start, x.end, x.pages]),
    expected,
  );
  assert.equal(
    mine.reduce((s, x) => s + x.pages, 0),
    80,
  );
  assert.ok(mine.every((x) => x.mapping === '[anon]'));
  // The rest of the process wrote a little (stack, libc's buffers) and the total says so.
  assert.equal(
    r.doc.pages,
    r.doc.ranges.reduce((s, x) => s + x.pages, 0),
  );
  assert.ok(r.doc.pages >= 80 && r.doc.pages < 80 + 64, `total ${r.doc.pages}`);
  assert.equal(r.humanCode, 0);
  assert.match(r.human, /soft-dirty pages written/);
  const first = base + 10n * ps;
  assert.match(r.human, new RegExp(`0x${first.toString(16)}\\s+0x${(first + ps).toString(16)}\\s+1\\s+\\[anon\\]`));
});

test('pages of an area mapped during the round count as new mapping, not as writes', () => {
  const r = results.get('new-mapping') as {
    error?: string;
    address: string;
    fresh: string;
    pages: number;
    newMappingPages: number;
    writtenInOld: { start: string; end: string; pages: number }[];
  };
  assert.equal(r.error, undefined, r.error);
  // The 10 pages written in the old area are writes, exactly those.
  assert.deepEqual(
    r.writtenInOld.map((x) => [x.start, x.pages]),
    [[r.address, 10]],
  );
  // The 100 freshly mapped and touched pages are new mapping.
  assert.equal(r.newMappingPages, 100);
  assert.ok(r.pages >= 10 && r.pages < 10 + 64, `written ${r.pages}`);
});

test('a heap grown during the round is new mapping as a whole: the kernel marks all of it soft-dirty', () => {
  const r = results.get('heap-grown') as {
    error?: string;
    pages: number;
    newMappingPages: number;
    heap: { writtenPages: number; newMappingPages: number; presentPages: number; wholeAreaMarked: boolean } | null;
  };
  assert.equal(r.error, undefined, r.error);
  assert.ok(r.heap, JSON.stringify(r));
  assert.equal(r.heap.wholeAreaMarked, true);
  // None of the heap's pages count as written, though all of them read soft-dirty.
  assert.equal(r.heap.writtenPages, 0);
  assert.equal(r.heap.newMappingPages, r.heap.presentPages);
  assert.ok(r.heap.presentPages >= 250, `heap present ${r.heap.presentPages}`);
  // The 10 pages written in the workload's area are still writes.
  assert.ok(r.pages >= 10 && r.pages < 10 + 64, `written ${r.pages}`);
});

test('under a transparent huge page one written byte marks 2 MiB, and memlens says so', (t) => {
  const r = results.get('thp') as { error?: string; huge: string; code: number; stderr: string; doc: DirtyJson };
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.code, 0, r.stderr);
  const huge = BigInt(r.huge);
  const area = r.doc.hugePageAreas.find((a) => BigInt(a.start) <= huge && BigInt(a.end) > huge);
  assert.ok(area, `the kernel gave the MADV_HUGEPAGE area no huge page: ${JSON.stringify(r.doc.hugePageAreas)}`);
  t.diagnostic(`${area.anonHugeBytes} bytes of huge pages in the area`);
  const mine = r.doc.ranges.filter((x) => BigInt(x.start) >= huge && BigInt(x.end) <= huge + 4n * 1024n * 1024n);
  assert.deepEqual(
    mine.map((x) => [x.start, x.end, x.pages]),
    [[r.huge, `0x${(huge + 2n * 1024n * 1024n).toString(16)}`, 512]],
  );
});

test('--watch --until-stable converges on a fixed write set, at its size', () => {
  const r = result<DirtyWatchJson>('fixed');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.doc.converged, true, JSON.stringify(r.doc.rounds));
  assert.equal(r.doc.stopReason, 'converged');
  assert.ok(r.doc.rounds.length >= 4 && r.doc.rounds.length <= 12);
  // The working set is the 300 pages plus the few the process writes for itself.
  assert.ok(
    r.doc.workingSetPages !== null && r.doc.workingSetPages >= 300 && r.doc.workingSetPages < 300 + 64,
    `working set ${r.doc.workingSetPages}`,
  );
  assert.equal(r.doc.workingSetBytes, r.doc.workingSetPages * r.pageSize);
  // The last round's ranges in the area: every other page from 0, 300 of them.
  const mine = inArea(r.doc.ranges, r.address, r.pages, r.pageSize);
  assert.equal(mine.length, 300);
  mine.forEach((x, i) => assert.equal(BigInt(x.start), BigInt(r.address) + BigInt(2 * i * r.pageSize)));
});

test('--watch --until-stable does not converge on a write set that keeps growing', () => {
  const r = result<DirtyWatchJson>('grow');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.doc.converged, false, JSON.stringify(r.doc.rounds));
  assert.equal(r.doc.stopReason, 'max-rounds');
  assert.equal(r.doc.rounds.length, 8);
  const counts = r.doc.rounds.map((x) => x.pages);
  for (let i = 1; i < counts.length; i++)
    assert.ok((counts[i] ?? 0) > (counts[i - 1] ?? 0), `rounds ${counts.join(', ')}`);
  // Slow growth: steps under the tolerance, yet the counts drift out of the band: still not converged.
  const drift = (results.get('grow') as { drift: DirtyWatchJson }).drift;
  const steps = drift.rounds.slice(1).map((x) => x.change);
  assert.equal(drift.converged, false, JSON.stringify(drift.rounds));
  assert.ok(steps.filter((c) => c <= 0.08).length >= 3, `steps ${steps.join(', ')}`);
  assert.match(r.human, /not converged after 4 rounds/);
  assert.match(r.human, /round +4 /);
});

test('memlens serve --dirty-watch on the soft-dirty kernel: the series over HTTP and WebSocket, new mapping apart, converged, in /metrics', (t) => {
  const r = results.get('serve') as {
    error?: string;
    address: string;
    pages: number;
    pageSize: number;
    fresh: string;
    mappedAfterRound: number;
    body: DirtyBody;
    wsRounds: number[];
    metrics: string[];
    code: number | null;
    stderr: string;
  };
  assert.ok(r, `the guest reported no "serve" result; console:\n${run.console.slice(-4000)}`);
  assert.equal(r.error, undefined, `guest check "serve" failed: ${r.error}`);
  const h = r.body.watch;
  assert.ok(h !== null);
  t.diagnostic(
    `pages written per round in the guest: ${r.body.series.map((x) => `${x.pages}${x.newMappingPages > 0 ? `+${x.newMappingPages} new` : ''}`).join(', ')}`,
  );
  assert.equal(h.method, 'soft-dirty');
  assert.equal(h.meaning, 'pages written');
  assert.equal(h.softDirty.supported, true);
  assert.equal(h.state, 'stopped');
  assert.equal(h.stopReason, 'max-rounds');
  assert.equal(h.reason, 'stopped after 10 rounds, the limit set by --dirty-max-rounds');
  assert.deepEqual(
    r.body.series.map((x) => x.round),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  // The WebSocket client got every round once, in order.
  assert.deepEqual(r.wsRounds, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // Every round: the 300 pages of the set, plus the few the process writes for itself.
  for (const x of r.body.series)
    assert.ok(x.pages >= 300 && x.pages < 300 + 64, `round ${x.round}: ${x.pages} written`);
  // The 100 freshly mapped and touched pages are new mapping in one round (the one they were mapped in), never writes.
  const withNew = r.body.series.filter((x) => x.newMappingPages >= 100);
  assert.equal(withNew.length, 1, JSON.stringify(r.body.series));
  assert.ok(
    (withNew[0]?.round ?? 0) >= r.mappedAfterRound && (withNew[0]?.round ?? 0) <= r.mappedAfterRound + 1,
    `new mapping in round ${withNew[0]?.round}, mapped after round ${r.mappedAfterRound}`,
  );
  // A fixed write set converges, and the watch went on past it to its 10 rounds.
  assert.equal(h.converged, true, JSON.stringify(r.body.series));
  assert.ok(h.convergedSinceRound !== null && h.convergedSinceRound < 10);
  assert.ok(
    h.workingSetPages !== null && h.workingSetPages >= 300 && h.workingSetPages < 300 + 64,
    `working set ${h.workingSetPages}`,
  );
  // The newest round's ranges in the workload's area: every other page from 0, 300 of them.
  const mine = inArea(h.ranges, r.address, r.pages, r.pageSize);
  assert.equal(mine.length, 300);
  mine.forEach((x, i) => assert.equal(BigInt(x.start), BigInt(r.address) + BigInt(2 * i * r.pageSize)));
  assert.ok(h.byMapping.some((m) => m.mapping === '[anon]' && m.pages >= 300));
  // /metrics: written and new-mapping pages as two series, no touched pages.
  const metric = (name: string): number | undefined => {
    const line = r.metrics.find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  assert.equal(metric('memlens_dirty_round_written_pages'), r.body.series[9]?.pages);
  assert.equal(metric('memlens_dirty_round_new_mapping_pages'), r.body.series[9]?.newMappingPages);
  assert.equal(metric('memlens_dirty_round_touched_pages'), undefined);
  assert.equal(metric('memlens_dirty_rounds_total'), 10);
  assert.equal(metric('memlens_dirty_converged'), 1);
  assert.equal(metric('memlens_dirty_watch_running'), 0);
  assert.ok(
    r.metrics.some((l) => /^memlens_dirty_watch_info\{.*method="soft_dirty".*\} 1$/.test(l)),
    r.metrics.join('\n'),
  );
  assert.equal(r.code, 0, r.stderr);
});
