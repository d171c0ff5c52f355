import type { Command } from 'commander';
import { UserError } from '../../base/errors.js';

export function defineEvents(program: Command): void {
  program
    .command('events')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('events is not implemented yet');
    });
}
