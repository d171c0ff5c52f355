// Starts bench/snapshot/workload.c: a parent with shared memory and children with private
// memory, all idle until stopped, so that their figures hold still while they are read twice.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../helpers/paths.js';

export interface Workload {
  parent: number;
  children: number[];
  stop(): Promise<void>;
}

let binary: string | undefined;

export function workloadBinary(): string {
  if (!binary) {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-workload-'));
    binary = join(dir, 'workload');
    execFileSync('gcc', ['-O2', '-Wall', '-o', binary, join(repoRoot, 'bench', 'snapshot', 'workload.c')], { stdio: 'inherit' });
  }
  return binary;
}

export async function startWorkload(children: number, privateKib: number, sharedKib: number): Promise<Workload> {
  const child = spawn(workloadBinary(), [String(children), String(privateKib), String(sharedKib)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const pids: number[] = [];
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line === 'ready') break;
    pids.push(Number(line));
  }
  if (pids.length !== children || child.pid === undefined) throw new Error('the workload did not start');
  return {
    parent: child.pid,
    children: pids,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}
