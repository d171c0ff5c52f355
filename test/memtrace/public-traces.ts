// The public memtrace traces beside the checkout (see shared/data/memtrace/README.md), read in
// place, never copied into the repository. A plain clone has no ../shared: the tests that read the
// traces are then skipped, saying which folder is missing. MEMLENS_MEMTRACE_DIR names another folder
// (docs/testing.md).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../helpers/paths.js';

export interface PublicTrace {
  name: string;
  version: number;
  /** Allocation events stated in the shared README, when it states them. */
  statedAllocations?: number;
}

export const PUBLIC_TRACES: PublicTrace[] = [
  { name: 'lists_and_sets-v1.ctf', version: 1 },
  { name: 'synthetic-v2.ctf', version: 2 },
  { name: 'ocamlopt-v3.ctf', version: 3, statedAllocations: 1676 },
];

const envDir = process.env.MEMLENS_MEMTRACE_DIR;
/** The folder of the public traces: ../shared/data/memtrace beside the checkout unless overridden. */
export const publicTracesDir: string =
  envDir !== undefined && envDir !== '' ? envDir : join(sharedDir, 'data', 'memtrace');

/** A test's `skip` option: false when the folder is there, else why the test does not run. */
export const withoutPublicTraces: string | false = existsSync(publicTracesDir)
  ? false
  : `the public memtrace traces are not here: no folder ${publicTracesDir} (set MEMLENS_MEMTRACE_DIR to where they are)`;

export const publicTracePath = (name: string): string => join(publicTracesDir, name);

export function readPublicTrace(name: string): Uint8Array {
  return new Uint8Array(readFileSync(publicTracePath(name)));
}
