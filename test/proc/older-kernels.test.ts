// Older kernels (fixtures/proc/older/, reshaped from real 6.18 captures as its README says): what
// each kernel does not print is estimated or shown as n/a with its reason, never as 0, and the
// ledger still adds up to MemTotal exactly. The expected figures were worked out by hand from
// the fixture files (the sums are spelled out next to each).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ParseError } from '../../src/base/errors.js';
import { estimateMemAvailable, totalReservePages } from '../../src/analyses/available.js';
import { snapshotJson } from '../../src/analyses/snapshot-json.js';
import { collectSnapshot, type Snapshot } from '../../src/analyses/snapshot.js';
import { renderSnapshot } from '../../src/render/snapshot-text.js';
import { parseMeminfo } from '../../src/parsers/proc/meminfo.js';
import { parseZoneinfo, type Zone } from '../../src/parsers/proc/zoneinfo.js';
import { loadArchive } from '../../src/sources/archive.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { fixturesDir } from '../helpers/paths.js';
import { procFixtures, readFixture, vmDir } from './fixtures.js';

const KiB = 1024;
const older = (v: string): string => join(procFixtures, 'older', `linux-${v}`);
const snapshotOf = (v: string): Promise<Snapshot> => collectSnapshot(openLiveProcSource(older(v)));
const plain = {
  bold: (s: string) => s,
  dim: (s: string) => s,
  red: (s: string) => s,
  yellow: (s: string) => s,
  green: (s: string) => s,
  cyan: (s: string) => s,
};

function assertExactLedger(s: Snapshot): void {
  assert.equal(
    s.ledger.items.reduce((a, i) => a + i.bytes, 0),
    s.ledger.totalBytes,
    'the top-level parts add up to MemTotal',
  );
  for (const i of s.ledger.items) {
    if (i.items)
      assert.equal(
        i.items.reduce((a, c) => a + c.bytes, 0),
        i.bytes,
        `children of ${i.key}`,
      );
  }
}

const keys = (s: Snapshot): string[] => s.fallbacks.map((f) => f.key);
const kernelChild = (s: Snapshot, key: string) =>
  s.ledger.items.find((i) => i.key === 'kernel')?.items?.find((i) => i.key === key);

test('zoneinfo: 6.18 and 3.10 layouts parse to the same watermarks; other text is not zoneinfo', async () => {
  const archive = await loadArchive(join(fixturesDir, 'capture', 'busybox-1.35-linux-6.18.44.snap'));
  const z618 = archive.entries.get('proc/zoneinfo');
  assert.ok(z618?.kind === 'file');
  const zones = parseZoneinfo(new TextDecoder().decode(z618.data));
  assert.ok(zones);
  assert.deepEqual(
    zones.map((z) => z.name),
    ['DMA', 'DMA32', 'Normal', 'Movable', 'Device'],
  );
  // The watermark fields this test is about; the span, CMA and per-CPU list fields (read for
  // `memlens pages`) are checked in test/pages/parsers.test.ts.
  const watermarks = (z: Zone | undefined): Partial<Zone> => {
    if (!z) return {};
    const { node, name, freePages, minPages, lowPages, highPages, presentPages, managedPages, protectionPages } = z;
    return { node, name, freePages, minPages, lowPages, highPages, presentPages, managedPages, protectionPages };
  };
  assert.deepEqual(watermarks(zones[0]), {
    node: 0,
    name: 'DMA',
    freePages: 3840,
    minPages: 29,
    lowPages: 36,
    highPages: 43,
    presentPages: 3998,
    managedPages: 3840,
    protectionPages: [0, 3019, 8651, 8651, 8651],
  });
  const z310 = parseZoneinfo(readFixture('older', 'linux-3.10', 'zoneinfo'));
  assert.ok(z310);
  assert.deepEqual(
    z310.map(watermarks),
    zones.slice(0, 3).map(watermarks),
    'protection after the vm stats (3.x) reads the same; unpopulated zones are not printed',
  );
  assert.equal(parseZoneinfo('MemTotal: 1 kB\n'), undefined);
  assert.throws(() => parseZoneinfo('Node 0, zone DMA\n  pages free 3\n        min 1\n'), ParseError);
});

