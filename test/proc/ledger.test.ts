import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { buildLedger, vmapStackFromConfig, type LedgerItem } from '../../src/analyses/ledger.js';
import { usedDefinitions } from '../../src/analyses/used-memory.js';
import { meminfoBytes, parseMeminfo, type Meminfo } from '../../src/parsers/proc/meminfo.js';
import { parseSlabinfo } from '../../src/parsers/proc/slabinfo.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { fixtureFiles, readFixture, readFixtureBytes } from './fixtures.js';

const sum = (items: readonly LedgerItem[]): number => items.reduce((a, i) => a + i.bytes, 0);

/** Every parent equals the sum of its children, at every level. */
function checkTree(items: readonly LedgerItem[]): void {
  for (const i of items) {
    assert.ok(Number.isInteger(i.bytes), `${i.key} is whole bytes`);
    assert.ok(i.counters.length > 0, `${i.key} names its counters`);
    if (i.items) {
      assert.equal(sum(i.items), i.bytes, `children of ${i.key} add up`);
      checkTree(i.items);
    }
  }
}

function checkLedger(mi: Meminfo, what: string): void {
  const l = buildLedger(mi);
  assert.equal(sum(l.items), meminfoBytes(mi, 'MemTotal'), `${what}: the top level adds up to MemTotal exactly`);
  assert.equal(l.totalBytes, meminfoBytes(mi, 'MemTotal'));
  const un = l.items.filter((i) => i.key === 'unaccounted');
  assert.equal(un.length, 1, 'exactly one unaccounted item');
  assert.equal(un[0]?.bytes, l.unaccountedBytes);
  assert.equal(l.items[l.items.length - 1]?.key, 'unaccounted');
  assert.equal(l.inconsistent, l.unaccountedBytes < 0);
  const keys = l.items.map((i) => i.key);
  assert.equal(new Set(keys).size, keys.length, 'keys are unique');
  checkTree(l.items);
}

test('the ledger adds up to MemTotal exactly on every meminfo fixture', () => {
  const files = fixtureFiles('meminfo');
  assert.ok(files.length >= 4);
  for (const f of files) {
    const mi = parseMeminfo(readFileSync(f, 'utf8'));
    assert.ok(mi, f);
    checkLedger(mi, f);
  }
});

test('the ledger adds up on this machine, live', async () => {
  const src = openLiveProcSource();
  const r = await src.readText('meminfo');
  assert.ok(r.ok);
  const mi = parseMeminfo(r.value);
  assert.ok(mi);
  checkLedger(mi, 'live');
});

test('a negative remainder is kept and flagged as a counter inconsistency', () => {
  const mi = parseMeminfo(readFixture('edge', 'meminfo-negative-remainder'));
  assert.ok(mi);
  const l = buildLedger(mi);
  // 600000 free + 280000 cache + 10000 buffers + 20000 shmem + 150000 anon + 30000 slab
  // + 2000 stacks + 3000 page tables + (5000 − 2000) vmalloc = 1098000 kB > 1000000 kB
  assert.equal(l.unaccountedBytes, -98000 * 1024);
  assert.equal(l.inconsistent, true);
  assert.ok(l.notes.some((n) => n.includes('inconsistency')));
  assert.equal(sum(l.items), 1000000 * 1024);
});

test('ledger parts come from the documented counters (6.18 fixture, by hand)', () => {
  const mi = parseMeminfo(readFixture('vm-6.18', 'meminfo'));
  assert.ok(mi);
  const kb = (k: string): number => meminfoBytes(mi, k);
  const slab = parseSlabinfo(readFixture('vm-6.18', 'slabinfo'));
  const vmap = vmapStackFromConfig(gunzipSync(readFixtureBytes('vm-6.18', 'config.gz')).toString('latin1'));
  assert.equal(vmap, true, 'this kernel has CONFIG_VMAP_STACK=y');
  const l = buildLedger(mi, { ...(slab ? { slabCaches: slab } : {}), vmapStack: vmap });
  const item = (k: string): LedgerItem | undefined => l.items.find((i) => i.key === k);
  const kernel = item('kernel');
  const child = (k: string): LedgerItem | undefined => kernel?.items?.find((i) => i.key === k);
  assert.equal(item('page_cache')?.bytes, kb('Cached') - kb('Shmem'));
  assert.equal(item('shmem')?.bytes, kb('Shmem'));
  assert.equal(item('anon')?.bytes, kb('AnonPages'));
  assert.equal(child('slab')?.bytes, kb('Slab'), 'SReclaimable + SUnreclaim = Slab');
  assert.equal(child('vmalloc')?.bytes, kb('VmallocUsed') - kb('KernelStack'));
  assert.equal(l.vmapStack.source, 'kernel config');
  const mappedItems = item('page_cache')?.items ?? [];
  assert.equal(mappedItems[0]?.bytes, Math.min(kb('Mapped'), kb('Cached') - kb('Shmem')));
  assert.ok((child('slab')?.details?.length ?? 0) > 0, 'largest slab caches listed');
  assert.ok(l.unaccountedBytes >= 0);
});

test('without the kernel config: old kernels with VmallocUsed 0 keep stacks apart; hugetlb from HugePages_Total', () => {
  const mi = parseMeminfo(readFixture('edge', 'meminfo-old-kernel'));
  assert.ok(mi);
  const l = buildLedger(mi);
  assert.deepEqual(l.vmapStack, { value: false, source: 'assumed' });
  assert.equal(l.items.find((i) => i.key === 'hugetlb')?.bytes, 16 * 2048 * 1024);
  assert.equal(l.unaccountedBytes, (2048000 - 1842768) * 1024);
  assert.equal(vmapStackFromConfig('CONFIG_X=y\n# CONFIG_VMAP_STACK is not set\n'), false);
  assert.equal(vmapStackFromConfig('not a config'), undefined);
});

test('"used" definitions follow their formulas', () => {
  const mi = parseMeminfo(readFixture('vm-6.18', 'meminfo'));
  assert.ok(mi);
  const kb = (k: string): number => meminfoBytes(mi, k);
  const u = Object.fromEntries(usedDefinitions(mi).map((d) => [d.key, d.bytes]));
  assert.equal(u.not_available, kb('MemTotal') - kb('MemAvailable'));
  assert.equal(u.htop, kb('MemTotal') - kb('MemFree') - kb('Buffers') - kb('Cached') - kb('SReclaimable'));
  assert.equal(u.not_free, kb('MemTotal') - kb('MemFree'));
  const old = parseMeminfo(readFixture('edge', 'meminfo-old-kernel'));
  assert.ok(old);
  assert.ok(!usedDefinitions(old).some((d) => d.key === 'not_available'), 'no MemAvailable before 3.14');
});
