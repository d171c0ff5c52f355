#!/usr/bin/env node
// The memlens command. Thin on purpose: each command's flags live in its own module under
// commands/, whose action lazily imports the library code it calls; program.ts parses and runs
// them. Only this file exits.
import { ExitCode } from '../base/errors.js';
import { runMemlens } from './program.js';

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
