// Two builds' smaps_rollup carry (src/analyses/rollup-carry.ts) over the same processes: each pass
// takes one /proc sample with the first build's carry, then at once one with the second's, and
// prints for each how many rollups it read and the sample's CPU time (user + system of this
// process, as the sampler counts it). Then pauses, as the sampler does between samples. As root.
// usage: node bench/serve/carry-compare.mjs <old dist> <new dist> [passes=12] [pause ms=7000]
const [a, b, passes = '12', pause = '7000'] = process.argv.slice(2);
const { readFileSync } = await import('node:fs');
async function load(dist) {
  const { collectSnapshot } = await import(`${dist}/src/analyses/snapshot.js`);
  const { openLiveProcSource } = await import(`${dist}/src/sources/procfs.js`);
  const { RollupCarry } = await import(`${dist}/src/analyses/rollup-carry.js`);
  return { collectSnapshot, source: openLiveProcSource(), carry: new RollupCarry(30_000) };
}
const builds = [await load(a), await load(b)];
const sums = builds.map(() => ({ ms: 0, read: 0, n: 0 }));
for (let i = 0; i < Number(passes); i++) {
  const line = [];
  // Alternate which build goes first, so that neither always reads a process just after the other.
  const order = i % 2 === 0 ? [0, 1] : [1, 0];
  for (const k of order) {
    const { collectSnapshot, source, carry } = builds[k];
    const before = process.cpuUsage();
    const snap = await collectSnapshot(source, { carry });
    const used = process.cpuUsage(before);
    const ms = (used.user + used.system) / 1000;
    const read = snap.processes.filter((p) => p.pssFrom === 'smaps_rollup' && p.pssReadAtMs === undefined).length;
    line[k] = `${k === 0 ? 'old' : 'new'} ${ms.toFixed(1)} ms, ${read} of ${snap.processes.length} read`;
    // The first pass reads everything in both: left out of the sums.
    if (i > 0) {
      sums[k].ms += ms;
      sums[k].read += read;
      sums[k].n++;
    }
  }
  console.log(`${i}: ${line.join(' | ')}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
  await new Promise((r) => setTimeout(r, Number(pause)));
}
for (const [k, s] of sums.entries())
  console.log(
    `${k === 0 ? 'old' : 'new'}: mean ${(s.ms / s.n).toFixed(1)} ms per sample, ${(s.read / s.n).toFixed(1)} rollups read (passes 1..${s.n})`,
  );
