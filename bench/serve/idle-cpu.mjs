// CPU time (utime + stime from /proc/PID/stat) of one `memlens serve` over a fixed window, as root,
// optionally with a headless Chromium on the dashboard and under `node --cpu-prof`. Takes the dist
// directory to run, so that a copy of an older build can be measured side by side with the new one.
// usage: node bench/serve/idle-cpu.mjs <dist dir> <seconds> [trace|notrace] [browser|nobrowser] [cpu-prof dir]
//   (LABEL=<name> names the build in the line printed, the dist directory's parent by default;
//   BUDGET=<percent> passes --cpu-budget; NODE_ARGS='--trace-gc' adds Node options;
//   SERVER_LOG=<file> keeps the server's output). Prints the share of one core, the load average at the
//   window's ends, the sampler's state at the end (interval, last cost, pssDeferred), and the share
//   of each of the server's threads by name (main, the store's writer worker, V8's and libuv's).
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const [dist, secs = '120', tr = 'trace', br = 'browser', prof] = process.argv.slice(2);
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const cpu = (pid) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
};
/**
 * CPU seconds of each thread of `pid` by its name (comm: the main thread is named after the
 * program, the store's writer is a Worker thread, V8's helpers and libuv's pool have names of their
 * own). A thread that ended within the window is missing from the second reading: its share is in
 * the process's total only.
 */
const threads = (pid) => {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}#${tid}`, (Number(f[11]) + Number(f[12])) / TICK);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
};
/**
 * The share of one core of each thread over the window, largest first: the main thread, then each
 * other thread above 0.05 % by name and tid (Node names them all "node": with tracing the largest is
 * the store's writer, a worker thread; the others are V8's and libuv's), then the rest together.
 */
const threadShares = (before, after, seconds) => {
  const pct = (c) => ((c / seconds) * 100).toFixed(2);
  const shares = [...after]
    .map(([key, c1]) => [key.startsWith('main#') ? 'main' : key, c1 - (before.get(key) ?? 0)])
    .filter(([, c]) => c > 0)
    .sort((a, b) => b[1] - a[1]);
  const shown = shares.filter(([key, c]) => key === 'main' || (c / seconds) * 100 >= 0.05);
  const rest = shares.filter((x) => !shown.includes(x));
  const restCpu = rest.reduce((sum, [, c]) => sum + c, 0);
  return [
    ...shown.map(([key, c]) => `${key} ${pct(c)}`),
    ...(rest.length > 0 ? [`${rest.length} others ${pct(restCpu)}`] : []),
  ].join(', ');
};
const label = process.env.LABEL ?? resolve(dist, '..').split('/').pop();
const dir = mkdtempSync(join(tmpdir(), 'quiet-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const nodeArgs = [
  ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []),
  ...(process.env.NODE_ARGS ? process.env.NODE_ARGS.split(' ') : []),
];
const args = [
  ...nodeArgs,
  join(dist, 'src/cli/main.js'),
  'serve',
  '--port',
  String(port),
  '--db',
  join(dir, 'e.db'),
  ...(tr === 'notrace' ? ['--no-trace'] : []),
  ...(process.env.BUDGET ? ['--cpu-budget', process.env.BUDGET] : []),
];
const child = spawn(process.execPath, args, {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, NO_COLOR: '1', XDG_DATA_HOME: dir },
});
let err = '';
child.stderr.on('data', (d) => (err += d));
if (process.env.SERVER_LOG) {
  const log = createWriteStream(process.env.SERVER_LOG);
  child.stdout.on('data', (d) => log.write(d));
  child.stderr.on('data', (d) => log.write(d));
}
const url = await new Promise((res, rej) => {
  let out = '';
  const on = (d) => {
    out += d;
    const m = /dashboard at (\S+)/.exec(out);
    if (m) res(m[1]);
  };
  child.stdout.on('data', on);
  child.stderr.on('data', on);
  child.on('exit', () => rej(new Error('exited: ' + err)));
});
let ctx;
if (br === 'browser') {
  ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'quiet-chr-')), {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1440, height: 900 },
  });
  const page = await ctx.newPage();
  await page.goto(url);
}
await new Promise((r) => setTimeout(r, 10000));
const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const c0 = cpu(child.pid);
const th0 = threads(child.pid);
const t0 = Date.now();
await new Promise((r) => setTimeout(r, Number(secs) * 1000));
const c1 = cpu(child.pid);
const th1 = threads(child.pid);
const t1 = Date.now();
const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
let samplerInfo = '';
try {
  const r = await fetch(new URL('/api/v1/status', url));
  if (r.ok) {
    const j = await r.json();
    samplerInfo = JSON.stringify(j.sampler ?? j.status?.sampler ?? '');
  }
} catch {
  // The server may be gone: the figure above is what counts.
}
console.log(
  `${new Date().toISOString().slice(11, 16)} ${label} ${tr} ${br}: ${(((c1 - c0) / ((t1 - t0) / 1000)) * 100).toFixed(2)} % of a core over ${((t1 - t0) / 1000).toFixed(0)} s, load ${load0}->${load1} ${samplerInfo}`,
);
console.log(`  threads (% of a core): ${threadShares(th0, th1, (t1 - t0) / 1000)}`);
if (ctx) await ctx.close();
child.kill('SIGINT');
await new Promise((r) => child.on('exit', r));
