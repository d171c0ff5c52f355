// Builds and drives test/dirty/workload.c: a process whose writes are known exactly.
import { spawn, execFileSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';

/** The compiled workload lives in dist/ of the checkout: a virtual machine sharing the checkout sees it too. */
export const workloadBinary: string = join(repoRoot, 'dist', 'test-bin', 'dirty-workload');
/**
 * The same program linked statically: it maps no shared library, so under the accessed fallback
 * its count is its own (the referenced flag of a library's page is set by whichever process
 * touches it, so a dynamically linked target's count jumps whenever other processes start).
 */
export const staticWorkloadBinary: string = join(repoRoot, 'dist', 'test-bin', 'dirty-workload-static');

export function buildWorkload(opts: { static?: boolean } = {}): string {
  const source = join(repoRoot, 'test', 'dirty', 'workload.c');
  const binary = opts.static === true ? staticWorkloadBinary : workloadBinary;
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(join(repoRoot, 'dist', 'test-bin'), { recursive: true });
  // Build under a private name, then rename: test files running side by side never see half a file.
  const tmp = `${binary}.${process.pid}`;
  execFileSync('gcc', ['-O2', '-Wall', ...(opts.static === true ? ['-static'] : []), '-o', tmp, source], {
    stdio: 'inherit',
  });
  renameSync(tmp, binary);
  return binary;
}

export interface Workload {
  child: ChildProcessByStdio<Writable, Readable, null>;
  pid: number;
  address: bigint;
  pages: number;
  pageSize: number;
  /** Sends one command line and waits for its "OK"; returns what follows the OK. */
  command(line: string): Promise<string>;
  /** Closes stdin (the looping modes end) and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts the workload (or `binary`, a copy of it under another name); resolves once it is READY. */
export function startWorkload(args: string[], opts: { binary?: string } = {}): Promise<Workload> {
  const child = spawn(opts.binary ?? buildWorkload(), args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  const waiters: ((line: string) => void)[] = [];
  const lines: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const nextLine = (what: string): Promise<string> =>
    waitingFor(
      `the dirty workload (pid ${child.pid}) to answer ${what}`,
      () =>
        new Promise((resolve, reject) => {
          const queued = lines.shift();
          if (queued !== undefined) {
            resolve(queued);
            return;
          }
          waiters.push(resolve);
          child.once('exit', (code) => reject(new Error(`workload exited (${code}) before answering`)));
        }),
    );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return nextLine('READY').then((ready) => {
    const m = /^READY ([0-9a-f]+) (\d+) (\d+)$/.exec(ready);
    if (!m?.[1] || !m[2] || !m[3]) throw new Error(`workload said ${JSON.stringify(ready)}`);
    return {
      child,
      pid: child.pid ?? -1,
      address: BigInt(`0x${m[1]}`),
      pages: Number(m[2]),
      pageSize: Number(m[3]),
      command: async (line: string) => {
        child.stdin.write(`${line}\n`);
        const answer = await nextLine(JSON.stringify(line));
        if (!answer.startsWith('OK')) throw new Error(`workload answered ${JSON.stringify(answer)} to ${line}`);
        return answer.slice(2).trim();
      },
      stop: async () => {
        child.stdin.end();
        await waitingFor(`the dirty workload (pid ${child.pid}) to exit once its stdin closed`, () => exited);
      },
    };
  });
}