test('MemAvailable estimated as si_mem_available() does equals the kernel’s own figure (6.18 capture, MemAvailable line dropped)', async () => {
  const archive = await loadArchive(join(fixturesDir, 'capture', 'busybox-1.35-linux-6.18.44.snap'));
  const text = (name: string): string => {
    const e = archive.entries.get(name);
    assert.ok(e?.kind === 'file', name);
    return new TextDecoder().decode(e.data);
  };
  const full = parseMeminfo(text('proc/meminfo'));
  const without = parseMeminfo(
    text('proc/meminfo')
      .split('\n')
      .filter((l) => !l.startsWith('MemAvailable:'))
      .join('\n'),
  );
  assert.ok(full && without && !without.sizes.has('MemAvailable'));
  const e = estimateMemAvailable(without, parseZoneinfo(text('proc/zoneinfo')), 4096);
  assert.ok(e.ok);
  // DMA min(8651 + 43, 3840) + DMA32 min(5632 + 8828, 772915) + Normal min(0 + 16470, 1441792)
  // + Movable min(0 + 32, 0) + Device 0 = 3840 + 14460 + 16470 = 34770 pages.
  assert.equal(e.pages.totalReserve, 34770);
  assert.equal(e.pages.wmarkLow, 36 + 7357 + 13725 + 32 + 0);
  assert.equal(e.reclaimableCounter, 'KReclaimable');
  assert.equal(e.bytes, full.sizes.get('MemAvailable'), 'the same page arithmetic as the kernel: 23835332 kB');
  assert.equal(e.bytes, 23835332 * KiB);
  const noZones = estimateMemAvailable(without, undefined, 4096);
  assert.deepEqual(noZones, {
    ok: false,
    reason: '/proc/zoneinfo could not be read, and the estimate needs its watermarks',
  });
  assert.equal(totalReservePages([]), 0);
});

test('Linux 3.10: MemAvailable estimated from zoneinfo, KReclaimable as SReclaimable, PSS summed from smaps, SwapPss and the Pss split n/a', async () => {
  const s = await snapshotOf('3.10');
  assertExactLedger(s);
  // 3.10 fixture: the same meminfo, but only the populated zones (no Movable zone with low 32):
  // free 22979528 kB = 5744882 pages; reserve 34770; Σ low = 36 + 7357 + 13725 = 21118;
  // file LRU (507028 + 327216) / 4 = 208561 → 208561 − min(104280, 21118) = 187443;
  // SReclaimable 329840 / 4 = 82460 → 82460 − min(41230, 21118) = 61342;
  // 5744882 − 34770 + 187443 + 61342 = 5958897 pages = 23835588 kB.
  assert.ok(s.availableEstimate?.ok);
  assert.equal(s.availableEstimate.reclaimableCounter, 'SReclaimable');
  assert.equal(s.availableEstimate.pages.available, 5958897);
  const notAvailable = s.used.find((u) => u.key === 'not_available');
  assert.equal(notAvailable?.bytes, (24684084 - 23835588) * KiB);
  assert.match(notAvailable.formula, /estimated as si_mem_available\(\) does/);
  assert.deepEqual(keys(s), [
    'MemAvailable',
    'KReclaimable',
    'Hugetlb',
    'Percpu',
    'smaps_rollup',
    'SwapPss',
    'Pss_Anon/Pss_File/Pss_Shmem',
  ]);
  assert.deepEqual(
    s.fallbacks.map((f) => f.estimated),
    [true, true, true, false, true, false, false],
  );
  // No Percpu: it is inside unaccounted. Before 4.9 no stack is vmalloc-ed (osrelease 3.10.108),
  // so all of VmallocUsed is vmalloc. MemTotal 24684084 − (MemFree 22979528 + page cache 879960
  // − 69524 + Buffers 23924 + Shmem 69524 + AnonPages 207304 + Slab 365676 + KernelStack 2544 +
  // PageTables 5132 + VmallocUsed 15340) = 204676 kB.
  assert.deepEqual(s.ledger.vmapStack, { value: false, source: 'kernel version' });
  assert.equal(kernelChild(s, 'vmalloc')?.bytes, 15340 * KiB);
  assert.equal(kernelChild(s, 'percpu'), undefined);
  assert.deepEqual(
    s.ledger.unavailable.map((g) => g.key),
    ['percpu'],
  );
  assert.equal(s.ledger.unaccountedBytes, 204676 * KiB);
  assert.equal(s.ledger.items.find((i) => i.key === 'hugetlb')?.formula, 'HugePages_Total × Hugepagesize');
  const [shell] = s.processes;
  assert.ok(shell);
  assert.equal(shell.pid, 16491);
  assert.equal(shell.pssFrom, 'smaps');
  assert.equal(shell.pssBytes, 910 * KiB, 'Σ Pss of its 12 mappings (the 6.18 rollup said 912 kB)');
  assert.equal(shell.rssBytes, 1840 * KiB);
  assert.equal(shell.ussBytes, 432 * KiB);
  assert.equal(shell.swapPssBytes, null, 'no SwapPss line before 4.3: n/a, not 0');
  assert.equal(shell.pssAnonBytes, null);
  assert.deepEqual(shell.unread, [], 'nothing failed to read: the kernel does not print these');
  assert.equal(s.stats.partlyRead, 0);
});

