import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { collectSnapshot } from '../../src/analyses/snapshot.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { vmDir } from './fixtures.js';

test('the live source: missing files and pids read as "missing", the page size comes from auxv', async () => {
  const src = openLiveProcSource();
  assert.deepEqual(await src.readText('999999999/status'), { ok: false, reason: 'missing' });
  assert.deepEqual(await src.readText('no-such-file'), { ok: false, reason: 'missing' });
  assert.deepEqual(await src.readLink('999999999/exe'), { ok: false, reason: 'missing' });
  const self = await src.readLink('self/exe');
  assert.ok(self.ok && self.value === process.execPath);
  assert.equal(await src.pageSize(), 4096);
  const pids = await src.listPids();
  assert.ok(pids.includes(process.pid) && pids.includes(1));
  assert.deepEqual(
    pids,
    [...pids].sort((a, b) => a - b),
  );
  assert.equal((await src.userNames()).get(0), 'root');
});

test('sync and thread-pool reads give the same snapshot of a captured tree', async () => {
  const a = await collectSnapshot(openLiveProcSource(vmDir, { io: 'sync' }));
  const b = await collectSnapshot(openLiveProcSource(vmDir, { io: 'async', maxInFlight: 3 }));
  assert.deepEqual(a.processes, b.processes);
  assert.deepEqual(a.ledger, b.ledger);
  assert.deepEqual(a.stats, b.stats);
});

test('processes that come and go while being read are skipped and counted, never an error', async () => {
  // A shell that keeps starting short-lived processes during the snapshots.
  const churn = spawn('sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' });
  try {
    for (const io of ['sync', 'async'] as const) {
      for (let i = 0; i < 3; i++) {
        const s = await collectSnapshot(openLiveProcSource('/proc', { io }));
        const st = s.stats;
        assert.equal(st.collected + st.vanished + st.kernelThreadsSkipped, st.listed);
        assert.equal(s.processes.length, st.collected);
        assert.ok(s.processes.every((p) => p.pssBytes === null || p.pssBytes >= 0));
      }
    }
  } finally {
    churn.kill('SIGKILL');
  }
});
