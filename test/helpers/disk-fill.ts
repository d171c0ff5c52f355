// Filling a filesystem to its last byte, for the tests and the soak that make a disk full.
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Fills the filesystem holding `dir` to the last byte (large writes, then smaller ones down to one
 * byte); returns the filler file, whose removal makes room again.
 */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (const size of [1 << 20, 4096, 1]) {
      try {
        for (;;) writeSync(fd, chunk, 0, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}
