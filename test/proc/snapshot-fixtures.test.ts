import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyMapping, collectProcessMappings, groupMappings } from '../../src/analyses/mappings.js';
import { groupProcesses } from '../../src/analyses/process-groups.js';
import { collectSnapshot } from '../../src/analyses/snapshot.js';
import { readProcessIdentity } from '../../src/analyses/process-identity.js';
import { parseSmaps, parseSmapsRollup } from '../../src/parsers/proc/smaps.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { KERNEL_THREADS, MEMLOAD_CHILDREN, MEMLOAD_PARENT, STOPPED_PIDS, readFixture, vmDir } from './fixtures.js';
import { join } from 'node:path';
import { procFixtures } from './fixtures.js';

const MiB = 1024 * 1024;

test('snapshot of the captured 6.18 tree: kernel threads left out, weird names intact, ledger exact', async () => {
  const s = await collectSnapshot(openLiveProcSource(vmDir));
  const pids = s.processes.map((p) => p.pid);
  for (const k of KERNEL_THREADS) assert.ok(!pids.includes(k), `kernel thread ${k} left out`);
  assert.equal(s.stats.kernelThreadsSkipped, KERNEL_THREADS.length);
  assert.equal(s.stats.vanished, 0);
  assert.equal(
    s.ledger.items.reduce((a, i) => a + i.bytes, 0),
    s.ledger.totalBytes,
  );
  assert.equal(s.ledger.vmapStack.source, 'kernel config');
  assert.ok(s.slabinfoRead);
  const child = s.processes.find((p) => p.pid === MEMLOAD_CHILDREN[0]);
  assert.equal(child?.name, 'x) (y z\n\ufffd');
  assert.equal(child.ppid, MEMLOAD_PARENT);
  assert.equal(child.program, 'memload', 'argv[0] basename when exe is not captured');
  assert.deepEqual(child.unread, []);
  // The children each wrote 4 MiB of their own and read 8 MiB shared by three processes.
  assert.ok(child.ussBytes !== null && child.ussBytes >= 4 * MiB);
  const withAll = await collectSnapshot(openLiveProcSource(vmDir), { includeKernelThreads: true });
  const kt = withAll.processes.find((p) => p.pid === 2);
  assert.equal(kt?.kernelThread, true);
  assert.equal(kt.pssBytes, 0, 'a kernel thread has no address space: 0, not unknown');
});

test('snapshot of the 6.1 tree (no Kthread line, no config.gz): PF_KTHREAD from stat, VMAP_STACK assumed', async () => {
  const s = await collectSnapshot(openLiveProcSource(join(procFixtures, 'vm-6.1-qemu')));
  assert.deepEqual(
    s.processes.map((p) => p.pid),
    [1, 88],
  );
  assert.equal(s.stats.kernelThreadsSkipped, 1);
  assert.equal(s.ledger.vmapStack.source, 'assumed');
  assert.equal(
    s.ledger.items.reduce((a, i) => a + i.bytes, 0),
    s.ledger.totalBytes,
  );
  // The capturing init moved itself into /work before starting the sleep.
  assert.deepEqual(
    s.processes.map((p) => p.cgroup),
    ['/work', '/work'],
  );
  const id = await readProcessIdentity(openLiveProcSource(join(procFixtures, 'vm-6.1-qemu')), 2);
  assert.deepEqual(id, { pid: 2, tgid: 2, ppid: 0, name: 'kthreadd', uid: 0, kernelThread: true });
});

test('PSS of smaps_rollup equals the sum of per-mapping Pss of smaps (stopped processes, captured)', async () => {
  const src = openLiveProcSource(vmDir);
  for (const pid of STOPPED_PIDS) {
    const rollup = parseSmapsRollup(readFixture('vm-6.18', String(pid), 'smaps_rollup'));
    const vmas = parseSmaps(readFixture('vm-6.18', String(pid), 'smaps')) ?? [];
    assert.ok(rollup && vmas.length > 0);
    const rss = vmas.reduce((a, v) => a + v.counters.rssBytes, 0);
    const pss = vmas.reduce((a, v) => a + v.counters.pssBytes, 0);
    assert.equal(rss, rollup.rssBytes, `Rss of ${pid}`);
    // Each smaps line truncates PSS to whole kB once; the rollup truncates once in total.
    assert.ok(
      pss <= rollup.pssBytes && rollup.pssBytes - pss < 1024 * vmas.length,
      `Pss of ${pid}: rollup ${rollup.pssBytes}, Σ ${pss}`,
    );
    const m = await collectProcessMappings(src, pid);
    assert.ok(m.ok);
    assert.equal(m.value.total.pssBytes, pss, 'the mapping view sums the same lines');
    assert.equal(
      m.value.groups.reduce((a, g) => a + g.pssBytes, 0),
      pss,
      'mapping groups split the process exactly',
    );
  }
});

