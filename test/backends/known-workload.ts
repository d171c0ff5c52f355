// Builds and runs test/workloads/backend-known.c, and says exactly which events it must produce.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LifecycleEvent, MemEvent } from '../../src/wire/events.js';
import type { TraceBackend } from '../../src/sources/trace-backend.js';
import { repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';

const run = promisify(execFile);

export const PROCESS_NAME = 'wl "q" (é)';
export const WORKER_NAME = 'wk \\ ñ';

export async function buildKnownWorkload(): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'memlens-backend-known-')), 'backend-known');
  await run('gcc', ['-O2', '-Wall', '-pthread', '-o', out, join(repoRoot, 'test', 'workloads', 'backend-known.c')]);
  return out;
}

export interface KnownReport {
  pid: number;
  worker: number;
  child: number;
  markBegin: bigint;
  markEnd: bigint;
  a: bigint;
  b: bigint;
  c: bigint;
  m: bigint;
  k: bigint;
  d: bigint;
  e: bigint;
}

/** Runs the workload to its end and reads its report. */
export function runKnownWorkload(bin: string): Promise<KnownReport> {
  return spawnKnownWorkload(bin).go();
}

/**
 * Starts the workload held at a gate (a shell waiting on its standard input that then execs
 * it, keeping its pid), so that its pid is known before it makes any call.
 */
export function spawnKnownWorkload(bin: string): { pid: number; go(): Promise<KnownReport> } {
  const child = spawn('sh', ['-c', 'read go && exec "$0"', bin], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = new Promise<KnownReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`workload exited with ${code ?? 'a signal'}`));
        return;
      }
      const kv = new Map(
        out
          .trim()
          .split('\n')
          .map((l) => l.split(' ') as [string, string]),
      );
      const num = (k: string): number => Number(kv.get(k));
      const big = (k: string): bigint => BigInt(kv.get(k) ?? 'x');
      resolve({
        pid: num('pid'),
        worker: num('worker'),
        child: num('child'),
        markBegin: big('mark_begin'),
        markEnd: big('mark_end'),
        a: big('a'),
        b: big('b'),
        c: big('c'),
        m: big('m'),
        k: big('k'),
        d: big('d'),
        e: big('e'),
      });
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the workload');
  return {
    pid,
    go: () => {
      child.stdin.end('go\n');
      return waitingFor(`the known workload (pid ${pid}) to run to its end`, () => done);
    },
  };
}

export interface Collected {
  events: MemEvent[];
  lifecycle: LifecycleEvent[];
}

/** Drains a started backend's batches until it ends. */
export async function collect(backend: TraceBackend): Promise<Collected> {
  const got: Collected = { events: [], lifecycle: [] };
  // It drains while the test runs a workload and waits on its own bounded steps (the soft-dirty
  // guest's for several minutes): longer than those, so that theirs fail first and say why.
  await waitingFor(
    `the ${backend.name} backend's batches to end`,
    async () => {
      for await (const b of backend.batches()) {
        got.events.push(...b.events);
        got.lifecycle.push(...b.lifecycle);
      }
    },
    20 * 60_000,
  );
  return got;
}

/** The fields that identify a call, for exact comparison. */
export type CallShape = Pick<
  MemEvent,
  | 'pid'
  | 'tid'
  | 'name'
  | 'thread'
  | 'call'
  | 'addr'
  | 'lengthBytes'
  | 'prot'
  | 'flags'
  | 'fd'
  | 'result'
  | 'error'
  | 'newLengthBytes'
  | 'newAddr'
>;

export function shape(e: MemEvent): CallShape {
  const { pid, tid, name, thread, call, addr, lengthBytes, prot, flags, fd, result, error, newLengthBytes, newAddr } =
    e;
  return { pid, tid, name, thread, call, addr, lengthBytes, prot, flags, fd, result, error, newLengthBytes, newAddr };
}

/** The workload's events strictly between its two markers, in kernel-timestamp order. */
export function betweenMarkers(events: readonly MemEvent[], r: KnownReport): MemEvent[] {
  const mine = events.filter((e) => e.pid === r.pid || e.pid === r.child);
  const isMark = (e: MemEvent, addr: bigint): boolean =>
    e.pid === r.pid && e.call === 'munmap' && e.addr === addr && e.lengthBytes === 0n;
  const begin = mine.find((e) => isMark(e, r.markBegin));
  const end = mine.find((e) => isMark(e, r.markEnd));
  if (begin === undefined || end === undefined) throw new Error('the workload markers were not traced');
  return mine
    .filter((e) => e.ktimeNs > begin.ktimeNs && e.ktimeNs < end.ktimeNs)
    .sort((x, y) => (x.ktimeNs < y.ktimeNs ? -1 : 1));
}

const PROT_RW = 3;
const ANON_PRIVATE = 0x22;

/** Exactly what backend-known.c does between its markers. */
export function expectedCalls(r: KnownReport): CallShape[] {
  const main = { pid: r.pid, tid: r.pid, name: PROCESS_NAME, thread: PROCESS_NAME };
  const worker = { pid: r.pid, tid: r.worker, name: PROCESS_NAME, thread: WORKER_NAME };
  const child = { pid: r.child, tid: r.child, name: PROCESS_NAME, thread: PROCESS_NAME };
  const mmap = (
    who: typeof main,
    len: bigint,
    result: bigint,
    prot = PROT_RW,
    flags = ANON_PRIVATE,
    error: string | null = null,
  ): CallShape => ({
    ...who,
    call: 'mmap',
    addr: 0n,
    lengthBytes: len,
    prot,
    flags,
    fd: -1,
    result,
    error,
    newLengthBytes: null,
    newAddr: null,
  });
  const munmap = (who: typeof main, addr: bigint, len: bigint): CallShape => ({
    ...who,
    call: 'munmap',
    addr,
    lengthBytes: len,
    prot: null,
    flags: null,
    fd: null,
    result: 0n,
    error: null,
    newLengthBytes: null,
    newAddr: null,
  });
  const brk = (addr: bigint, result: bigint): CallShape => ({
    ...main,
    call: 'brk',
    addr,
    lengthBytes: 0n,
    prot: null,
    flags: null,
    fd: null,
    result,
    error: null,
    newLengthBytes: null,
    newAddr: null,
  });
  return [
    mmap(main, 40960n, r.a),
    mmap(main, 81920n, r.b),
    mmap(main, 16384n, r.c),
    munmap(main, r.c + 4096n, 4096n),
    mmap(main, 12288n, -9n, 1, 0x02, 'EBADF'),
    {
      ...main,
      call: 'mremap',
      addr: r.b,
      lengthBytes: 81920n,
      prot: null,
      flags: 1,
      fd: null,
      result: r.m,
      error: null,
      newLengthBytes: 163840n,
      newAddr: null,
    },
    munmap(main, r.a, 40960n),
    brk(0n, r.k),
    brk(r.k + 65536n, r.k + 65536n),
    brk(r.k, r.k),
    mmap(worker, 28672n, r.d),
    munmap(worker, r.d, 28672n),
    mmap(child, 57344n, r.e),
  ];
}
