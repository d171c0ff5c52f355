// Runs the built memlens command (or any command) as a user would, capturing its output and exit code.
// (cli-in-process.ts runs memlens inside the test's own process instead.)
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { cliPath } from './paths.js';
import { waitingFor } from './waiting.js';

export interface CliResult {
  /** The process's pid (names such as memlens's tracing instance contain it). */
  pid?: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Leave stdin open (an input that never ends, as a terminal's) until the process exits. */
  stdinOpen?: boolean;
  uid?: number;
  gid?: number;
  /** After this long the process is killed and the run fails saying so (default 10 minutes). */
  boundMs?: number;
}

/** Runs COMMAND ARGS to its end with NO_COLOR set, feeding `input` on stdin. */
export function runProcess(command: string, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const what = `${command} ${args.join(' ')}`.slice(0, 300);
  return waitingFor(
    `${what} to end`,
    () =>
      new Promise<CliResult>((resolve, reject) => {
        const child = spawn(command, args, {
          env: { ...process.env, NO_COLOR: '1', ...opts.env },
          stdio: ['pipe', 'pipe', 'pipe'],
          ...(opts.uid === undefined ? {} : { uid: opts.uid }),
          ...(opts.gid === undefined ? {} : { gid: opts.gid }),
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ pid: child.pid, code, stdout, stderr }));
        // A child that exits without reading its input (most do: `stap -V`, `true`) can close the
        // pipe before the input or its end is written; the write then fails with EPIPE, after
        // 'close' may already have settled the run, and with no listener it is an uncaught exception
        // that fails the test file. The run is judged by its exit code and output. (Seen in
        // stap-vm.live's before hook on Node 24; of 200 runs of `true`, 124 gave it on Node 20.20
        // and 84 on Node 24.22.)
        child.stdin.on('error', () => undefined);
        if (opts.stdinOpen === true) {
          child.on('exit', () => child.stdin.destroy());
        } else child.stdin.end(opts.input ?? '');
        // A run past the bound is killed, so that it does not outlive the failed test.
        const killer = setTimeout(() => child.kill('SIGKILL'), (opts.boundMs ?? RUN_BOUND_MS) + 1000);
        child.on('close', () => clearTimeout(killer));
      }),
    opts.boundMs ?? RUN_BOUND_MS,
  );
}

/** How long a command may run unless its caller says otherwise. */
export const RUN_BOUND_MS = 10 * 60_000;

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  if (opts.uid !== undefined) assertReadableAs(cliPath, opts.uid, opts.gid ?? opts.uid);
  return runProcess(process.execPath, [cliPath, ...args], opts);
}

/**
 * Fails, naming the directory, when a user could not reach `path`: a checkout under a directory
 * only its owner may enter (mktemp -d makes mode 0700) runs every test as root, but a test that
 * runs memlens as another user would get Node's "Cannot find module" instead of memlens's answer.
 * Checks the mode bits of the class that applies to the user (owner, group, others), as the kernel
 * does when no ACL is set.
 */
function assertReadableAs(path: string, uid: number, gid: number): void {
  const allowed = (p: string, bits: number): boolean => {
    const st = statSync(p);
    const shift = st.uid === uid ? 6 : st.gid === gid ? 3 : 0;
    return ((st.mode >> shift) & bits) === bits;
  };
  if (!allowed(path, 4))
    throw new Error(`uid ${uid} cannot read ${path}: run the tests from a checkout others can read`);
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (!allowed(dir, 1))
      throw new Error(`uid ${uid} cannot enter ${dir}, above ${path}: run the tests from a checkout others can read`);
    if (dir === dirname(dir)) return;
  }
}
