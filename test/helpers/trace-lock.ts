// A machine-wide lock for tests that depend on tracing state shared by every tracer on the machine
// (such as leftover tracefs instances, which any starting `memlens trace` removes). Test files run
// two at a time; tests that need the kernel's tracing to themselves hold this lock.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitingFor } from './waiting.js';

const LOCK = join(tmpdir(), 'memlens-test-trace.lock');

function holderAlive(): boolean {
  try {
    const pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    if (!(pid > 0)) return true; // being written: assume alive
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export async function withTraceLock<T>(fn: () => Promise<T>): Promise<T> {
  await waitingFor(`the trace lock ${LOCK}`, takeLock);
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

async function takeLock(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!holderAlive()) rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
}
