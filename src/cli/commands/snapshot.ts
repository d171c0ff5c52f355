import type { Command } from 'commander';
import { addMemoryFlags } from '../memory-flags.js';

export function defineSnapshot(program: Command): void {
  addMemoryFlags(
    program
      .command('snapshot')
      .description('where all of MemTotal goes (non-overlapping ledger), the "used" definitions, and the processes')
      .option(
        '--group-by <what>',
        'process|program|user|cgroup (groups sum PSS, so shared pages count once)',
        'process',
      )
      .option('--kernel-threads', 'include kernel threads in the process list'),
  ).action(async (raw: Record<string, unknown>) => {
    const { runSnapshot } = await import('../run-snapshot.js');
    await runSnapshot(raw);
  });
}
