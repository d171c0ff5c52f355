// Paths for tests. Tests run compiled from dist/test, so the repository root is found by
// walking up to package.json rather than by a fixed number of "..".
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no repository root above ${start}`);
    dir = up;
  }
}

export const repoRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));
export const fixturesDir: string = join(repoRoot, 'fixtures');
/** shared/ beside the checkout: the public memtrace traces live there and are not copied. */
export const sharedDir: string = join(repoRoot, '..', 'shared');
export const cliPath: string = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
/** Screenshots and other artefacts that tests keep for people to look at. */
export const artifactsDir: string = join(repoRoot, 'test-artifacts');
