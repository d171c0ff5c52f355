// memlens capture: the archive a board without Node can write (scripts/capture.sh), printed for
// `ssh board sh`, or run here. `memlens snapshot --from FILE` and `memlens process PID --from FILE`
// read it back.
import type { Command } from 'commander';
import { UsageError } from '../../base/errors.js';
import { timerFlag } from '../flag-values.js';

interface CaptureOptions {
  printScript?: boolean;
  output?: string;
  shell: string;
  /** Undefined: the default, full smaps for one snapshot, rollups only for a series. */
  smaps?: boolean;
  /** Milliseconds. */
  every?: number;
  /** Milliseconds. */
  for?: number;
  frames?: boolean;
}

/** The shortest interval of a series: a round of the script takes a few hundred ms on a board. */
const MIN_EVERY_MS = 100;

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
    // --smaps first: commander then leaves the value undefined when neither is given.
    .option('--smaps', "keep each process's full smaps in every snapshot of a series too")
    .option(
      '--no-smaps',
      "leave out each process's full smaps: a much smaller, faster capture; snapshot --from works, process PID --from has no mappings (the default of a series)",
    )
    .option(
      '--every <duration>',
      'a series: one snapshot every DURATION (1s, 10s, 1m), in the one archive; with --for',
      timerFlag,
    )
    .option('--for <duration>', 'with --every: how long the series runs (e.g. 1h)', timerFlag)
    .addHelpText(
      'after',
      '\nRead an archive back with: memlens snapshot --from FILE, memlens process PID --from FILE,\n' +
        'memlens serve --from FILE (the dashboard over a snapshot or a series, read-only),\n' +
        'memlens pages --from FILE (with --frames)',
    )
    .option(
      '--frames',
      'also capture /proc/kpageflags and /proc/kpagecount (root; 16 MiB per GiB of RAM) for memlens pages --from',
    )
    .action(async (opts: CaptureOptions) => {
      if (opts.printScript && opts.output !== undefined)
        throw new UsageError('give either --print-script or -o FILE, not both');
      if ((opts.every === undefined) !== (opts.for === undefined))
        throw new UsageError('--every and --for go together (e.g. --every 10s --for 1h)');
      const series =
        opts.every === undefined || opts.for === undefined ? undefined : { everyMs: opts.every, forMs: opts.for };
      if (series !== undefined && series.everyMs < MIN_EVERY_MS)
        throw new UsageError(`--every: at least ${MIN_EVERY_MS}ms`);
      if (series !== undefined && series.forMs < series.everyMs)
        throw new UsageError('--for must be at least one --every interval');
      // A series keeps rollups only unless --smaps: each process's smaps is most of a snapshot's bytes.
      const choice = {
        smaps: opts.smaps ?? series === undefined,
        frames: opts.frames === true,
        ...(series === undefined ? {} : { series }),
      };
      const scripts = await import('../../sources/capture-script.js');
      if (opts.printScript) {
        process.stdout.write(await scripts.readCaptureScript(choice));
        return;
      }
      if (opts.output === undefined) throw new UsageError('give --print-script or -o FILE');
      await scripts.runCaptureScript(opts.output, opts.shell, choice);
      if (opts.output !== '-') {
        const { loadArchiveSeries } = await import('../../sources/archive.js');
        const { archiveStats } = await import('../../parsers/archive-meta.js');
        const { formatBytes } = await import('../../base/units.js');
        const { last, summary } = await loadArchiveSeries(opts.output);
        const stats = archiveStats(last);
        const denied = stats.partlyDenied > 0 ? `; ${stats.partlyDenied} partly unreadable (permission)` : '';
        const what = summary.snapshots > 1 ? `${summary.snapshots} snapshots; the last: ` : '';
        process.stdout.write(
          `wrote ${opts.output}: ${what}${stats.processes} processes, ${formatBytes(stats.payloadBytes)} of /proc files${denied}\n`,
        );
      }
    });
}
