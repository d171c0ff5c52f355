import type { Command } from 'commander';
import { UsageError } from '../../base/errors.js';
import { integerFlag } from '../flag-values.js';

interface MemtraceFlags {
  json?: boolean;
  html?: string;
  folded?: boolean;
  hideLwt?: boolean;
  lwtPrefix: string[];
  top: number;
}

export function defineMemtrace(program: Command): void {
  program
    .command('memtrace')
    .description(
      'read an OCaml memtrace trace (.ctf): memory over time, top sites, leaks, allocation races, Lwt vs application',
    )
    .argument('<file>', 'the trace (memtrace format v1, v2 or v3)')
    .option('--json', 'print the analysis as JSON (schema memlens.memtrace v2)')
    .option('--html <out>', 'also write a self-contained HTML report (flame graph, timeline) to this file')
    .option('--folded', 'print allocations by backtrace as folded stacks (flamegraph.pl, speedscope)')
    .option('--hide-lwt', "leave Lwt's frames out of folded stacks")
    .option('--lwt-prefix <prefix...>', 'more function-name prefixes to count as Lwt machinery (e.g. Lwt_utils)', [])
    .option('--top <n>', 'sites listed in each ranking', integerFlag(1), 15)
    .action(async (file: string, flags: MemtraceFlags) => {
      if (flags.json === true && flags.folded === true)
        throw new UsageError('--json and --folded both write to standard output: choose one');
      const { runMemtrace } = await import('./memtrace-run.js');
      await runMemtrace(file, {
        json: flags.json === true,
        html: flags.html,
        folded: flags.folded === true,
        hideLwt: flags.hideLwt === true,
        lwtPrefixes: flags.lwtPrefix,
        top: flags.top,
      });
    });
}
