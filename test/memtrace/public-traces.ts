// The public memtrace traces beside the checkout (see shared/data/memtrace/README.md), read in
// place, never copied into the repository.
import { readFileSync } from 'node:fs';
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

export const publicTracePath = (name: string): string => join(sharedDir, 'data', 'memtrace', name);

export function readPublicTrace(name: string): Uint8Array {
  return new Uint8Array(readFileSync(publicTracePath(name)));
}
