import { Argument, Option, type Command } from 'commander';
import { UsageError } from '../../base/errors.js';
import { DEFAULT_INTERVAL_MS, DIRTY_FLAG_NAMES, parseWatchFlags, type DirtyOptions } from '../dirty-flags.js';
import { integerFlag, pidFlag, timerFlag } from '../flag-values.js';

const RULE_HELP = `
Counting:
  Only pages present in memory or swapped count. Parts of areas that are new or grown since the
  previous round are marked soft-dirty by the kernel as a whole: they are reported as "new mapping",
  not as writes. Under transparent huge pages one write marks a whole 2 MiB page.

Convergence (--watch --until-stable):
  A round is steady when its count differs from the previous round's by at most --tolerance of the
  larger of the two, or by at most 8 pages. The watch converges after 3 consecutive steady rounds
  whose 4 counts (with the round before them) also lie within that band of each other (max - min)
  and do not all rise (or all fall) by more than 8 pages per round, so that a set growing a little
  every round never passes for stable; never before round 4. It gives up (not converged) after
  --max-rounds rounds (default 20 with --until-stable; without it the watch runs until Ctrl-C).

Safety:
  Without --watch nothing is cleared. --watch clears the target's soft-dirty (or referenced) bits
  every round, which disturbs any checkpointer using them; it needs the right to write
  /proc/PID/clear_refs. pid 1 and memlens itself are refused unless --force.

Kernels without soft-dirty (CONFIG_MEM_SOFT_DIRTY off): memlens finds out by a round trip on its
own memory and says so; --fallback accessed then counts pages touched (read or written) from the
Referenced lines of /proc/PID/smaps, never passed off as writes.`;

export function defineDirty(program: Command): void {
  program
    .command('dirty')
    .description('which pages a process writes (soft-dirty bits), round after round until the written set stabilises')
    .addArgument(new Argument('<pid>', 'process id').argParser(pidFlag))
    .option('--json', 'one JSON document on stdout')
    .option('--watch', 'clear the bits, wait one interval, count, repeat')
    .addOption(
      new Option('--interval <duration>', 'length of a round (500ms, 1s, 2m; at most 24d)')
        .argParser(timerFlag)
        .default(DEFAULT_INTERVAL_MS, '1s'),
    )
    .option('--until-stable', 'with --watch: stop when the written count per round has converged')
    .option('--tolerance <percent>', 'with --watch: relative change a steady round may show', '5%')
    .option('--max-rounds <n>', 'with --watch: stop after this many rounds', integerFlag(1))
    .addOption(
      new Option('--fallback <method>', 'count pages touched (read or written) instead of written').choices([
        'accessed',
      ]),
    )
    .option('--force', 'allow pid 1 and memlens itself')
    .addHelpText('after', RULE_HELP)
    .action(async (pid: number, opts: DirtyOptions) => {
      const timing = parseWatchFlags(opts, DIRTY_FLAG_NAMES);
      if (!opts.watch && (opts.untilStable || opts.maxRounds !== undefined))
        throw new UsageError('--until-stable and --max-rounds need --watch');
      const { runDirty } = await import('../dirty-run.js');
      await runDirty({ ...opts, pid, ...timing });
    });
}
