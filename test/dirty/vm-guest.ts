// The program the soft-dirty virtual machine runs (see vm.ts and vm-softdirty.test.ts): several
// checks in one boot, each printed as `MEMLENS-VM-RESULT <name> <json>` on the serial console for
// the host test to judge. It runs under the guest kernel, with this checkout shared read-only.
import { openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { runCli } from '../helpers/cli.js';
import { SoftDirtyMeter } from '../../src/analyses/dirty/meters.js';
import { hexAddress } from '../../src/wire/dirty.js';
import { startWorkload } from './workload.js';

function report(name: string, value: unknown): void {
  process.stdout.write(`MEMLENS-VM-RESULT ${name} ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? hexAddress(v) : v))}\n`);
}

async function check(name: string, body: () => Promise<unknown>): Promise<void> {
  try {
    report(name, await body());
  } catch (e) {
    report(name, { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
}

function parseJson(stdout: string): unknown {
  return stdout.trim() === '' ? null : (JSON.parse(stdout) as unknown);
}

report('release', release());

// Never cleared: the whole area the workload touched at start is soft-dirty.
await check('untouched', async () => {
  const w = await startWorkload(['64', 'once']);
  try {
    const r = await runCli(['dirty', String(w.pid), '--json']);
    return { address: w.address, pages: w.pages, code: r.code, stderr: r.stderr, doc: parseJson(r.stdout) };
  } finally {
    await w.stop();
  }
});

// After a clear, exactly the pages written: 50 single pages 10, 17, …, 353 and the run 1500..1529.
await check('exact', async () => {
  const w = await startWorkload(['2000', 'once']);
  try {
    writeFileSync(`/proc/${w.pid}/clear_refs`, '4');
    await w.command('w 10 50 7');
    await w.command('w 1500 30 1');
    const r = await runCli(['dirty', String(w.pid), '--json']);
    const human = await runCli(['dirty', String(w.pid)]);
    // The raw pagemap entries of the area, kept as a fixture of a soft-dirty kernel.
    const fd = openSync(`/proc/${w.pid}/pagemap`, 'r');
    const raw = Buffer.alloc(w.pages * 8);
    readSync(fd, raw, 0, raw.length, Number((w.address / BigInt(w.pageSize)) * 8n));
    closeSync(fd);
    return { address: w.address, pages: w.pages, pageSize: w.pageSize, code: r.code, stderr: r.stderr, doc: parseJson(r.stdout), human: human.stdout, humanCode: human.code, pagemapBase64: raw.toString('base64') };
  } finally {
    await w.stop();
  }
});

// A round in which the workload writes 10 old pages and maps (and touches) 100 new ones.
await check('new-mapping', async () => {
  const w = await startWorkload(['2000', 'once']);
  const meter = new SoftDirtyMeter(w.pid, w.pageSize);
  try {
    meter.begin();
    await w.command('w 0 10 1');
    const fresh = await w.command('m 100');
    const reading = meter.measure();
    const inOld = reading.dirty?.ranges.filter((x) => x.start >= w.address && x.end <= w.address + BigInt(w.pages * w.pageSize)) ?? [];
    return { address: w.address, fresh: `0x${fresh}`, pages: reading.pages, newMappingPages: reading.newMappingPages, writtenInOld: inOld, newRanges: reading.dirty?.newMappingRanges };
  } finally {
    meter.close();
    await w.stop();
  }
});

// The heap grows during the round: the kernel gives the whole grown [heap] VM_SOFTDIRTY
// (mm/mmap.c do_brk_flags), so its old pages read soft-dirty too; memlens must not call them writes.
await check('heap-grown', async () => {
  const w = await startWorkload(['2000', 'once']);
  const meter = new SoftDirtyMeter(w.pid, w.pageSize);
  try {
    await w.command('b 200');
    meter.begin();
    await w.command('w 0 10 1');
    await w.command('b 50');
    const reading = meter.measure();
    const heap = reading.dirty?.areas.find((a) => a.mapping === '[heap]');
    return {
      pages: reading.pages,
      newMappingPages: reading.newMappingPages,
      heap: heap ? { writtenPages: heap.writtenPages, newMappingPages: heap.newMappingPages, presentPages: heap.presentPages, wholeAreaMarked: heap.wholeAreaMarked } : null,
    };
  } finally {
    meter.close();
    await w.stop();
  }
});

// Transparent huge pages (this kernel's default is "always"): one byte written after a clear
// marks the whole 2 MiB page soft-dirty.
await check('thp', async () => {
  const w = await startWorkload(['16', 'once']);
  try {
    const huge = BigInt(`0x${await w.command('h 1024')}`);
    writeFileSync(`/proc/${w.pid}/clear_refs`, '4');
    await w.command(`x ${(huge + 5n * 4096n + 100n).toString(16)}`);
    const r = await runCli(['dirty', String(w.pid), '--json']);
    return { huge, code: r.code, stderr: r.stderr, doc: parseJson(r.stdout) };
  } finally {
    await w.stop();
  }
});

// A fixed write set: 300 pages (every other page from 0) written every 50 ms.
await check('fixed', async () => {
  const w = await startWorkload(['4000', 'fixed', '0', '300', '2', '50']);
  try {
    const r = await runCli(['dirty', String(w.pid), '--watch', '--until-stable', '--interval', '1s', '--max-rounds', '12', '--json']);
    return { address: w.address, pages: w.pages, pageSize: w.pageSize, code: r.code, stderr: r.stderr, doc: parseJson(r.stdout) };
  } finally {
    await w.stop();
  }
});

// A set that keeps growing: every 100 ms, 40 more pages.
await check('grow', async () => {
  const w = await startWorkload(['16000', 'grow', '40', '100']);
  try {
    const r = await runCli(['dirty', String(w.pid), '--watch', '--until-stable', '--interval', '1s', '--max-rounds', '8', '--json']);
    // By now the set is large and grows by a few per cent per round: each step is within 8 %, the drift is not.
    const drift = await runCli(['dirty', String(w.pid), '--watch', '--until-stable', '--interval', '1s', '--tolerance', '8%', '--max-rounds', '6', '--json']);
    const human = await runCli(['dirty', String(w.pid), '--watch', '--until-stable', '--interval', '1s', '--max-rounds', '4']);
    return { code: r.code, stderr: r.stderr, doc: parseJson(r.stdout), drift: parseJson(drift.stdout), human: human.stdout };
  } finally {
    await w.stop();
  }
});

report('done', true);
