// Where the /proc fixtures live, and which of their processes were stopped (SIGSTOP) while
// captured, so that their smaps and smaps_rollup describe the same moment.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/paths.js';

export const procFixtures = join(fixturesDir, 'proc');
export const vmDir = join(procFixtures, 'vm-6.18');
export const edgeDir = join(procFixtures, 'edge');

/** memload parent, its two children (comm "x) (y z\n\xff") and a stopped shell. */
export const STOPPED_PIDS = [5050, 5052, 5053, 5150];
export const MEMLOAD_PARENT = 5050;
export const MEMLOAD_CHILDREN = [5052, 5053];
export const KERNEL_THREADS = [2, 4];

export function readFixture(...parts: string[]): string {
  return readFileSync(join(procFixtures, ...parts), 'utf8');
}

export function readFixtureBytes(...parts: string[]): Uint8Array {
  return readFileSync(join(procFixtures, ...parts));
}

/** Every file named `name` (or starting with `name-`) below fixtures/proc. */
export function fixtureFiles(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e === name || e.startsWith(`${name}-`)) out.push(p);
    }
  };
  walk(procFixtures);
  return out;
}

/** The process directories of a captured /proc tree. */
export function fixturePids(dir: string): number[] {
  return readdirSync(dir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}
