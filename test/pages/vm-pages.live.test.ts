// `memlens pages` on another kernel, booted under qemu with `cma=32M` on its command line (the
// kernel of test/dirty/vm.ts, Debian's 6.1). When the guest kernel has CONFIG_CMA, the CMA area
// must show as 32 MiB total in meminfo, in the zones and as 16 page blocks of 2 MiB of migrate type
// CMA; Debian's amd64 kernels are built without CONFIG_CMA, and then memlens must say there is no
// CMA. Either way the frame walk must cover the guest's whole frame range, every frame once.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import type { PagesJson } from '../../src/wire/pages.js';
import { findSoftDirtyKernel, runInVm, vmResults, type VmRun } from '../dirty/vm.js';
import { artifactsDir, repoRoot } from '../helpers/paths.js';

let run: VmRun;
let results: Map<string, unknown>;
let kernelHasCma = false;
const GUEST_MIB = 512;

before(async () => {
  const kernel = findSoftDirtyKernel();
  assert.ok(kernel, 'no guest kernel under /boot: run .ci/setup-system (it installs linux-image-amd64)');
  kernelHasCma = /^CONFIG_CMA=y$/m.test(readFileSync(`/boot/config-${kernel.version}`, 'utf8'));
  run = await runInVm(kernel, [process.execPath, join(repoRoot, 'dist', 'test', 'pages', 'vm-guest.js')], {
    visible: [repoRoot, dirname(process.execPath)],
    memoryMiB: GUEST_MIB,
    kernelArgs: ['cma=32M'],
  });
  results = vmResults(run);
  mkdirSync(artifactsDir, { recursive: true });
  writeFileSync(join(artifactsDir, 'pages-vm-console.txt'), run.console);
  assert.equal(results.get('done'), true, `the guest did not finish; console:\n${run.console.slice(-6000)}`);
});

interface Result<T> {
  code: number;
  stderr: string;
  doc: T;
}

test('memlens pages in a qemu guest booted with cma=32M', (t) => {
  assert.equal(results.get('error'), undefined, String(results.get('error')));
  assert.match(String(results.get('cmdline')), /\bcma=32M\b/);
  const r = results.get('json') as Result<PagesJson> | undefined;
  assert.ok(r, 'no json result');
  assert.equal(r.code, 0, r.stderr);
  const doc = r.doc;
  t.diagnostic(`guest kernel ${String(results.get('release'))}, CONFIG_CMA ${kernelHasCma ? 'y' : 'not set'}`);
  assert.equal(doc.frames.read, true, doc.frames.unavailable ?? '');
  const total = doc.kinds.reduce((s, k) => s + k.pages, 0);
  assert.equal(total, doc.frames.framesRead);
  assert.equal(doc.frames.framesRead, doc.frames.endPfn - doc.frames.startPfn);
  // The guest's RAM is 512 MiB: frames that are not holes come to about that (minus firmware areas).
  const ram = total - (doc.kinds.find((k) => k.key === 'hole')?.pages ?? 0);
  const ramMib = (ram * doc.pageSizeBytes) / 2 ** 20;
  t.diagnostic(`frames in System RAM: ${ramMib.toFixed(1)} MiB of ${GUEST_MIB} MiB`);
  assert.ok(ramMib > GUEST_MIB * 0.95 && ramMib <= GUEST_MIB, `${ramMib} MiB`);
  // The guest is quiet: free frames and MemFree agree within the per-CPU lists and 4 MiB.
  const free = doc.reconciliation.find((x) => x.key === 'free');
  const freeDiff = free?.differenceBytes;
  assert.ok(typeof freeDiff === 'number', JSON.stringify(free));
  t.diagnostic(`free: frames − MemFree = ${(freeDiff / 2 ** 20).toFixed(2)} MiB`);
  assert.ok(Math.abs(freeDiff) <= 8 * 2 ** 20, JSON.stringify(free));
  assert.equal(doc.map?.cells.length, 64);
  if (kernelHasCma) {
    assert.ok(doc.cma, 'a CONFIG_CMA kernel prints CmaTotal');
    assert.equal(doc.cma.totalBytes, 32 * 2 ** 20);
    assert.ok(doc.cma.freeBytes <= doc.cma.totalBytes);
    assert.equal(doc.cma.zones.reduce((s, z) => s + (z.cmaPages ?? 0), 0) * doc.pageSizeBytes, 32 * 2 ** 20);
    assert.equal(doc.cma.pageblocks, (32 * 2 ** 20) / (doc.pageSizeBytes * 512));
  } else {
    t.diagnostic(
      'the guest kernel has no CONFIG_CMA: cma=32M has no effect there, and memlens must say there is no CMA',
    );
    assert.equal(doc.cma, null);
    const text = results.get('text') as { code: number; stdout: string } | undefined;
    assert.ok(text, 'no text result');
    assert.equal(text.code, 0);
    assert.match(text.stdout, /CMA: this kernel has none/);
  }
});