test('mapping groups of the memload parent: shared anonymous, memfd, SysV, heap, stack, files, vdso', async () => {
  const m = await collectProcessMappings(openLiveProcSource(vmDir), MEMLOAD_PARENT);
  assert.ok(m.ok);
  const g = (kind: string, name: string) => m.value.groups.find((x) => x.kind === kind && x.name === name);
  assert.equal(g('shmem', 'shared anonymous')?.rssBytes, 8 * MiB);
  // 8 MiB mapped by the parent and two children: a third each, truncated to whole kB.
  assert.equal(Math.floor((g('shmem', 'shared anonymous')?.pssBytes ?? 0) / 1024), Math.floor((8 * 1024) / 3));
  assert.equal(g('memfd', 'memlens-memfd')?.rssBytes, MiB);
  assert.equal(g('memfd', 'memlens-memfd')?.ussBytes, MiB);
  assert.equal(g('sysv', 'SYSV00000000')?.rssBytes, MiB);
  assert.ok(g('kernel', '[vdso]'));
  assert.ok(m.value.groups.some((x) => x.kind === 'file' && x.name.endsWith('/memload')));
  assert.ok(m.value.kinds.some((k) => k.kind === 'stack'));
  const child = await collectProcessMappings(openLiveProcSource(vmDir), MEMLOAD_CHILDREN[0] ?? 0);
  assert.ok(child.ok);
  const anon = child.value.kinds.find((x) => x.kind === 'anon');
  assert.ok(anon && anon.ussBytes >= 4 * MiB && anon.ussBytes < 5 * MiB, "the child's own 4 MiB");
  const named = groupMappings(parseSmaps(readFixture('edge', 'smaps-anon-names')) ?? []).groups;
  assert.deepEqual(
    named.map((x) => [x.kind, x.name, x.pssBytes]),
    [
      ['anon-named', 'memlens-private', 4 * MiB],
      ['shmem', 'ring', named[1]?.pssBytes],
    ],
  );
  assert.deepEqual(await collectProcessMappings(openLiveProcSource(vmDir), 2), { ok: false, reason: 'kernel-thread' });
  assert.deepEqual(await collectProcessMappings(openLiveProcSource(vmDir), 999999), { ok: false, reason: 'missing' });
});

test('classifyMapping: the names the kernel prints', () => {
  const c = (name: string, perms = 'rw-p') => classifyMapping({ name, perms });
  assert.deepEqual(c(''), { kind: 'anon', name: '' });
  assert.deepEqual(c('', 'rw-s'), { kind: 'shmem', name: 'shared anonymous' });
  assert.deepEqual(c('[heap]'), { kind: 'heap', name: '' });
  assert.deepEqual(c('[stack:1234]'), { kind: 'stack', name: '' });
  assert.deepEqual(c('[anon:jemalloc]'), { kind: 'anon-named', name: 'jemalloc' });
  assert.deepEqual(c('[anon_shmem:ring]', 'rw-s'), { kind: 'shmem', name: 'ring' });
  assert.deepEqual(c('/dev/zero (deleted)', 'rw-p'), { kind: 'anon', name: '' });
  assert.deepEqual(c('/memfd:wayland (deleted)', 'rw-s'), { kind: 'memfd', name: 'wayland' });
  assert.deepEqual(c('/SYSV0000abcd (deleted)', 'rw-s'), { kind: 'sysv', name: 'SYSV0000abcd' });
  assert.deepEqual(c('/dev/shm/pulse-shm-1', 'rw-s'), { kind: 'shmem', name: '/dev/shm/pulse-shm-1' });
  assert.deepEqual(c('[vsyscall]', '--xp'), { kind: 'kernel', name: '[vsyscall]' });
  assert.deepEqual(c('/usr/lib/libc.so.6 (deleted)', 'r-xp'), { kind: 'file', name: '/usr/lib/libc.so.6 (deleted)' });
});

test('groups sum PSS: by program the memload tree is one group whose PSS is the sum of its members', async () => {
  const s = await collectSnapshot(openLiveProcSource(vmDir));
  const groups = groupProcesses(s.processes, 'program');
  const ml = groups.find((g) => g.key === 'memload');
  assert.ok(ml);
  assert.deepEqual(
    ml.pids.sort((a, b) => a - b),
    [MEMLOAD_PARENT, ...MEMLOAD_CHILDREN],
  );
  const members = s.processes.filter((p) => ml.pids.includes(p.pid));
  assert.equal(
    ml.pssBytes,
    members.reduce((a, p) => a + (p.pssBytes ?? 0), 0),
  );
  // The 8 MiB shared region is counted once by Σ PSS, three times by Σ RSS.
  assert.ok((ml.rssBytes ?? 0) - ml.pssBytes > 2 * 8 * MiB - MiB);
  const byUser = groupProcesses(s.processes, 'user');
  assert.equal(
    byUser.reduce((a, g) => a + g.pids.length, 0),
    s.processes.length,
  );
  const byCgroup = groupProcesses(s.processes, 'cgroup');
  assert.ok(byCgroup.every((g) => g.key.startsWith('/')));
});
