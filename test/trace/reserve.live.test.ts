// Reserved and requested bytes on the real kernel, with the tracefs and the bpftrace backends:
// test/workloads/reserve-known.c reserves 64 GiB with PROT_NONE, makes 8 MiB of it read-write with
// mprotect and writes to it, then gives 2 MiB back to PROT_NONE. The workload runs (paused) before
// tracing starts, so its model is seeded from /proc/PID/maps; the figures must then follow its
// three calls to the byte, and agree with its maps and VmSize afterwards.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MemEventJson } from '../../src/wire/events.js';
import { repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { ended, startTrace, startWorkload } from './trace-process.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const MAP_PRIVATE_ANON_NORESERVE = 0x02 | 0x20 | 0x4000;

interface SummaryRow {
  pid: number;
  calls: number;
  failedCalls: number;
  reservedBytes: number;
  requestedBytes: number;
  requestedPercent: number;
  mappedNowBytes: number | null;
  modelComplete: boolean;
}

function build(): string {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-reserve-'));
  const binary = join(dir, 'reserve-known');
  const r = spawnSync('gcc', ['-O1', '-Wall', '-o', binary, join(repoRoot, 'test', 'workloads', 'reserve-known.c')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `gcc failed: ${r.stderr}`);
  return binary;
}

/** What /proc says: bytes of PROT_NONE mappings ("---p"/"---s") and VmSize, in bytes. */
function procFigures(pid: number): { reserved: number; vmSize: number } {
  let reserved = 0;
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) ---/.exec(line);
    if (m?.[1] && m[2]) reserved += parseInt(m[2], 16) - parseInt(m[1], 16);
  }
  const vmSizeKib = Number(/^VmSize:\s*(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return { reserved, vmSize: vmSizeKib * 1024 };
}

const binary = build();

for (const backend of ['tracefs', 'bpftrace'] as const) {
  test(`${backend}: 64 GiB reserved, 8 MiB made accessible, 2 MiB back: reserved and requested to the byte`, async () => {
    const w = await startWorkload(binary, 'unused');
    const before = procFigures(w.pid);
    const trace = await startTrace(['--json', '--no-store', '--backend', backend, '--pid', String(w.pid)]);
    const done = await w.go();
    const m = /^done (\d+) ([0-9a-f]+)$/.exec(done);
    assert.ok(m?.[2], `workload said "${done}"`);
    const p = BigInt(`0x${m[2]}`);
    const after = procFigures(w.pid);
    const mine = (): MemEventJson[] =>
      trace
        .stdout()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as MemEventJson)
        .filter((e) => e.pid === w.pid);
    await waitingFor(`the three calls of reserve-known (pid ${w.pid}) in the ${backend} trace`, async () => {
      const deadline = Date.now() + 120_000;
      while (mine().length < 3) {
        assert.ok(
          Date.now() < deadline,
          `after 120 s the ${backend} trace holds ${mine().length} of the workload's 3 calls:\n${trace.stdout()}\n${trace.stderr()}`,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    trace.child.kill('SIGINT');
    const code = await ended(trace, 'after SIGINT');
    await w.finish();
    assert.equal(code, 0, trace.stderr());

    const hex = (v: bigint) => `0x${v.toString(16)}`;
    assert.deepEqual(
      mine().map((e) => [e.call, e.addr, e.length, e.prot, e.flags, e.result, e.error]),
      [
        ['mmap', '0x0', 64 * GIB, 0, MAP_PRIVATE_ANON_NORESERVE, hex(p), null],
        ['mprotect', hex(p + 16n * 1024n * 1024n), 8 * MIB, 3, null, '0x0', null],
        ['mprotect', hex(p + 22n * 1024n * 1024n), 2 * MIB, 0, null, '0x0', null],
      ],
    );

    const summaryLine = trace
      .stderr()
      .split('\n')
      .find((l) => l.startsWith('{"summary"'));
    assert.ok(summaryLine, trace.stderr());
    const summary = (JSON.parse(summaryLine) as { summary: { totalVirtualBytes: number; processes: SummaryRow[] } })
      .summary;
    const row = summary.processes.find((r) => r.pid === w.pid);
    assert.ok(row, summaryLine);
    assert.equal(row.calls, 3);
    assert.equal(row.failedCalls, 0);
    assert.equal(row.modelComplete, true);
    // From the seed and the three calls alone...
    assert.equal(row.reservedBytes, before.reserved + 64 * GIB - 6 * MIB);
    assert.equal(row.requestedBytes, before.vmSize - before.reserved + 6 * MIB);
    // ...and what the kernel says afterwards.
    assert.equal(row.reservedBytes, after.reserved);
    assert.equal(row.requestedBytes, after.vmSize - after.reserved);
    assert.equal(row.mappedNowBytes, after.vmSize);
    // The share of total virtual memory counts the accessible bytes only.
    assert.ok(Math.abs(row.requestedPercent - (row.requestedBytes * 100) / summary.totalVirtualBytes) < 1e-9);
    assert.ok(row.requestedPercent < 100, `${row.requestedPercent} %`);
  });
}
