// `memlens capture --frames` here (as root), then `memlens pages --from` the archive: the frames
// are classified from the archive's copies of kpageflags and kpagecount exactly as live, over the
// whole frame range, and the ledger comparison comes from the archive's meminfo.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PagesJson } from '../../src/wire/pages.js';
import { runCli } from '../helpers/cli.js';

test('capture --frames, then pages --from the archive', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('kpageflags needs root');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'memlens-pages-capture-'));
  try {
    const archive = join(dir, 'frames.snap');
    const cap = await runCli(['capture', '--no-smaps', '--frames', '-o', archive]);
    assert.equal(cap.code, 0, cap.stderr);
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
    assert.ok(Math.abs(diff) <= Math.max(16 * 2 ** 20, 0.05 * ledger), JSON.stringify(shm));
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
