// A machine-wide lock for tests that depend on tracing state shared by every tracer on the machine
// (such as leftover tracefs instances, which any starting `memlens trace` removes). Test files run
// two at a time; tests that need the kernel's tracing to themselves hold this lock.
//
// The lock is a file naming its holder by pid and start time, put in place whole by link(2), which
// fails if the file exists. A holder that was killed leaves the file behind; its pid may by then
// name another process, so the start time decides whether the holder still runs.
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTime } from '../../src/sources/trace-proc.js';
import { waitingFor } from './waiting.js';

const LOCK = join(tmpdir(), 'memlens-test-trace.held');

/** "pid starttime" of a process, or undefined once it has gone. */
function identity(pid: number | 'self'): string | undefined {
  const start = startTime(pid);
  return start === undefined ? undefined : `${pid === 'self' ? process.pid : pid} ${start}`;
}

/** The holder's "pid starttime" if that process no longer runs, else undefined. */
function staleHolder(): string | undefined {
  const held = readHolder();
  if (held === undefined) return undefined; // released meanwhile
  const pid = Number(held.split(' ')[0]);
  return pid > 0 && identity(pid) === held ? undefined : held;
}

async function takeLock(signal: AbortSignal): Promise<void> {
  const mine = identity('self');
  if (mine === undefined) throw new Error('cannot read /proc/self/stat');
  const draft = `${LOCK}.${process.pid}`;
  writeFileSync(draft, `${mine}\n`);
  try {
    for (;;) {
      // The wait's bound ran out: stop trying, or a lock taken after the test gave up would stay held.
      if (signal.aborted) return;
      try {
        linkSync(draft, LOCK);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const stale = staleHolder();
        // Checked again just before removing: another waiter may have removed it and locked.
        if (stale !== undefined && readHolder() === stale) rmSync(LOCK, { force: true });
        else await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    rmSync(draft, { force: true });
  }
}

export async function withTraceLock<T>(fn: () => Promise<T>): Promise<T> {
  // Holders are whole test files that trace (the dashboard's browser test, a VM boot): minutes each.
  await waitingFor(`the trace lock ${LOCK} (held by: ${readHolder() ?? 'nobody'})`, takeLock, 20 * 60_000);
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

function readHolder(): string | undefined {
  try {
    return readFileSync(LOCK, 'utf8').trim();
  } catch {
    return undefined;
  }
}
