import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineCapture(program: Command): void {
  program
    .command('capture')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('capture is not implemented yet');
    });
}