test('Linux 4.9: no smaps_rollup (PSS from smaps), VmallocUsed 0 and no Percpu left in unaccounted, reconciliation of the split n/a', async () => {
  const s = await snapshotOf('4.9');
  assertExactLedger(s);
  assert.equal(s.availableEstimate, undefined, 'MemAvailable is printed from 3.14');
  assert.ok(s.used.some((u) => u.key === 'not_available' && u.bytes === (24684084 - 22893116) * KiB));
  assert.deepEqual(keys(s), ['Hugetlb', 'VmallocUsed', 'Percpu', 'smaps_rollup', 'Pss_Anon/Pss_File/Pss_Shmem']);
  assert.equal(kernelChild(s, 'vmalloc'), undefined, 'VmallocUsed 0 is "not counted", not "no vmalloc"');
  assert.deepEqual(
    s.ledger.unavailable.map((g) => [g.key, g.reason]),
    [
      ['vmalloc', 'VmallocUsed reads 0: Linux 4.4 to 5.2 do not count vmalloc-ed pages'],
      ['percpu', 'no Percpu line in /proc/meminfo (Linux 4.16+)'],
    ],
  );
  assert.ok(!s.ledger.notes.some((n) => n.includes('smaller than KernelStack')));
  // 24684084 − (21817616 + 1104672 − 79764 + 22620 + 79764 + 1222308 + 375320 + 4816 + 18920) kB
  assert.equal(s.ledger.unaccountedBytes, 117812 * KiB);
  const byPid = new Map(s.processes.map((p) => [p.pid, p]));
  assert.deepEqual(
    [5050, 5052, 5053].map((pid) => [
      byPid.get(pid)?.pssFrom,
      byPid.get(pid)?.pssBytes,
      byPid.get(pid)?.ussBytes,
      byPid.get(pid)?.swapPssBytes,
    ]),
    [
      ['smaps', 4873 * KiB, 2104 * KiB, 0],
      ['smaps', 6891 * KiB, 4132 * KiB, 0],
      ['smaps', 6891 * KiB, 4132 * KiB, 0],
    ],
  );
  const rows = s.reconciliation?.rows ?? [];
  for (const key of ['anon', 'shmem', 'file_mapped', 'page_cache']) {
    const r = rows.find((x) => x.key === key);
    assert.ok(r);
    assert.equal(r.processBytes, null, `${key}: Σ Pss_* is unknown, not 0`);
    assert.equal(r.unattributedBytes, null);
    assert.match(r.unavailable ?? '', /no smaps_rollup before Linux 4\.14.*3 of 3 processes/);
  }
  const pt = rows.find((x) => x.key === 'page_tables');
  assert.ok(pt?.processBytes !== null && pt?.unavailable === undefined, 'VmPTE comes from status on every kernel');
});

