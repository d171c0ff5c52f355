// Throughput: the event rate memlens sustains for a whole run with zero lost events, and its peak
// memory. A paced workload makes mmap+munmap pairs at R calls per second for S seconds while
// memlens traces into the store; a rate passes when every call of the workload reached memlens,
// nothing was lost and the workload kept its pace.
//   node dist/bench/trace/throughput.js [--rates 25000,50000,100000] [--seconds 60] [--backend tracefs] [--db FILE|URL] [--output quiet|json]
// (--output json also writes every event as an NDJSON line, to /dev/null.)
import { join } from 'node:path';
import { arg, buildC, runToEnd, scratch, sleep, startMemlens } from './harness.js';

const rates = arg('rates', '25000,50000,100000').split(',').map(Number);
const seconds = Number(arg('seconds', '60'));
const backend = arg('backend', 'tracefs');
const db = arg('db', join(scratch, 'throughput.sqlite'));
const storeArgs = db === 'none' ? ['--no-store'] : ['--db', db];
const output = arg('output', 'quiet');
const outputArgs = output === 'quiet' ? ['--quiet'] : [];

const bin = await buildC('mmap-rate');
console.log(
  `| target calls/s | achieved calls/s | calls recorded | lost | unpaired | memlens CPU per call | memlens peak RSS | verdict |`,
);
console.log(`|---:|---:|---:|---:|---:|---:|---:|---|`);
for (const rate of rates) {
  const t = await startMemlens(['--backend', backend, ...outputArgs, ...storeArgs]);
  const cpuBefore = t.cpuMs();
  const out = await runToEnd('taskset', ['-c', '0', bin, String(rate), String(seconds)]);
  const m = /pid (\d+) calls (\d+) seconds ([\d.]+)/.exec(out);
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`workload said: ${out}`);
  const pid = Number(m[1]);
  const made = Number(m[2]);
  const achieved = made / Number(m[3]);
  await sleep(2000);
  const cpuMs = t.cpuMs() - cpuBefore;
  const s = await t.stop();
  const got = s.processes.find((p) => p.pid === pid)?.calls ?? 0;
  // The dynamic loader's own calls come on top of the workload's.
  const complete = got >= made && got <= made + 64;
  const ok = complete && s.lost.lostEvents === 0 && achieved >= rate * 0.98;
  console.log(
    `| ${rate} | ${achieved.toFixed(0)} | ${got} of ${made} | ${s.lost.lostEvents} | ${s.lost.unpaired} | ${((cpuMs * 1000) / Math.max(got, 1)).toFixed(2)} µs | ${(t.peakRssKib() / 1024).toFixed(0)} MiB | ${ok ? 'sustained' : 'not sustained'} |`,
  );
}
