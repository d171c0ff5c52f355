// The kinds the snapshot's JSON names: how processes are grouped, and what a mapping is. The
// analyses classify with these same names (src/analyses/mappings.ts, process-groups.ts).

/** How processes are grouped (`memlens snapshot --group-by`). */
export type GroupBy = 'process' | 'program' | 'user' | 'cgroup';

/** What a mapping holds, from its path and flags in /proc/PID/smaps. */
export type MappingKind = 'heap' | 'stack' | 'anon' | 'anon-named' | 'file' | 'shmem' | 'memfd' | 'sysv' | 'kernel';
