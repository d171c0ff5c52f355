import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineDirty(program: Command): void {
  program
    .command('dirty')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('dirty is not implemented yet');
    });
}
