import type { Command } from 'commander';
import { addRetentionFlags } from '../retention-flags.js';
import { hostNameFlag, nonEmptyFlag, pidListFlag, timerFlag } from '../flag-values.js';
import type { TraceFlags } from '../trace/run-trace.js';

export function defineTrace(program: Command): void {
  const command = program
    .command('trace')
    .description('trace every mmap, munmap, brk, mremap and mprotect of every process, live (root)')
    .option('--duration <time>', 'stop after this long (10s, 500ms, 2m; at most 24d); default: until Ctrl-C', timerFlag)
    .argument(
      '[command...]',
      'run this command and trace it and every process it starts, until it exits (put it after --: memlens trace -- ./prog args)',
    )
    .option('--pid <N>', 'only this process (repeatable, or comma-separated)', pidListFlag)
    .option('--follow', 'with --pid: also every process they fork from now on, and theirs (as strace -f)')
    .option('--name <NAME>', 'only processes (or threads) with this name')
    .option('--json', 'one JSON event per line (NDJSON) on stdout; the summary goes to stderr as JSON')
    .option(
      '--db <URL>',
      'store events here: mysql://user:pass@host:port/db or a SQLite file (default: SQLite under the data directory)',
      nonEmptyFlag,
    )
    .option('--no-store', 'do not store events')
    .option(
      '--host-name <NAME>',
      "the host name written with every event (default: this machine's); one name per machine when several write into one database",
      hostNameFlag,
    )
    .option('--backend <name>', 'tracefs or bpftrace', 'tracefs')
    .option('--from-stap <FILE>', 'read the output of memlens.stp from FILE ("-" = stdin) instead of tracing')
    .option('--include-self', "also trace memlens's own process and its children")
    .option(
      '--quiet',
      'no line per call, only the summary (JSON on stderr with --json): long captures into the store at high rates',
    );
  addRetentionFlags(command).action(async (argv: string[], opts: TraceFlags) => {
    const { runTrace } = await import('../trace/run-trace.js');
    await runTrace(argv.length > 0 ? { ...opts, command: argv } : opts);
  });
}
