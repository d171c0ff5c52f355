// Chooses where /proc data comes from: the live system, or an archive written by
// `memlens capture` (--from FILE).
import { UserError } from '../base/errors.js';
import type { ProcSource } from './proc-source.js';
import { openLiveProcSource } from './procfs.js';

/** Opens a captured archive. Until archive support lands this says so in one line. */
export function openArchive(path: string): Promise<ProcSource> {
  return Promise.reject(new UserError(`archives not supported yet (${path})`));
}

export async function openProcSource(from: string | undefined): Promise<ProcSource> {
  return from === undefined ? openLiveProcSource() : openArchive(from);
}
