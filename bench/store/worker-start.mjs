// What starting the store's worker costs: the wall time until it answers "ready" on a new SQLite
// file, the CPU time of the process meanwhile (both threads), and the resident memory it added,
// for each of several builds, alternated, a new process per start (as every `memlens trace` pays
// it). Takes the dist directories to compare, so that an older build can run beside this one; each
// is named by the directory that holds it.
//   node bench/store/worker-start.mjs <dist dir> [<dist dir> ...] [--rounds 3]
// It runs itself once per build and round with --one, so that no build starts warm.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
if (args[0] === '--one') {
  const { WorkerWriter } = await import(pathToFileURL(join(args[1], 'src/store/worker-writer.js')).href);
  const file = join(tmpdir(), `memlens-worker-start-${process.pid}.db`);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const writer = await WorkerWriter.open(file);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // The worker's first allocations settle after "ready"; read the memory a little later.
  await new Promise((r) => setTimeout(r, 300));
  const addedMib = (process.memoryUsage().rss - rss0) / 1048576;
  await writer.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  process.stdout.write(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, addedMib }));
  process.exit(0);
}

const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
const dists = args.filter((a, i) => a !== '--rounds' && i !== roundsAt + 1).map((d) => resolve(d));
if (dists.length === 0) throw new Error('usage: worker-start.mjs <dist dir> [<dist dir> ...] [--rounds N]');
const self = fileURLToPath(import.meta.url);
console.log('| build | round | ready after | CPU | resident memory added |');
console.log('|---|---:|---:|---:|---:|');
for (let round = 1; round <= rounds; round++) {
  for (const dist of dists) {
    const r = JSON.parse(execFileSync(process.execPath, [self, '--one', dist], { encoding: 'utf8' }));
    console.log(
      `| ${basename(dirname(dist))} | ${round} | ${r.wallMs.toFixed(0)} ms | ${r.cpuMs.toFixed(0)} ms | ${r.addedMib.toFixed(1)} MiB |`,
    );
  }
}
