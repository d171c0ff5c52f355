import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineProcess(program: Command): void {
  program
    .command('process')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('process is not implemented yet');
    });
}
