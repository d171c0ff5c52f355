// The bpftrace backend: runs `bpftrace -f json -B line tracing/memlens.bt` and reads its output.
// bpftrace's probes are tied to its file descriptors, so nothing stays enabled after it exits,
// even when it is killed. It is stopped with SIGINT so that it prints its maps (the unpaired
// counts) before exiting, once its heartbeats show that it has printed every earlier event.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { UserError, errnoCode } from '../base/errors.js';
import { BpftraceOutputParser } from '../parsers/bpftrace.js';
import type { LostCounts, TraceBatch } from '../wire/events.js';
import { monotonicToWallOffsetNs } from './mono-clock.js';
import { ReorderQueue } from './reorder-queue.js';
import type { TraceBackend, TraceBackendOptions } from './trace-backend.js';
import { TraceFilter } from './trace-filter.js';

export interface BpftraceBackendOptions extends TraceBackendOptions {
  /** The bpftrace program (default: bpftrace on PATH). */
  bpftrace?: string;
  /** Per-CPU perf buffer pages (BPFTRACE_PERF_RB_PAGES); more pages, fewer lost events. */
  perfBufferPages?: number;
}

/** tracing/memlens.bt, found by walking up from this module (dist/src/sources or src/sources). */
export function bpftraceScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'tracing', 'memlens.bt');
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) throw new UserError('tracing/memlens.bt is missing from this memlens installation');
    dir = up;
  }
}

// bpftrace 0.17 prints this on every start on kernels that charge BPF memory to the memory
// cgroup instead of RLIMIT_MEMLOCK; it then works.
const HARMLESS_STDERR = /couldn't set RLIMIT_MEMLOCK/;

const TICK_MS = 50;

export function createBpftraceBackend(options: BpftraceBackendOptions): TraceBackend {
  let child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  let parser: BpftraceOutputParser | undefined;
  let assembler: ReorderQueue | undefined;
  let tick: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  let exited: Promise<number | null> | undefined;
  const stderrLines: string[] = [];

  const firstError = (): string => {
    const useful = stderrLines.filter((l) => !HARMLESS_STDERR.test(l) && l.trim() !== '');
    return useful.find((l) => l.startsWith('ERROR')) ?? useful[0] ?? 'no message';
  };

  return {
    name: 'bpftrace',

    async start(): Promise<void> {
      if (typeof process.getuid === 'function' && process.getuid() !== 0)
        throw new UserError('the bpftrace backend needs root (run memlens as root)');
      const script = bpftraceScriptPath();
      parser = new BpftraceOutputParser({ host: options.host, wallOffsetNs: monotonicToWallOffsetNs() });
      // Left out in the kernel: memlens and its direct children (bpftrace); later descendants here.
      const filter = new TraceFilter(
        options.pids,
        options.excludeSelf ? [process.pid] : [],
        options.followForks === true,
      );
      const proc = spawn(
        options.bpftrace ?? 'bpftrace',
        ['-f', 'json', '-B', 'line', script, String(options.excludeSelf ? process.pid : 0)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          // Its own process group: a Ctrl-C at the terminal must reach memlens only, which then stops
          // bpftrace without losing events. If memlens dies, bpftrace's next heartbeat write fails
          // (SIGPIPE) and it exits, taking its probes with it.
          detached: true,
          // Room for many threads inside a call at once (the pending-entry maps are keyed by thread).
          env: {
            ...process.env,
            BPFTRACE_PERF_RB_PAGES: String(options.perfBufferPages ?? 1024),
            BPFTRACE_MAP_KEYS_MAX: '65536',
          },
        },
      );
      child = proc;
      const asm = new ReorderQueue({
        filter,
        reorderWindowNs: 100_000_000n,
        maxHeldEvents: 200_000,
        onPressure: (pause) => (pause ? proc.stdout.pause() : proc.stdout.resume()),
      });
      assembler = asm;
      const p = parser;
      proc.stdout.on('data', (chunk: Buffer) => asm.add(p.push(chunk)));
      proc.stderr.setEncoding('utf8');
      let stderrTail = '';
      proc.stderr.on('data', (text: string) => {
        const lines = (stderrTail + text).split('\n');
        stderrTail = lines.pop() ?? '';
        if (stderrLines.length < 50) stderrLines.push(...lines.slice(0, 50 - stderrLines.length));
      });
      let spawnError: Error | undefined;
      exited = new Promise((resolve) => {
        proc.on('error', (e) => {
          spawnError = e;
          if (tick !== undefined) clearInterval(tick);
          asm.finish();
          resolve(null);
        });
        proc.on('close', (code) => {
          if (stderrTail !== '') stderrLines.push(stderrTail);
          asm.add(p.end());
          if (tick !== undefined) clearInterval(tick);
          if (code !== 0 && stopping === undefined && spawnError === undefined)
            asm.fail(new UserError(`bpftrace exited with code ${code ?? 'null'}: ${firstError()}`));
          else asm.finish();
          resolve(code);
        });
      });
      tick = setInterval(() => asm.tick(), TICK_MS);
      const ready = await Promise.race([asm.started.then(() => true), exited.then(() => false)]);
      if (!ready) {
        if (spawnError !== undefined) {
          throw new UserError(
            errnoCode(spawnError) === 'ENOENT'
              ? 'bpftrace is not installed (Debian: apt-get install bpftrace)'
              : `cannot run bpftrace: ${spawnError.message}`,
          );
        }
        throw new UserError(`bpftrace failed to start: ${firstError()}`);
      }
      if (options.excludeSelf && proc.pid !== undefined) filter.exclude(proc.pid);
    },

    batches(): AsyncIterable<TraceBatch> {
      if (assembler === undefined) throw new UserError('bpftrace backend: batches() before start()');
      return assembler.batches();
    },

    stop(): Promise<void> {
      stopping ??= (async () => {
        const proc = child;
        const done = exited;
        if (proc === undefined || done === undefined) return;
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.stdout.resume();
          // SIGINT makes bpftrace drop what is still in its perf buffers: first wait until two
          // heartbeats stamped after now have been read (see tracing/memlens.bt).
          const asm = assembler;
          if (asm !== undefined) {
            let grace: NodeJS.Timeout | undefined;
            await Promise.race([
              asm.heartbeats(process.hrtime.bigint(), 2),
              new Promise((resolve) => (grace = setTimeout(resolve, 2_000))),
            ]);
            clearTimeout(grace);
          }
          proc.kill('SIGINT');
          // bpftrace drains its buffers and prints its maps, then exits; a stuck one is killed
          // (its probes go away with its file descriptors).
          const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
          await done;
          clearTimeout(timer);
        } else {
          await done;
        }
      })();
      return stopping;
    },

    lost(): LostCounts {
      return assembler?.lost(parser?.malformed ?? 0) ?? { lostEvents: 0, unpaired: 0, malformed: 0 };
    },
  };
}
