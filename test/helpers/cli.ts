// Runs the built memlens command (or any command) as a user would, capturing its output and exit code.
// (cli-in-process.ts runs memlens inside the test's own process instead.)
import { spawn } from 'node:child_process';
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
  return runProcess(process.execPath, [cliPath, ...args], opts);
}
