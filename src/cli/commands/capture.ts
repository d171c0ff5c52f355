// memlens capture: the archive a board without Node can write (scripts/capture.sh), printed for
// `ssh board sh`, or run here. `memlens snapshot --from FILE` and `memlens process PID --from FILE`
// read it back.
import type { Command } from 'commander';
import { UsageError } from '../../base/errors.js';

interface CaptureOptions {
  printScript?: boolean;
  output?: string;
  shell: string;
  smaps: boolean;
  frames?: boolean;
}

export function defineCapture(program: Command): void {
  program
    .command('capture')
    .description('capture /proc into one archive, here or on a board without Node (via the printed sh script)')
    .option(
      '--print-script',
      'print the POSIX sh capture script (e.g. memlens capture --print-script | ssh board sh > board.snap)',
    )
    .option('-o, --output <file>', 'run the capture script here and write the archive to FILE ("-" = stdout)')
    .option('--shell <sh>', 'shell that runs the script with -o', 'sh')
    .option(
      '--no-smaps',
      "leave out each process's full smaps: a much smaller, faster capture; snapshot --from works, process PID --from has no mappings",
    )
    .option(
      '--frames',
      'also capture /proc/kpageflags and /proc/kpagecount (root; 16 MiB per GiB of RAM) for memlens pages --from',
    )
    .addHelpText('after', '\nRead an archive back with: memlens snapshot --from FILE, memlens process PID --from FILE')
    .action(async (opts: CaptureOptions) => {
      if (opts.printScript && opts.output !== undefined)
        throw new UsageError('give either --print-script or -o FILE, not both');
      const scripts = await import('../../sources/capture-script.js');
      if (opts.printScript) {
        process.stdout.write(await scripts.readCaptureScript({ smaps: opts.smaps, frames: opts.frames === true }));
        return;
      }
      if (opts.output === undefined) throw new UsageError('give --print-script or -o FILE');
      await scripts.runCaptureScript(opts.output, opts.shell, { smaps: opts.smaps, frames: opts.frames === true });
      if (opts.output !== '-') {
        const { loadArchive } = await import('../../sources/archive.js');
        const { archiveStats } = await import('../../parsers/archive-meta.js');
        const { formatBytes } = await import('../../base/units.js');
        const stats = archiveStats(await loadArchive(opts.output));
        const denied = stats.partlyDenied > 0 ? `; ${stats.partlyDenied} partly unreadable (permission)` : '';
        process.stdout.write(
          `wrote ${opts.output}: ${stats.processes} processes, ${formatBytes(stats.payloadBytes)} of /proc files${denied}\n`,
        );
      }
    });
}