test('Linux 4.14 and 4.19: smaps_rollup without Pss_Anon/File/Shmem; 4.19 has Percpu and Hugetlb', async () => {
  const s414 = await snapshotOf('4.14');
  assertExactLedger(s414);
  assert.deepEqual(keys(s414), ['Hugetlb', 'VmallocUsed', 'Percpu', 'Pss_Anon/Pss_File/Pss_Shmem']);
  const p = s414.processes.find((x) => x.pid === 5052);
  assert.equal(p?.pssFrom, 'smaps_rollup');
  assert.equal(p.pssBytes, 6897 * KiB);
  assert.equal(p.pssAnonBytes, null);
  assert.match(
    s414.fallbacks.at(-1)?.reason ?? '',
    /^smaps_rollup has no Pss_Anon\/Pss_File\/Pss_Shmem before Linux 5\.3/,
  );
  const s419 = await snapshotOf('4.19');
  assertExactLedger(s419);
  assert.deepEqual(keys(s419), ['VmallocUsed', 'Pss_Anon/Pss_File/Pss_Shmem']);
  assert.equal(kernelChild(s419, 'percpu')?.bytes, 752 * KiB);
  assert.equal(s419.ledger.unaccountedBytes, (117812 - 752) * KiB);
});

test('Linux 5.4: nothing is missing that memlens needs; the 6.18 trees give no fallbacks either', async () => {
  const s = await snapshotOf('5.4');
  assertExactLedger(s);
  assert.deepEqual(s.fallbacks, []);
  // VmallocUsed counts again from 5.3: 17624 − KernelStack 4816 (stacks assumed vmalloc-ed).
  assert.equal(kernelChild(s, 'vmalloc')?.bytes, (17624 - 4816) * KiB);
  assert.equal(s.ledger.unaccountedBytes, (117060 - 12808) * KiB);
  const p = s.processes.find((x) => x.pid === 5052);
  assert.equal(p?.pssAnonBytes, 4155 * KiB);
  assert.ok(s.reconciliation?.rows.every((r) => r.processBytes !== null && r.unavailable === undefined));
  for (const dir of [vmDir, join(procFixtures, 'vm-6.1-qemu')]) {
    const cur = await collectSnapshot(openLiveProcSource(dir));
    assert.deepEqual(cur.fallbacks, [], dir);
    assert.deepEqual(cur.ledger.unavailable, [], dir);
  }
});

test('the reasons are on the wire and in the text output', async () => {
  const s = await snapshotOf('4.9');
  const json = snapshotJson(s, s.processes);
  assert.deepEqual(
    json.fallbacks.map((f) => f.key),
    keys(s),
  );
  assert.deepEqual(json.ledger.unavailable, s.ledger.unavailable);
  const anon = json.reconciliation?.rows.find((r) => r.key === 'anon');
  assert.equal(anon?.processes, null);
  assert.equal(anon.unattributed, null);
  assert.match(anon.unavailable ?? '', /smaps has no Pss_Anon/);
  assert.ok(json.processes.every((p) => p.pssAnon === null && p.pss !== null));
  const text = renderSnapshot(s, { processes: s.processes, totalRows: s.processes.length, sort: 'pss' }, false, plain);
  assert.match(text, /Older kernel: what it does not print, and what is shown instead/);
  assert.match(
    text,
    /smaps_rollup: \/proc\/PID\/smaps_rollup is missing for 3 processes \(Linux 4\.14\+\); instead: PSS, USS, SwapPss and Rss summed/,
  );
  assert.match(text, /VmallocUsed: VmallocUsed reads 0/);
  assert.match(
    text,
    /\(anonymous, shared memory, mapped file pages, page cache: processes n\/a: PSS was summed from smaps/,
  );
  assert.ok(!/anonymous +[\d.]+ \S+ +AnonPages +0 B/.test(text), 'no 0 where the split is unknown');
});
