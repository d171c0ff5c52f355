import type { Command } from 'commander';
import { integerFlag } from '../flag-values.js';

export function definePages(program: Command): void {
  program
    .command('pages')
    .description(
      'the physical memory map: every page frame by kind (kpageflags, root), per zone and node, against the ledger; free blocks, fragmentation, CMA',
    )
    .option('--json', 'machine output: JSON (pages schema 1), sizes in bytes')
    .option('--bytes', 'human output with exact byte counts instead of KiB/MiB/GiB')
    .option(
      '--map-cells <n>',
      'with --json: a block map of N cells over the frame range (0: none)',
      integerFlag(0, 1 << 20),
      0,
    )
    .option('--start-pfn <pfn>', 'first frame of the walk (default 0)', integerFlag(0))
    .option('--end-pfn <pfn>', 'frame after the last one of the walk (default: the end of the zones)', integerFlag(1))
    .option('--from <file>', 'read an archive written by `memlens capture` instead of the live /proc')
    .action(async (raw: Record<string, unknown>) => {
      const { runPages } = await import('../run-pages.js');
      await runPages(raw);
    });
}
