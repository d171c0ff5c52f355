// The archives two emulated boards wrote (fixtures/capture/README.md: Debian's arm64 and armhf
// 6.1 kernels and BusyBox under qemu, test/board/board.ts), read back without qemu: the ledger
// adds up, armhf's high memory is split out and shown, and the workload's address space is
// 32-bit on armhf and 64-bit on arm64. The live tests (board-*.live.test.ts) compare the same
// kind of archive with what the board itself reported.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LedgerItemJson, ProcessMappingsJson, SnapshotJson } from '../../src/wire/snapshot.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { fixturesDir } from '../helpers/paths.js';

const ARCHIVES = {
  arm64: join(fixturesDir, 'capture', 'board-arm64-linux-6.1.0-57-arm64.snap'),
  armhf: join(fixturesDir, 'capture', 'board-armhf-linux-6.1.0-57-armmp.snap'),
};

async function snapshot(path: string): Promise<SnapshotJson> {
  const r = await runCliInProcess(['snapshot', '--json', '--from', path]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as SnapshotJson;
}

function sum(items: readonly LedgerItemJson[]): number {
  return items.reduce((n, i) => n + i.bytes, 0);
}

/** The board's workload: a BusyBox sh holding 4 MiB in a shell variable. */
function workloadPid(s: SnapshotJson): number {
  const p = s.processes.find((q) => q.cmdline?.startsWith('sh -c v=$(head -c 4194304') === true);
  assert.ok(p, 'the workload is in the archive');
  return p.pid;
}

test('armhf board archive: the ledger adds up and high memory is shown, never added', async () => {
  const s = await snapshot(ARCHIVES.armhf);
  assert.equal(sum(s.ledger.items), s.ledger.total);
  const mi = s.meminfo;
  const h = s.ledger.highmem;
  assert.ok(h);
  assert.deepEqual(h, { highTotal: mi.HighTotal, highFree: mi.HighFree, lowTotal: mi.LowTotal, lowFree: mi.LowFree });
  assert.ok(h.highTotal > 0);
  assert.equal(h.highTotal + h.lowTotal, s.ledger.total);
  const free = s.ledger.items.find((i) => i.key === 'free');
  assert.equal(free?.bytes, mi.MemFree);
  assert.equal(
    (free?.details ?? []).reduce((n, d) => n + d.bytes, 0),
    free?.bytes,
    'low + high free = MemFree',
  );
  assert.ok(!s.ledger.items.some((i) => /high/.test(i.key)), 'high memory is not a part of the ledger');
  const text = await runCliInProcess(['snapshot', '--from', ARCHIVES.armhf]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /\(of which high memory[^\n]*HighTotal/);
  assert.match(text.stdout, /\(of which in low memory\)[^\n]*LowFree/);
});

test('armhf board archive: the workload has a 32-bit address space, shown as such', async () => {
  const pid = workloadPid(await snapshot(ARCHIVES.armhf));
  const r = await runCliInProcess(['process', String(pid), '--json', '--vmas', '--from', ARCHIVES.armhf]);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout) as ProcessMappingsJson;
  assert.equal(m.addressBits, 32);
  assert.ok(m.vmas?.some((v) => v.name === '[vectors]' && v.start === '0xffff0000'));
  const text = await runCliInProcess(['process', String(pid), '--from', ARCHIVES.armhf]);
  assert.match(text.stdout, /, 32-bit address space$/m);
  const vmas = await runCliInProcess(['process', String(pid), '--vmas', '--sort', 'name', '--from', ARCHIVES.armhf]);
  assert.match(vmas.stdout, /^0x00010000-0x[0-9a-f]{8} /m, 'addresses padded to 8 hex digits');
});

test('arm64 board archive: no high memory, a 64-bit address space', async () => {
  const s = await snapshot(ARCHIVES.arm64);
  assert.equal(sum(s.ledger.items), s.ledger.total);
  assert.equal(s.ledger.highmem, undefined);
  assert.equal(s.meminfo.HighTotal, undefined);
  const pid = workloadPid(s);
  const r = await runCliInProcess(['process', String(pid), '--json', '--from', ARCHIVES.arm64]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as ProcessMappingsJson).addressBits, 64);
});
