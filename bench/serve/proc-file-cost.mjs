// CPU time of reading one /proc file of every process (open, read to the end, close), per file kind,
// mean of 5 passes; then the 8 costliest smaps_rollup and three system-wide files. As root.
// usage: node bench/serve/proc-file-cost.mjs
import { readdirSync, openSync, readSync, closeSync } from 'node:fs';
const buf = Buffer.allocUnsafe(1 << 20);
const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
const files = ['status', 'stat', 'statm', 'smaps_rollup', 'cmdline', 'cgroup'];
const top = [];
for (const f of files) {
  let tot = 0;
  for (let rep = 0; rep < 5; rep++)
    for (const p of pids) {
      const b = process.cpuUsage();
      try {
        const fd = openSync(`/proc/${p}/${f}`, 'r');
        while (readSync(fd, buf, 0, buf.length, null) > 0);
        closeSync(fd);
      } catch {
        // gone meanwhile
      }
      const u = process.cpuUsage(b);
      const ms = (u.user + u.system) / 1000;
      tot += ms;
      if (f === 'smaps_rollup' && rep === 0) top.push([ms, p]);
    }
  console.log(`${f}: ${(tot / 5).toFixed(1)} ms per pass over ${pids.length} pids`);
}
top.sort((a, b) => b[0] - a[0]);
console.log(
  top
    .slice(0, 8)
    .map(([ms, p]) => `${p}:${ms.toFixed(1)}`)
    .join(' '),
);
for (const g of ['meminfo', 'slabinfo', 'config.gz']) {
  let t = 0;
  for (let r = 0; r < 5; r++) {
    const b = process.cpuUsage();
    const fd = openSync('/proc/' + g, 'r');
    while (readSync(fd, buf, 0, buf.length, null) > 0);
    closeSync(fd);
    const u = process.cpuUsage(b);
    t += (u.user + u.system) / 1000;
  }
  console.log(`${g}: ${(t / 5).toFixed(2)} ms`);
}
