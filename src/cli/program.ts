// The memlens program without the process around it: argv in, exit code out, output on
// process.stdout and process.stderr. main.ts runs it as the command; tests run it in their own
// process (test/helpers/cli.ts), which spares a Node start-up per command checked.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ExitCode, UserError } from '../base/errors.js';
import { printable } from '../base/terminal-text.js';
import { COMMANDS, type DefineCommand } from './commands/index.js';

/** Runs memlens on `argv` (as process.argv: the node binary and the script first) to its exit code. */
export async function runMemlens(argv: string[]): Promise<number> {
  const program = new Command('memlens')
    .description('Where memory goes on a Linux system, and who asks for it')
    .version(version())
    .exitOverride()
    // A usage error is one line, like every other error of memlens: commander's own text ("error:
    // option '--limit <n>' argument 'x' is invalid. expected …") after the program's name.
    .configureOutput({
      outputError: (text, write) =>
        write(
          `memlens: ${printable(
            text
              .trim()
              .replace(/\s*\n\s*/g, ' ')
              .replace(/^error: /, '')
              .replace(/ is invalid( for argument '[^']*')?\. /, ' is invalid$1: '),
          )} (see --help)\n`,
        ),
    });
  for (const define of await commandsFor(argv)) define(program);
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (e) {
    if (isCommanderError(e)) {
      // --help and --version end with exit code 0; everything else commander throws is usage.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
        return ExitCode.ok;
      return ExitCode.usage;
    }
    if (e instanceof UserError) {
      process.stderr.write(`memlens: ${printable(e.message)}\n`);
      return e.exitCode;
    }
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    process.stderr.write(`memlens: internal error: ${printable(message)}\n`);
    if (process.env.MEMLENS_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return ExitCode.failure;
  }
}

/**
 * The definitions of the commands that `argv` may run: the named command's alone when the first
 * word is a command's name (memlens has no options of its own before it but --help and --version,
 * which end the run), else all of them, for --help's list and commander's "did you mean".
 */
async function commandsFor(argv: string[]): Promise<DefineCommand[]> {
  const first = argv[2];
  const one = first !== undefined && Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  return Promise.all(one ? [one()] : Object.values(COMMANDS).map((load) => load()));
}

/**
 * An error of commander, of this bundle's copy or of the node_modules copy that modules outside the
 * bundle import (scripts/build.mjs): commander itself tells its errors by their code.
 */
function isCommanderError(e: unknown): e is CommanderError {
  if (e instanceof CommanderError) return true;
  if (!(e instanceof Error) || !('code' in e)) return false;
  return typeof e.code === 'string' && e.code.startsWith('commander.') && 'exitCode' in e;
}

/** package.json's version, put in by the bundler (scripts/build.mjs); absent when run from tsc's output. */
declare const MEMLENS_VERSION: string | undefined;

/** The version, written once in package.json: read from it when the bundler did not put it in. */
function version(): string {
  if (typeof MEMLENS_VERSION === 'string') return MEMLENS_VERSION;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'memlens' && typeof pkg.version === 'string') return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}
