// Live checks against processes whose memory is known: a parent writes N MiB of shared
// anonymous memory, K children read all of it and each write M MiB of their own.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { collectProcessMappings } from '../../src/analyses/mappings.js';
import { collectProcesses } from '../../src/analyses/processes.js';
import { collectSnapshot } from '../../src/analyses/snapshot.js';
import { parseSmaps, parseSmapsRollup } from '../../src/parsers/proc/smaps.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { startMemload, type Memload } from './workload.js';

const MiB = 1024 * 1024;
const N = 64;
const K = 3;
const M = 16;
const src = openLiveProcSource();
let ml: Memload;

before(async () => {
  ml = await startMemload([String(N), String(K), String(M)]);
});
after(async () => {
  await ml.stop();
});

/** Runs fn with the whole tree stopped, so that smaps and smaps_rollup see one moment. */
async function stopped<T>(fn: () => Promise<T>): Promise<T> {
  const pids = [ml.parent, ...ml.children];
  for (const p of pids) process.kill(p, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    for (const p of pids) process.kill(p, 'SIGCONT');
  }
}

test('the known regions: shared N MiB split K+1 ways, private M MiB per child, to the page', async () => {
  const share = (N * MiB) / (K + 1);
  for (const pid of ml.children) {
    const m = await collectProcessMappings(src, pid);
    assert.ok(m.ok);
    const shared = m.value.groups.find((g) => g.kind === 'shmem' && g.name === 'shared anonymous');
    assert.equal(shared?.rssBytes, N * MiB);
    assert.equal(shared.ussBytes, 0);
    // PSS is accumulated in fixed point and printed in whole kB (fs/proc/task_mmu.c).
    assert.ok(
      share - shared.pssBytes >= 0 && share - shared.pssBytes < 1024,
      `shared PSS ${shared.pssBytes} vs ${share}`,
    );
    const priv = m.value.vmas.filter((v) => v.counters.sizeBytes === M * MiB && v.perms === 'rw-p');
    assert.equal(priv.length, 1, 'one private region of M MiB');
    const c = priv[0]?.counters;
    assert.deepEqual([c?.rssBytes, c?.pssBytes, c?.privateDirtyBytes], [M * MiB, M * MiB, M * MiB]);
  }
  const parent = await collectProcessMappings(src, ml.parent);
  assert.ok(parent.ok);
  const shared = parent.value.groups.find((g) => g.kind === 'shmem' && g.name === 'shared anonymous');
  assert.equal(shared?.rssBytes, N * MiB);
});

test('process figures: RSS, PSS and USS hold the known regions plus the program itself', async () => {
  const share = (N * MiB) / (K + 1);
  const { processes, stats } = await collectProcesses(src, { pids: [ml.parent, ...ml.children] });
  assert.equal(stats.collected, K + 1);
  assert.equal(stats.partlyRead, 0);
  for (const p of processes) {
    const isParent = p.pid === ml.parent;
    assert.equal(p.name, 'memload');
    assert.equal(p.ppid, isParent ? process.pid : ml.parent);
    const own = isParent ? 0 : M * MiB;
    assert.ok(p.rssBytes !== null && p.pssBytes !== null && p.ussBytes !== null);
    // What the program itself adds (libc, stack, its own pages) is small and never negative.
    const rssRest = p.rssBytes - N * MiB - own;
    const pssRest = p.pssBytes - share - own;
    const ussRest = p.ussBytes - own;
    assert.ok(rssRest >= 0 && rssRest < 4 * MiB, `RSS of ${p.pid}: ${p.rssBytes}`);
    assert.ok(pssRest > -1024 && pssRest < 2 * MiB, `PSS of ${p.pid}: ${p.pssBytes}`);
    assert.ok(ussRest >= 0 && ussRest < 2 * MiB, `USS of ${p.pid}: ${p.ussBytes}`);
    assert.equal(p.swapBytes, 0);
  }
  const sumPss = processes.reduce((a, p) => a + (p.pssBytes ?? 0), 0);
  // Σ PSS counts the shared region once: N + K·M plus K+1 small programs.
  assert.ok(
    sumPss >= (N + K * M) * MiB - 4 * 1024 && sumPss < (N + K * M) * MiB + (K + 1) * 2 * MiB,
    `Σ PSS ${sumPss}`,
  );
});

test('PSS of smaps_rollup equals the sum of per-mapping Pss of smaps, live (tree stopped)', async () => {
  await stopped(async () => {
    for (const pid of [ml.parent, ...ml.children]) {
      const [r, s] = await Promise.all([src.readText(`${pid}/smaps_rollup`), src.readText(`${pid}/smaps`)]);
      assert.ok(r.ok && s.ok);
      const rollup = parseSmapsRollup(r.value);
      const vmas = parseSmaps(s.value) ?? [];
      assert.ok(rollup);
      assert.equal(
        vmas.reduce((a, v) => a + v.counters.rssBytes, 0),
        rollup.rssBytes,
      );
      const pss = vmas.reduce((a, v) => a + v.counters.pssBytes, 0);
      assert.ok(
        pss <= rollup.pssBytes && rollup.pssBytes - pss < 1024 * vmas.length,
        `${pid}: rollup ${rollup.pssBytes}, Σ smaps ${pss}`,
      );
      const uss = vmas.reduce((a, v) => a + v.counters.privateCleanBytes + v.counters.privateDirtyBytes, 0);
      assert.equal(uss, rollup.privateCleanBytes + rollup.privateDirtyBytes);
    }
  });
});

test('the live snapshot: ledger exact, kernel threads out, memload in, reconciliation attributes its memory', async () => {
  const s = await collectSnapshot(src);
  assert.equal(
    s.ledger.items.reduce((a, i) => a + i.bytes, 0),
    s.ledger.totalBytes,
  );
  assert.ok(s.stats.kernelThreadsSkipped > 0);
  assert.ok(!s.processes.some((p) => p.pid === 2 || p.kernelThread));
  for (const pid of [ml.parent, ...ml.children]) assert.ok(s.processes.some((p) => p.pid === pid));
  const shmem = s.reconciliation?.rows.find((r) => r.key === 'shmem');
  assert.ok(
    shmem && shmem.processBytes !== null && shmem.processBytes >= N * MiB - 4096,
    'the shared region is attributed to processes',
  );
  const anon = s.reconciliation?.rows.find((r) => r.key === 'anon');
  assert.ok(anon && anon.processBytes !== null && anon.processBytes >= K * M * MiB);
});
