// What test/workloads/mmap-known.c does, call by call, and the checks every trace of it must pass
// (from the captured fixture through the assembler, or live through `memlens trace`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MemEventJson } from '../../src/wire/events.js';
import { repoRoot } from '../helpers/paths.js';

export interface WorkloadIds {
  pid: number;
  workerTid: number;
  childPid: number;
  brk0: bigint;
}

/** Compiles the workload into a temporary directory; returns the binary and the exec link (comm "mlexec"). */
export function buildWorkload(): { binary: string; execLink: string } {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-workload-'));
  const binary = join(dir, 'mmap-known');
  const r = spawnSync(
    'gcc',
    ['-O1', '-Wall', '-pthread', '-o', binary, join(repoRoot, 'test', 'workloads', 'mmap-known.c')],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `gcc failed: ${r.stderr}`);
  const execLink = join(dir, 'mlexec');
  symlinkSync(binary, execLink);
  return { binary, execLink };
}

export function parseDone(line: string): WorkloadIds {
  const m = /^done (\d+) (\d+) (\d+) (\d+)/.exec(line);
  assert.ok(m?.[1] && m[2] && m[3] && m[4], `workload said "${line}"`);
  return { pid: Number(m[1]), workerTid: Number(m[2]), childPid: Number(m[3]), brk0: BigInt(m[4]) };
}

type Row = [call: string, length: number, ok: boolean | string];
const row = (e: MemEventJson): Row => [e.call, e.call === 'brk' ? 0 : e.length, e.error ?? true];

/** Checks the events of the workload and its child, given all traced events (any order within a thread is kept). */
export function checkWorkloadEvents(all: MemEventJson[], ids: WorkloadIds): void {
  const main = all.filter((e) => e.tid === ids.pid);
  const worker = all.filter((e) => e.tid === ids.workerTid);
  const child = all.filter((e) => e.pid === ids.childPid);
  assert.ok(
    main.every((e) => e.pid === ids.pid && e.name === 'mmap-known' && e.thread === 'mmap-known'),
    'main thread: pid and names',
  );
  assert.ok(
    worker.every((e) => e.pid === ids.pid && e.name === 'mmap-known' && e.thread === 'mlworker'),
    'worker: process name vs thread name',
  );

  const known = new Set([0x5000, 0x7000, 0x9000, 0x3000, 0xb000, 0x1000]);
  assert.deepEqual(main.filter((e) => e.call === 'brk' || known.has(e.length)).map(row), [
    ['mmap', 0x5000, true],
    ['mmap', 0x7000, true],
    ['mmap', 0x9000, true],
    ['munmap', 0x5000, true],
    ['munmap', 0x3000, true],
    ['mmap', 0xb000, 'EBADF'],
    ['mremap', 0x7000, true],
    ['mmap', 0x1000, true],
    ['brk', 0, true],
    ['brk', 0, true],
    ['brk', 0, true],
    ['brk', 0, 'ENOMEM'],
  ]);
  // Exactly these calls, plus glibc's one mmap of the worker's stack (MAP_STACK, 0x20000) in pthread_create.
  const stack = main.filter((e) => e.call === 'mmap' && ((e.flags ?? 0) & 0x20000) !== 0);
  assert.equal(stack.length, 1, 'one thread stack');
  // glibc maps that stack PROT_NONE and makes all of it but the guard page at its bottom read-write
  // with one mprotect (nptl allocate_stack, setup_stack_prot). Captures made before mprotect was
  // traced do not have it.
  const protects = main.filter((e) => e.call === 'mprotect');
  assert.ok(protects.length <= 1, 'at most the stack mprotect');
  if (protects.length === 1) {
    const guard = 0x1000;
    assert.deepEqual(
      protects.map((e) => [e.addr, e.length, e.prot, e.result]),
      [
        [
          `0x${(BigInt(stack[0]?.result ?? '0') + BigInt(guard)).toString(16)}`,
          (stack[0]?.length ?? 0) - guard,
          3,
          '0x0',
        ],
      ],
    );
  }
  assert.equal(main.length, 13 + protects.length, `main thread: ${main.map((e) => `${e.call}:${e.length}`).join(' ')}`);

  const failed = main.find((e) => e.error === 'EBADF');
  assert.equal(failed?.result, '-9');
  assert.equal(failed.fd, 12345);
  const mremap = main.find((e) => e.call === 'mremap');
  assert.equal(mremap?.new_length, 0xd000);
  assert.equal(mremap.flags, 1);
  const brks = main.filter((e) => e.call === 'brk');
  assert.deepEqual(
    brks.map((e) => [e.addr, e.result]),
    [
      ['0x0', `0x${ids.brk0.toString(16)}`],
      [`0x${(ids.brk0 + 0x21000n).toString(16)}`, `0x${(ids.brk0 + 0x21000n).toString(16)}`],
      [`0x${(ids.brk0 + 0x1000n).toString(16)}`, `0x${(ids.brk0 + 0x1000n).toString(16)}`],
      ['0x1', `0x${(ids.brk0 + 0x1000n).toString(16)}`],
    ],
  );
  const partial = main.filter((e) => e.call === 'munmap')[1];
  const c = main.find((e) => e.call === 'mmap' && e.length === 0x9000);
  assert.equal(
    partial?.addr,
    `0x${(BigInt(c?.result ?? '0') + 0x2000n).toString(16)}`,
    'the partial munmap is inside the third mapping',
  );

  assert.deepEqual(worker.map(row), [
    ['mmap', 0x13000, true],
    ['munmap', 0x13000, true],
  ]);

  // The short-lived child: its own pid, named "mlforked" before exec and "mlexec" after.
  const c1 = child.find((e) => e.length === 0x17000);
  const c2 = child.find((e) => e.length === 0x19000);
  assert.equal(c1?.name, 'mlforked');
  assert.equal(c1.thread, 'mlforked');
  assert.equal(c1.tid, ids.childPid);
  assert.equal(c2?.name, 'mlexec');
  assert.equal(c2.thread, 'mlexec');
  assert.ok(BigInt(c1.ktime) < BigInt(c2.ktime));
  assert.ok(
    !all.some((e) => e.pid === ids.pid && (e.length === 0x17000 || e.length === 0x19000)),
    'child calls are not the parent',
  );
}
