#!/usr/bin/env node
// The memlens command. Thin on purpose: each command's flags live in its own module under
// commands/, whose action lazily imports the library code it calls; program.ts parses and runs
// them. Only this file exits. It loads nothing itself: `memlens --version` is answered here,
// before commander and the commands' definitions are loaded (a third of Node's own start-up
// when they were), and everything else is program.ts's.

/** package.json's version, put in by the bundler (scripts/build.mjs); absent when run from tsc's output. */
declare const MEMLENS_VERSION: string | undefined;

const args = process.argv.slice(2);
if (typeof MEMLENS_VERSION === 'string' && args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // What commander prints for the version option that program.ts declares.
  process.stdout.write(`${MEMLENS_VERSION}\n`);
} else {
  // No top-level await: the same source is also built as CommonJS (main.cjs, see scripts/build.mjs).
  void Promise.all([import('../base/errors.js'), import('./program.js')]).then(([{ ExitCode }, { runMemlens }]) => {
    // Writes to a closed pipe (memlens … | head) end the program quietly.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(ExitCode.ok);
      throw e;
    });

    runMemlens(process.argv).then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        process.stderr.write(`memlens: internal error: ${String(e)}\n`);
        process.exitCode = ExitCode.failure;
      },
    );
  });
}
