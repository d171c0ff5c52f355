// CPU time of one /proc sample as `memlens serve` takes it (snapshot, start times, the two
// adapters), n times in a row after 3 to warm up; median, p10, p90.
// usage: [CARRY=1] [PAUSE=ms] node bench/serve/sample-cost.mjs <dist dir> <n>
//   CARRY=1 keeps smaps_rollup readings across samples (src/analyses/rollup-carry.ts; needs a build
//   that has it); PAUSE waits between samples, as the sampler does.
const [dist, n = '30'] = process.argv.slice(2);
const { collectSnapshot } = await import(`${dist}/src/analyses/snapshot.js`);
const { openLiveProcSource } = await import(`${dist}/src/sources/procfs.js`);
const { statStartTime } = await import(`${dist}/src/parsers/proc/stat.js`);
const { sampleFromSnapshot } = await import(`${dist}/src/server/adapters/snapshot-sample.js`);
const { historySampleFromSnapshot } = await import(`${dist}/src/server/adapters/history-sample.js`);
const source = openLiveProcSource();
const carryMod = process.env.CARRY ? await import(`${dist}/src/analyses/rollup-carry.js`) : null;
const carry = carryMod ? new carryMod.RollupCarry(30000) : undefined;
async function one() {
  const snap = await collectSnapshot(source, carry ? { carry } : {});
  const starts = new Map();
  for (const p of snap.processes) {
    const r = await source.readText(`${p.pid}/stat`);
    if (r.ok) starts.set(p.pid, statStartTime(r.value));
  }
  sampleFromSnapshot(snap, starts);
  historySampleFromSnapshot(snap, (pid) => starts.get(pid));
  return snap.processes.length;
}
for (let i = 0; i < 3; i++) await one();
const costs = [];
let procs = 0;
for (let i = 0; i < Number(n); i++) {
  const b = process.cpuUsage();
  if (process.env.PAUSE) await new Promise((r) => setTimeout(r, Number(process.env.PAUSE)));
  procs = await one();
  const u = process.cpuUsage(b);
  costs.push((u.user + u.system) / 1000);
}
costs.sort((a, b) => a - b);
console.log(
  `pause=${process.env.PAUSE ?? 0} carry=${!!carry} deferred=${carry?.deferred} ${dist.split('/').pop()}: ${procs} processes, CPU per sample median ${costs[costs.length >> 1].toFixed(1)} ms, p10 ${costs[Math.floor(costs.length * 0.1)].toFixed(1)}, p90 ${costs[Math.floor(costs.length * 0.9)].toFixed(1)}; load ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`,
);
