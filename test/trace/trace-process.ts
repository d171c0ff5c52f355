// Runs `memlens trace` in the background the way a user would, and the known workload next to it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { waitAtMost, waitingFor } from '../helpers/waiting.js';

export interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code when the process ends (await it through `ended`, which is bounded). */
  exited: Promise<number | null>;
}

/** The exit code of a trace that was told to stop (`after`: how), waiting at most 5 minutes. */
export function ended(trace: Running, after: string): Promise<number | null> {
  return waitAtMost(
    5 * 60_000,
    `memlens trace (pid ${trace.child.pid}) to exit ${after}`,
    () => trace.exited,
    () => `memlens said: ${trace.stderr()}`,
  );
}

/**
 * Starts `memlens trace ARGS` and resolves once it says it is tracing. `wrap` is a command that
 * execs its arguments (such as `unshare --uts sh -c 'hostname "$0" && exec "$@"' NAME`): memlens then
 * runs under it with the same pid, so that signals sent to `child` reach memlens.
 */
export async function startTrace(args: string[], env: NodeJS.ProcessEnv = {}, wrap: string[] = []): Promise<Running> {
  const [command = process.execPath, ...rest] = [...wrap, process.execPath, cliPath, 'trace', ...args];
  const child = spawn(command, rest, {
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await waitingFor(
    `memlens trace ${args.join(' ')} (pid ${child.pid}) to say it is tracing`,
    () =>
      new Promise<void>((resolve, reject) => {
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          err += d;
          if (err.includes('memlens: tracing')) resolve();
        });
        void exited.then((code) => reject(new Error(`memlens trace ended (${code}) before tracing: ${err}`)));
      }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

export interface Workload {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  /** Sends the "go" line and resolves with the "done …" line. */
  go(): Promise<string>;
  /** Closes stdin: the workload exits. */
  finish(): Promise<void>;
}

export async function startWorkload(binary: string, execLink: string): Promise<Workload> {
  const child = spawn(binary, [execLink]);
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const next = async () => {
    const r = await waitingFor(`the workload ${binary} (pid ${child.pid}) to print its next line`, () =>
      iterator.next(),
    );
    assert.ok(r.done !== true, 'workload ended early');
    return r.value;
  };
  const ready = await next();
  const pid = Number(/^ready (\d+)/.exec(ready)?.[1]);
  assert.ok(pid > 0, ready);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    pid,
    go: async () => {
      child.stdin.write('\n');
      return next();
    },
    finish: async () => {
      child.stdin.end();
      await waitingFor(`the workload ${binary} (pid ${child.pid}) to exit once its stdin closed`, () => closed);
    },
  };
}

/** Compiles test/workloads/mmap-steps.c into `dir`; returns the binary. */
export function buildSteps(dir: string): string {
  const binary = join(dir, 'mmap-steps');
  const r = spawnSync('gcc', ['-O1', '-Wall', '-o', binary, join(repoRoot, 'test', 'workloads', 'mmap-steps.c')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `gcc failed: ${r.stderr}`);
  return binary;
}

/** test/workloads/mmap-steps.c, running and waiting for its first step. */
export interface Steps {
  pid: number;
  /** Makes `pairs` mmap+munmap pairs; resolves with the calls made so far. */
  step(pairs: number): Promise<number>;
  finish(): Promise<void>;
  child: ChildProcessWithoutNullStreams;
}

export async function startSteps(binary: string): Promise<Steps> {
  const child = spawn(binary, []);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await waitingFor(`mmap-steps (pid ${child.pid}) to print its next line`, () => lines.next());
    assert.ok(r.done !== true, 'workload ended early');
    return r.value;
  };
  const pid = Number(/^ready (\d+)/.exec(await next())?.[1]);
  assert.ok(pid > 0);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    pid,
    child,
    step: async (pairs) => {
      child.stdin.write(`${pairs}\n`);
      return Number(/^done (\d+)/.exec(await next())?.[1]);
    },
    finish: async () => {
      child.stdin.end();
      await waitingFor(`mmap-steps (pid ${child.pid}) to exit once its stdin closed`, () => closed);
    },
  };
}
