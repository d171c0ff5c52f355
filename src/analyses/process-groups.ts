// Groups of processes: by program (same executable, like ps_mem), user, or cgroup (systemd
// unit or container). Groups sum PSS, which splits each shared page between the processes
// mapping it, so a page shared inside a group is counted once. RSS sums are kept for
// comparison only: they count shared pages once per process.
import type { Bytes } from '../base/units.js';
import type { ProcessMemory } from './processes.js';

import type { GroupBy } from '../wire/snapshot-kinds.js';

export type { GroupBy };
export const GROUP_BYS: readonly GroupBy[] = ['process', 'program', 'user', 'cgroup'];

export interface ProcessGroup {
  key: string;
  label: string;
  pids: number[];
  /** Σ PSS over the processes whose PSS is known. */
  pssBytes: Bytes | null;
  ussBytes: Bytes | null;
  /** Σ RSS: counts shared pages once per process, so it can exceed the group's real use. */
  rssBytes: Bytes | null;
  swapBytes: Bytes | null;
  swapPssBytes: Bytes | null;
  /** Processes of the group whose PSS could not be read. */
  pssUnknown: number;
}

function groupKey(p: ProcessMemory, by: GroupBy): { key: string; label: string } {
  switch (by) {
    case 'process':
      return { key: String(p.pid), label: p.name };
    case 'program':
      return { key: p.program, label: p.program };
    case 'user':
      return { key: String(p.uid), label: p.user ?? String(p.uid) };
    case 'cgroup': {
      const path = p.cgroup ?? '(unknown)';
      const last = path
        .split('/')
        .filter((s) => s !== '')
        .pop();
      return { key: path, label: last ?? path };
    }
  }
}

function add(a: Bytes | null, b: Bytes | null): Bytes | null {
  if (b === null) return a;
  return ((a ?? 0) + b) as Bytes;
}

export function groupProcesses(processes: readonly ProcessMemory[], by: GroupBy): ProcessGroup[] {
  const groups = new Map<string, ProcessGroup>();
  for (const p of processes) {
    const { key, label } = groupKey(p, by);
    let g = groups.get(key);
    if (!g) {
      g = {
        key,
        label,
        pids: [],
        pssBytes: null,
        ussBytes: null,
        rssBytes: null,
        swapBytes: null,
        swapPssBytes: null,
        pssUnknown: 0,
      };
      groups.set(key, g);
    }
    g.pids.push(p.pid);
    g.pssBytes = add(g.pssBytes, p.pssBytes);
    g.ussBytes = add(g.ussBytes, p.ussBytes);
    g.rssBytes = add(g.rssBytes, p.rssBytes);
    g.swapBytes = add(g.swapBytes, p.swapBytes);
    g.swapPssBytes = add(g.swapPssBytes, p.swapPssBytes);
    if (p.pssBytes === null) g.pssUnknown++;
  }
  return [...groups.values()];
}
