import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineTrace(program: Command): void {
  program
    .command('trace')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('trace is not implemented yet');
    });
}
