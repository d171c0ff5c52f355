// The capture script's cost on an emulated board (test/board/board.ts): boots Debian's arm64
// and/or armhf kernel under qemu TCG with BusyBox alone, runs `memlens capture --print-script`'s
// script there under BusyBox `time -v`, and prints CPU time, peak RSS and archive bytes per
// process. Not a test: nothing here is compared against a limit.
//   node dist/bench/board/cost.js [arm64] [armhf]
// TCG emulates the CPU instruction by instruction, so the times are those of a slow board, and
// they vary with the host's load.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArchive } from '../../src/parsers/archive.js';
import {
  BOARDS,
  boardUnavailable,
  captureCost,
  prepareBoard,
  runBoard,
  type BoardArch,
} from '../../test/board/board.js';
import { artifactsDir, cliPath } from '../../test/helpers/paths.js';

const isArch = (a: string): a is BoardArch => a === 'arm64' || a === 'armhf';
const asked = process.argv.slice(2);
const wrong = asked.filter((a) => !isArch(a));
if (wrong.length > 0) throw new Error(`unknown board ${wrong.join(', ')} (arm64, armhf)`);
const arches = asked.length > 0 ? asked.filter(isArch) : (['arm64', 'armhf'] as const);
const script = execFileSync(process.execPath, [cliPath, 'capture', '--print-script'], { encoding: 'utf8' });
for (const arch of arches) {
  const spec = BOARDS[arch];
  const why = boardUnavailable(spec);
  if (why) {
    process.stdout.write(`${arch}: skipped: ${why}\n`);
    continue;
  }
  const files = prepareBoard(spec, join(artifactsDir, 'board'));
  const run = await runBoard(spec, files, script, mkdtempSync(join(tmpdir(), `memlens-board-${arch}-`)));
  const cost = captureCost(run);
  const archive = parseArchive(run.archive);
  if (!archive) throw new Error(`the ${arch} board's archive is not a capture archive`);
  const pids = new Set(
    [...archive.entries.keys()].map((n) => /^proc\/(\d+)\//.exec(n)?.[1]).filter((p) => p !== undefined),
  );
  const smapsBytes = [...archive.entries.values()]
    .filter((e) => /^proc\/\d+\/smaps$/.test(e.name))
    .reduce((s, e) => s + (e.kind === 'file' ? e.data.length : 0), 0);
  process.stdout.write(
    `${arch} (${run.kernel}, ${run.machine}): ${pids.size} processes; capture ${cost.userSeconds.toFixed(2)} s user + ` +
      `${cost.systemSeconds.toFixed(2)} s system CPU, ${cost.wallSeconds.toFixed(2)} s wall, peak RSS ${cost.maxRssKiB} KiB; ` +
      `archive ${cost.archiveBytes} bytes (${Math.round(cost.archiveBytes / pids.size)} per process; smaps ${smapsBytes} of it), ` +
      `gzip ${run.archive.length > 0 ? execFileSync('gzip', ['-c'], { input: run.archive }).length : 0} bytes\n`,
  );
}
