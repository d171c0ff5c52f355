import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineServe(program: Command): void {
  program
    .command('serve')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('serve is not implemented yet');
    });
}
