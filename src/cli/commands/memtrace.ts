import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineMemtrace(program: Command): void {
  program
    .command('memtrace')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('memtrace is not implemented yet');
    });
}
