// Runs memlens inside the test's own process, where a test checks only what it prints and its exit
// code, and a Node start-up per command would cost more than the command itself.
import { Readable, Writable } from 'node:stream';
import { runMemlens } from '../../src/cli/program.js';
import { RUN_BOUND_MS, type CliResult } from './cli.js';
import { cliPath } from './paths.js';
import { waitingFor } from './waiting.js';

export interface InProcessOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Leave stdin open (an input that never ends, as a terminal's) until the command ends. */
  stdinOpen?: boolean;
  /** After this long the run fails saying so (default 10 minutes); it cannot be killed. */
  boundMs?: number;
}

/** The process-wide state a command reads or changes; swapped for the run, then put back. */
const STREAMS = ['stdin', 'stdout', 'stderr'] as const;
/** The signals memlens's long-running commands stop on. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let inProcessRunning = false;

/**
 * Runs memlens as runCli does, with the same environment (the test's, NO_COLOR set, `env` over it),
 * standard input and result, but in this process: src/cli/program.ts's runMemlens, with
 * process.stdin, stdout, stderr, env and exitCode replaced for the run, and Node's warnings added to
 * its stderr. The test runner's reporter
 * keeps the stream it took at start-up, so its output is not captured. For commands that end by
 * themselves and leave nothing running (no child, no server, no timer); runCli runs the built file
 * itself, and each command keeps at least one test that does so.
 */
export function runCliInProcess(args: string[], opts: InProcessOptions = {}): Promise<CliResult> {
  // Node's console takes process.stdout and stderr on its first use and keeps them: bound now, it
  // keeps the real ones, rather than the replacements of a run during which it was first used.
  Reflect.get(console, '_stdout');
  Reflect.get(console, '_stderr');
  return waitingFor(
    `memlens ${args.join(' ').slice(0, 300)} (in this process) to end`,
    async () => {
      if (inProcessRunning) throw new Error('runCliInProcess: one run at a time (it replaces process.stdout)');
      inProcessRunning = true;
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const sink = (into: Buffer[]): Writable =>
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            into.push(chunk);
            done();
          },
        });
      const stdin = new Readable({ read: () => undefined });
      if (opts.stdinOpen !== true) {
        if (opts.input !== undefined && opts.input.length > 0) stdin.push(opts.input);
        stdin.push(null);
      }
      const replaced = { stdin, stdout: sink(out), stderr: sink(err) };
      const saved = STREAMS.map((name) => [name, Object.getOwnPropertyDescriptor(process, name)] as const);
      const savedEnv = process.env;
      const savedExitCode = process.exitCode;
      const signalListeners = SIGNALS.map((signal) => [signal, process.listeners(signal)] as const);
      const exitListeners = process.listeners('exit');
      // As spawn does, a variable given as undefined is left out.
      const env: NodeJS.ProcessEnv = Object.fromEntries(
        Object.entries<string | undefined>({ ...savedEnv, NO_COLOR: '1', ...opts.env }).filter(
          ([, v]) => v !== undefined,
        ),
      );
      // Node prints its own warnings (a timer too long for it, …) through that console, to the real
      // stderr: they are added to the command's stderr as Node prints them.
      const onWarning = (w: Error): void =>
        void err.push(Buffer.from(`(node:${process.pid}) ${w.name}: ${w.message}\n`));
      let code: number;
      try {
        for (const name of STREAMS)
          Object.defineProperty(process, name, { value: replaced[name], configurable: true, writable: true });
        process.env = env;
        process.exitCode = undefined;
        process.on('warning', onWarning);
        code = await runMemlens([process.execPath, cliPath, ...args]);
        // Node emits a warning on a later tick than the call that caused it.
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.removeListener('warning', onWarning);
        for (const [name, descriptor] of saved) {
          if (descriptor) Object.defineProperty(process, name, descriptor);
        }
        process.env = savedEnv;
        process.exitCode = savedExitCode;
        stdin.destroy();
        inProcessRunning = false;
      }
      // A command that fails may leave its signal handlers behind: as a process it would now end,
      // and they with it, so they go. An 'exit' handler would run at that end: that command needs runCli.
      for (const [signal, had] of signalListeners)
        for (const l of process.listeners(signal)) if (!had.includes(l)) process.removeListener(signal, l);
      // (Node itself may take one of its own away meanwhile: only an added one counts.)
      if (process.listeners('exit').some((l) => !exitListeners.includes(l)))
        throw new Error(`memlens ${args.join(' ')} left a listener on 'exit': run it with runCli`);
      return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
    },
    opts.boundMs ?? RUN_BOUND_MS,
  );
}
