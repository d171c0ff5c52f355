// This process's own resource limits, read from self/limits of procfs: Node has no getrlimit().
import { parseResourceLimit } from '../parsers/proc/limits.js';
import type { ProcSource } from './proc-source.js';
import { openLiveProcSource } from './procfs.js';

/**
 * The soft RLIMIT_NOFILE of this process: the most descriptors it may hold open at once. Node
 * raises the soft limit to the hard one at start (src/node.cc, PlatformInit), so this is the
 * raised value. Null when unlimited or unreadable.
 */
export async function openFilesLimit(proc: ProcSource = openLiveProcSource()): Promise<number | null> {
  try {
    const r = await proc.readText('self/limits');
    return r.ok ? (parseResourceLimit(r.value, 'Max open files')?.soft ?? null) : null;
  } catch {
    return null;
  }
}
