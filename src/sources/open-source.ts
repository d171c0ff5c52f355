// Chooses where /proc data comes from: the live system, or an archive written by
// `memlens capture` (--from FILE).
import type { ProcSource } from './proc-source.js';
import { openLiveProcSource } from './procfs.js';

/** Opens a captured archive ("-" = standard input). Its reader (zlib, streams) loads only then. */
export async function openArchive(path: string): Promise<ProcSource> {
  const { openArchiveSource } = await import('./archive.js');
  return openArchiveSource(path);
}

export async function openProcSource(from: string | undefined): Promise<ProcSource> {
  return from === undefined ? openLiveProcSource() : openArchive(from);
}
