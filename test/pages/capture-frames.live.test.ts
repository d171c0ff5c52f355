// `memlens capture --frames` here (as root), then `memlens pages --from` the archive: the frames
// are classified from the archive's copies of kpageflags and kpagecount exactly as live, over the
// whole frame range, and the ledger comparison comes from the archive's meminfo.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PagesJson } from '../../src/wire/pages.js';
import { runCli } from '../helpers/cli.js';

const MIB = 2 ** 20;
/** Shmem of /proc/meminfo, in bytes. */
const shmemBytes = (): number => Number(/^Shmem:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) * 1024;

test('capture --frames, then pages --from the archive', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('kpageflags needs root');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'memlens-pages-capture-'));
  try {
    const archive = join(dir, 'frames.snap');
    // The archive's frames and its meminfo are read seconds apart: a capture during which the
    // machine's shared memory moved (pages/frames.live.test.ts, run beside this file, maps 128 MiB
    // of memfd and ends) is taken again, so that the comparison below compares one state.
    const moves: string[] = [];
    for (;;) {
      const shmemBefore = shmemBytes();
      const cap = await runCli(['capture', '--no-smaps', '--frames', '-o', archive]);
      assert.equal(cap.code, 0, cap.stderr);
      const moved = shmemBytes() - shmemBefore;
      if (Math.abs(moved) <= 4 * MIB) break;
      moves.push((moved / MIB).toFixed(1));
      assert.ok(
        moves.length < 10,
        `Shmem moved by more than 4 MiB during each of 10 captures: ${moves.join(', ')} MiB`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (moves.length > 0) t.diagnostic(`captured again: Shmem moved by ${moves.join(', ')} MiB during a capture`);
    const r = await runCli(['pages', '--json', '--from', archive]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as PagesJson;
    assert.equal(doc.frames.read, true, doc.frames.unavailable ?? '');
    assert.match(doc.source, /archive/);
    assert.equal(doc.frames.framesRead, doc.frames.endPfn - doc.frames.startPfn);
    assert.equal(
      doc.kinds.reduce((s, k) => s + k.pages, 0),
      doc.frames.framesRead,
    );
    assert.ok(doc.buddy && doc.buddy.zones.length > 0, 'buddyinfo is in the archive');
    assert.ok(doc.frames.ramRanges && doc.frames.ramRanges.length > 0, 'iomem is in the archive');
    // Shared memory is the steadiest part: the archive's frames and its meminfo agree closely.
    const shm = doc.reconciliation.find((x) => x.key === 'shmem');
    t.diagnostic(`shmem: frames − ledger = ${String(shm?.differenceBytes)} bytes`);
    const ledger = shm?.ledgerBytes;
    const diff = shm?.differenceBytes;
    assert.ok(typeof ledger === 'number' && typeof diff === 'number', JSON.stringify(shm));
    assert.ok(Math.abs(diff) <= Math.max(16 * MIB, 0.05 * ledger), JSON.stringify(shm));
    // Without --frames: the tables only, and the reason.
    const plain = join(dir, 'plain.snap');
    assert.equal((await runCli(['capture', '--no-smaps', '-o', plain])).code, 0);
    const p = await runCli(['pages', '--json', '--from', plain]);
    assert.equal(p.code, 0, p.stderr);
    const pd = JSON.parse(p.stdout) as PagesJson;
    assert.equal(pd.frames.read, false);
    assert.match(pd.frames.unavailable ?? '', /kpageflags is missing/);
    assert.match(p.stderr, /frames not read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
