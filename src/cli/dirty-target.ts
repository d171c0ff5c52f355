// The checks `memlens dirty` and `memlens serve --dirty-watch` make before anything is cleared.
// One place, so that both refuse the same things in the same words and with the same exit code
// (refusal, no such process, permission: 1).
import { UserError } from '../base/errors.js';
import { ProcessPages, probeSoftDirty, type SoftDirtyProbe } from '../sources/pagemap.js';
import { openLiveProcSource } from '../sources/procfs.js';
import { DIRTY_MEANING, type DirtyMethod } from '../wire/dirty.js';
import type { DirtyFlagNames } from './dirty-flags.js';

export interface DirtyTarget {
  pid: number;
  /** Its files in the live /proc. */
  pages: ProcessPages;
  /** /proc/PID/comm now (untrusted text; "?" when unreadable). */
  name: string;
  pageSize: number;
  probe: SoftDirtyProbe;
  method: DirtyMethod;
  meaning: string;
}

/**
 * Refuses pid 1 and memlens itself unless forced (clearing their bits disturbs them) and a pid
 * without a running process; finds the page size and whether this kernel tracks soft-dirty pages
 * (a round trip on memlens's own memory). Clears nothing of the target.
 */
export async function inspectTarget(
  pid: number,
  o: { force?: boolean | undefined; fallback?: 'accessed' | undefined },
  names: DirtyFlagNames,
): Promise<DirtyTarget> {
  if ((pid === 1 || pid === process.pid) && o.force !== true) {
    throw new UserError(
      `refusing pid ${pid} (${pid === 1 ? 'init' : 'memlens itself'}): clearing its bits disturbs it; use ${names.force} if you mean it`,
    );
  }
  const proc = openLiveProcSource();
  const pageSize = await proc.pageSize();
  const pages = new ProcessPages(proc, pid, pageSize);
  if (!(await pages.isAlive())) throw new UserError(`no running process ${pid}`);
  const probe = await probeSoftDirty(proc, pageSize);
  const method: DirtyMethod = o.fallback === 'accessed' ? 'accessed' : 'soft-dirty';
  return { pid, pages, name: (await pages.name()) ?? '?', pageSize, probe, method, meaning: DIRTY_MEANING[method] };
}

/** The one line said when soft-dirty pages are asked for on a kernel that does not track them. */
export function softDirtyMissing(target: DirtyTarget, names: DirtyFlagNames, how: string): string {
  return `soft-dirty tracking is not available on this kernel: ${target.probe.detail}. ${how} with ${names.fallback} accessed to count ${DIRTY_MEANING.accessed} instead.`;
}

/** Checks, clearing nothing, that the target's clear_refs may be written (its owner or root). */
export function checkWatchRights(target: DirtyTarget): void {
  target.pages.checkClearRights();
}
