import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineSnapshot(program: Command): void {
  program
    .command('snapshot')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('snapshot is not implemented yet');
    });
}
