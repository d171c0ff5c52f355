// The capture script (scripts/capture.sh) shipped in the package, found relative to this
// module so that it works from the repository (dist/src/sources) and from an installed package
// alike, and run locally with the system's sh.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError, errnoCode } from '../base/errors.js';

export function captureScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'scripts', 'capture.sh');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new UserError('scripts/capture.sh is missing from this memlens installation');
    dir = up;
  }
}

/** What to capture; the script reads it from its MEMLENS_CAPTURE_* environment variables. */
export interface CaptureChoice {
  /** Include each process's full smaps (needed by `memlens process PID --from`). */
  smaps: boolean;
  /** A series: one snapshot every `everyMs` for `forMs` (forMs / everyMs + 1 snapshots). */
  series?: { everyMs: number; forMs: number };
  /** Include /proc/kpageflags and /proc/kpagecount (`memlens pages --from`); MEMLENS_CAPTURE_FRAMES. */
  frames?: boolean;
}

/** The environment variables that carry a choice to the script. */
export function captureEnv(choice: CaptureChoice): Record<string, string> {
  return {
    MEMLENS_CAPTURE_SMAPS: choice.smaps ? 'yes' : 'no',
    ...(choice.frames === true ? { MEMLENS_CAPTURE_FRAMES: 'yes' } : {}),
    ...(choice.series === undefined
      ? {}
      : {
          MEMLENS_CAPTURE_EVERY_MS: String(choice.series.everyMs),
          MEMLENS_CAPTURE_FOR_MS: String(choice.series.forMs),
        }),
  };
}

/** The script as printed for a board; a choice other than the default is fixed in first lines. */
export async function readCaptureScript(choice: CaptureChoice = { smaps: true }): Promise<string> {
  const script = await readFile(captureScriptPath(), 'utf8');
  const fixed = Object.entries(captureEnv(choice))
    .filter(([key, value]) => !(key === 'MEMLENS_CAPTURE_SMAPS' && value === 'yes'))
    .map(([key, value]) => `${key}=${value}\n`);
  return `${fixed.join('')}${script}`;
}

/**
 * Runs the capture script with `shell` and writes the archive to `outPath` ("-" = stdout).
 * The script's stderr passes through; a non-zero exit is a failure.
 */
export async function runCaptureScript(
  outPath: string,
  shell = 'sh',
  choice: CaptureChoice = { smaps: true },
): Promise<void> {
  const script = captureScriptPath();
  const out =
    outPath === '-'
      ? undefined
      : await open(outPath, 'w').catch((e: unknown) => {
          throw new UserError(`cannot write ${outPath}: ${errnoCode(e) ?? String(e)}`);
        });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const env = { ...process.env, ...captureEnv(choice) };
      const child = spawn(shell, [script], { stdio: ['ignore', out ? out.fd : 'inherit', 'inherit'], env });
      child.on('error', (e) => {
        reject(new UserError(`cannot run ${shell}: ${errnoCode(e) ?? e.message}`));
      });
      child.on('close', resolve);
    });
    if (code !== 0) throw new UserError(`the capture script failed (${shell} exited with ${code ?? 'a signal'})`);
  } finally {
    await out?.close();
  }
}
