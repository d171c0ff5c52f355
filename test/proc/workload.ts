// Builds and runs test/proc/workload/memload.c: a process tree with known shared and private
// memory (see the comment at the top of the C file).
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';

let built: string | undefined;

export function buildMemload(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'memlens-memload-'));
  const out = join(dir, 'memload');
  execFileSync('gcc', ['-O1', '-Wall', '-o', out, join(repoRoot, 'test', 'proc', 'workload', 'memload.c')], {
    stdio: 'inherit',
  });
  built = out;
  return out;
}

export interface Memload {
  parent: number;
  children: number[];
  child: ChildProcessWithoutNullStreams;
  stop(): Promise<void>;
}

/** Starts memload and resolves once every page is touched. */
export function startMemload(args: string[]): Promise<Memload> {
  const child = spawn(buildMemload(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return waitingFor(
    `memload ${args.join(' ')} (pid ${child.pid}) to touch its pages and say ready`,
    () =>
      new Promise((resolve, reject) => {
        let out = '';
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        child.on('error', reject);
        child.on('exit', (code) => reject(new Error(`memload exited early with ${code}: ${err}`)));
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /^ready ([\d ]+)\n/.exec(out);
          if (!m?.[1]) return;
          const pids = m[1].trim().split(' ').map(Number);
          child.removeAllListeners('exit');
          resolve({
            parent: pids[0] ?? -1,
            children: pids.slice(1),
            child,
            stop: () =>
              waitingFor(
                `memload (pid ${child.pid}) to exit once its stdin closed`,
                () =>
                  new Promise<void>((done) => {
                    if (child.exitCode !== null) {
                      done();
                      return;
                    }
                    child.on('exit', () => done());
                    child.stdin.end();
                  }),
              ),
          });
        });
      }),
  );
}
