// Starts bench/snapshot/workload.c: a parent with shared memory and children with private
// memory, all idle until stopped, so that their figures hold still while they are read twice.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';

export interface Workload {
  parent: number;
  children: number[];
  stop(): Promise<void>;
}

/** Compiles the workload into dir (once per dir). */
export function workloadBinary(dir: string): string {
  const binary = join(dir, 'workload');
  if (!existsSync(binary)) {
    execFileSync('gcc', ['-O2', '-Wall', '-o', binary, join(repoRoot, 'bench', 'snapshot', 'workload.c')], {
      stdio: 'inherit',
    });
  }
  return binary;
}

export async function startWorkload(
  dir: string,
  children: number,
  privateKib: number,
  sharedKib: number,
): Promise<Workload> {
  const child = spawn(workloadBinary(dir), [String(children), String(privateKib), String(sharedKib)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const pids: number[] = [];
  const lines = createInterface({ input: child.stdout });
  await waitingFor(`the capture workload (pid ${child.pid}) to say it is ready`, async () => {
    for await (const line of lines) {
      if (line === 'ready') break;
      pids.push(Number(line));
    }
  });
  if (pids.length !== children || child.pid === undefined) throw new Error('the workload did not start');
  return {
    parent: child.pid,
    children: pids,
    stop: async () => {
      child.stdin.end();
      await waitingFor(`the capture workload (pid ${child.pid}) to exit once its stdin closed`, () => exited);
    },
  };
}
