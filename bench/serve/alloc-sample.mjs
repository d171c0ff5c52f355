// What a running Node process allocates, by function: V8's sampling heap profiler over the
// inspector protocol, keeping the samples of objects already collected (the garbage is what the
// collector's time goes to, so a profile of what is still live at the end would miss it).
// usage: node bench/serve/alloc-sample.mjs <inspector port> <seconds> [top]
//   The process must run with --inspect=<port>, e.g. for the server:
//   NODE_ARGS=--inspect=9339 node bench/serve/idle-cpu.mjs $PWD/dist 90 trace browser &
//   sleep 15; node bench/serve/alloc-sample.mjs 9339 60
// Prints MiB allocated per function (self), and per function with what it calls (inclusive),
// per second of the window. Only the main thread is sampled (a worker has an inspector target of
// its own).
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const WebSocket = require('ws');
const [port, secs = '60', topArg = '40'] = process.argv.slice(2);
const top = Number(topArg);
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});
let nextId = 1;
const pending = new Map();
ws.on('message', (d) => {
  const m = JSON.parse(d.toString());
  if (m.id !== undefined && pending.has(m.id)) {
    pending.get(m.id)(m);
    pending.delete(m.id);
  }
});
const call = (method, params = {}) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
    ws.send(JSON.stringify({ id, method, params }));
  });
await call('HeapProfiler.enable');
await call('HeapProfiler.startSampling', {
  samplingInterval: 16384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
await new Promise((r) => setTimeout(r, Number(secs) * 1000));
const { profile } = await call('HeapProfiler.stopSampling');
ws.close();
const self = new Map();
const incl = new Map();
const keyOf = (cf) => `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
const walk = (node, stack) => {
  const key = keyOf(node.callFrame);
  const own = node.selfSize;
  self.set(key, (self.get(key) ?? 0) + own);
  const here = stack.includes(key) ? stack : [...stack, key];
  for (const k of here) incl.set(k, (incl.get(k) ?? 0) + own);
  for (const c of node.children) walk(c, here);
};
walk(profile.head, []);
const perS = (b) => ((b / 2 ** 20 / Number(secs)).toFixed(2) + ' MiB/s').padStart(12);
let total = 0;
for (const v of self.values()) total += v;
console.log(`allocated ${perS(total)} over ${secs} s`);
console.log('--- self');
for (const [k, b] of [...self].sort((a, z) => z[1] - a[1]).slice(0, top)) console.log(perS(b), k);
console.log('--- inclusive');
for (const [k, b] of [...incl].sort((a, z) => z[1] - a[1]).slice(0, top * 2)) console.log(perS(b), k);
