// What `memlens snapshot --json` cannot go below in Node: for every process, open, read and close
// the three files its JSON shows (status, smaps_rollup, cmdline) and read the exe link, parsing
// nothing and printing nothing. Run beside memlens, the floor and `node -e 0` (bench/README.md,
// issue 13 §1): the difference to memlens is memlens's own work, the difference to `node -e 0`
// what the reads cost through Node.
//   hyperfine -N 'node -e 0' 'node bench/snapshot/reads-only.mjs' 'node dist/src/cli/main.js snapshot --json'
import { closeSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';

const buf = Buffer.allocUnsafe(65536);
for (const pid of readdirSync('/proc')) {
  if (pid.charCodeAt(0) > 57) continue;
  for (const file of ['status', 'smaps_rollup', 'cmdline']) {
    try {
      const fd = openSync(`/proc/${pid}/${file}`, 'r');
      readSync(fd, buf, 0, buf.length, null);
      closeSync(fd);
    } catch {
      // The process ended, or the file is not readable (a kernel thread's rollup): as memlens, go on.
    }
  }
  try {
    readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // A kernel thread has no exe link.
  }
}
