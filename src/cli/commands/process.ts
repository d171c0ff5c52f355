import { Argument, type Command } from 'commander';
import { pidFlag } from '../flag-values.js';
import { addMemoryFlags } from '../memory-flags.js';

export function defineProcess(program: Command): void {
  addMemoryFlags(
    program
      .command('process')
      .description('the mappings of one process grouped by kind (heap, stack, anonymous, files, shared memory, …)')
      .addArgument(new Argument('<pid>', 'process id').argParser(pidFlag))
      .option('--vmas', 'list every mapping (VMA) instead of groups'),
  ).action(async (pid: number, raw: Record<string, unknown>) => {
    const { runProcess } = await import('../run-process.js');
    await runProcess(pid, raw);
  });
}
