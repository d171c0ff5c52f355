// This process's own resource limits, read from /proc/self/limits: Node has no getrlimit().
import { readFileSync } from 'node:fs';
import { parseResourceLimit } from '../parsers/proc/limits.js';

/**
 * The soft RLIMIT_NOFILE of this process: the most descriptors it may hold open at once. Node
 * raises the soft limit to the hard one at start (src/node.cc, PlatformInit), so this is the
 * raised value. Null when unlimited or unreadable.
 */
export function openFilesLimit(): number | null {
  try {
    return parseResourceLimit(readFileSync('/proc/self/limits', 'utf8'), 'Max open files')?.soft ?? null;
  } catch {
    return null;
  }
}
