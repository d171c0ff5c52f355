// CPU per traced call of everything memlens does after the kernel, measured on a fixed input so that
// the figure does not depend on how loaded the machine is. A tracefs instance of the benchmark's own
// records `mmap-rate` (mmap+munmap pairs at R calls/s for S seconds, on CPU 0) into ring buffers
// large enough that nothing is dropped, with nobody reading; its pages are then read out into
// memory, the instance removed, and only then is the clock started: the pages are decoded, merged
// across CPUs, paired and attributed, applied to the per-process accounts, and written into the
// store (the same StoreSink and worker thread `memlens trace` uses), in rounds of 256 KiB per CPU as
// the tracefs backend reads them. The figure is the CPU time (user + system, all threads) of this
// process from the first page to the store's close, over the calls stored; the main thread's share
// is shown apart. What this leaves out is the read() of the pages from the kernel, which the
// throughput benchmark (throughput.ts) includes. Run as root after `npm run build`:
//   node dist/bench/trace/replay.js [--rate 100000] [--seconds 5] [--db FILE|URL|none] [--repeat 3]
import {
  readFileSync,
  readSync,
  openSync,
  closeSync,
  constants,
  rmSync,
  existsSync,
  writeFileSync,
  readdirSync,
} from 'node:fs';
import { join } from 'node:path';
import { ProcessAccounts } from '../../src/analyses/trace/process-accounts.js';
import { ProcessTable } from '../../src/parsers/trace/process-table.js';
import { TraceAssembler } from '../../src/parsers/trace/trace-assembler.js';
import { parseEventFormat, type EventFormat } from '../../src/parsers/tracefs/event-format.js';
import { parseEntryHeader, parsePageLayout } from '../../src/parsers/tracefs/page-layout.js';
import { PageStream } from '../../src/parsers/tracefs/page-stream.js';
import { LIFECYCLE_EVENTS, RecordDecoder, SYSCALL_EVENTS } from '../../src/parsers/tracefs/record-decoder.js';
import type { RawTraceRecord } from '../../src/parsers/tracefs/trace-records.js';
import { MonotonicClock } from '../../src/sources/mono-clock.js';
import { WorkerWriter } from '../../src/store/index.js';
import { TraceStoreFeed } from '../../src/store/trace-feed.js';
import type { TraceBatch } from '../../src/wire/events.js';
import { arg, buildC, runToEnd, scratch, withTracepointsInstance } from './harness.js';

const rate = Number(arg('rate', '100000'));
const seconds = Number(arg('seconds', '5'));
const db = arg('db', 'sqlite');
const repeat = Number(arg('repeat', '3'));
const ROUND_BYTES = 256 * 1024;

interface Capture {
  pages: Uint8Array[]; // per CPU, every page read
  formats: Map<string, EventFormat>;
  headerPage: string;
  headerEvent: string;
  pid: number;
  made: number;
}

async function capture(bin: string): Promise<Capture> {
  return withTracepointsInstance('memlens-bench-replay', async (dir) => {
    const root = '/sys/kernel/tracing';
    // Room for everything: about 60 bytes per record, two records per call, with a margin.
    writeFileSync(join(dir, 'tracing_on'), '0');
    writeFileSync(join(dir, 'buffer_size_kb'), String(Math.ceil((rate * seconds * 2 * 80) / 1024) + 8192));
    if (existsSync(join(dir, 'events', 'syscalls', 'sys_enter_mprotect')))
      for (const s of ['enter', 'exit'])
        writeFileSync(join(dir, 'events', 'syscalls', `sys_${s}_mprotect`, 'enable'), '1');
    writeFileSync(join(dir, 'trace_clock'), 'mono');
    writeFileSync(join(dir, 'tracing_on'), '1');
    const out = await runToEnd('taskset', ['-c', '0', bin, String(rate), String(seconds)]);
    writeFileSync(join(dir, 'tracing_on'), '0');
    const m = /pid (\d+) calls (\d+)/.exec(out);
    if (!m?.[1] || !m[2]) throw new Error(`workload said: ${out}`);
    const formats = new Map<string, EventFormat>();
    for (const e of [...SYSCALL_EVENTS.map((s) => s.event), ...LIFECYCLE_EVENTS]) {
      const path = join(dir, 'events', e, 'format');
      if (!existsSync(path)) continue;
      const f = parseEventFormat(readFileSync(path, 'utf8'), e);
      if (f) formats.set(e, f);
    }
    const pages: Uint8Array[] = [];
    for (let cpu = 0; existsSync(join(dir, 'per_cpu', `cpu${cpu}`)); cpu++) {
      const fd = openSync(
        join(dir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'),
        constants.O_RDONLY | constants.O_NONBLOCK,
      );
      const chunks: Buffer[] = [];
      for (;;) {
        const b = Buffer.alloc(4096);
        let n = 0;
        try {
          n = readSync(fd, b, 0, 4096, null);
        } catch {
          n = 0;
        }
        if (n === 0) break;
        chunks.push(b.subarray(0, n));
      }
      closeSync(fd);
      pages.push(Buffer.concat(chunks));
    }
    for (let cpu = 0; cpu < pages.length; cpu++) {
      const stats = readFileSync(join(dir, 'per_cpu', `cpu${cpu}`, 'stats'), 'utf8');
      if (!/^overrun: 0$/m.test(stats)) throw new Error(`the capture lost records on CPU ${cpu}: ${stats}`);
    }
    return {
      pages,
      formats,
      headerPage: readFileSync(join(root, 'events', 'header_page'), 'utf8'),
      headerEvent: readFileSync(join(root, 'events', 'header_event'), 'utf8'),
      pid: Number(m[1]),
      made: Number(m[2]),
    };
  });
}

type Item = RawTraceRecord | { kind: 'lost'; ktimeNs: bigint };

function threadCpuMs(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** CPU time of each thread of this process now (a thread that has ended is no longer listed). */
function threadsCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      out.set(Number(t), threadCpuMs(Number(t)));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

async function replay(
  c: Capture,
): Promise<{ cpuMs: number; mainMs: number; workerMs: number; wallMs: number; events: number; got: number }> {
  // What openStoreSink opens (trace-sink.ts), used directly so that the end can wait for the whole
  // backlog (the sink's close gives up after 5 s and spills the rest).
  let writer: WorkerWriter | undefined;
  let feed: TraceStoreFeed | undefined;
  const beforeOpen = threadsCpuMs();
  if (db !== 'none') {
    const target = db === 'sqlite' ? join(scratch, `replay-${Date.now()}.sqlite`) : db;
    writer = await WorkerWriter.open(target);
    feed = new TraceStoreFeed(writer, 'bench');
  }
  const le = true;
  const layout = parsePageLayout(c.headerPage, le);
  const types = parseEntryHeader(c.headerEvent);
  const decoder = new RecordDecoder(c.formats, le);
  const table = new ProcessTable(undefined, c.formats.has('task/task_rename'));
  table.seed([{ tid: c.pid, tgid: c.pid, comm: 'mmap-rate' }]);
  const clock = new MonotonicClock();
  const assembler = new TraceAssembler(table, { host: 'bench', wallClockMs: (ns) => clock.wallMs(ns) });
  const accounts = new ProcessAccounts(4096n);
  const cpus = c.pages.map((bytes) => {
    const r = { bytes, at: 0, queue: [] as Item[], lastNs: 0n, stream: undefined as unknown as PageStream };
    r.stream = new PageStream(
      layout,
      types,
      (ts, view, at, length) => {
        const rec = decoder.decode(ts, view, at, length);
        if (rec) r.queue.push(rec);
        r.lastNs = ts;
      },
      (_missed, ts) => r.queue.push({ kind: 'lost', ktimeNs: ts }),
    );
    return r;
  });
  let events = 0;
  let got = 0;
  // The store's worker thread is the thread started by the open: its CPU is read from here to just
  // before its close ends it. The rest (V8's and libuv's helpers) is the total less main and worker.
  const started = [...threadsCpuMs()].filter(([tid]) => !beforeOpen.has(tid));
  let workerMs = 0;
  const cpu0 = process.cpuUsage();
  const main0 = threadCpuMs(process.pid);
  const t0 = performance.now();
  for (;;) {
    let more = false;
    for (const r of cpus) {
      const end = Math.min(r.bytes.length, r.at + ROUND_BYTES);
      if (end > r.at) r.stream.push(r.bytes.subarray(r.at, end));
      r.at = end;
      if (end < r.bytes.length) more = true;
    }
    // Settled: what every CPU has passed (all of it at the end), merged by time as the backend does.
    let watermark = 1n << 64n;
    if (more) for (const r of cpus) if (r.at < r.bytes.length && r.lastNs < watermark) watermark = r.lastNs;
    const settled: Item[] = [];
    for (const r of cpus) {
      let i = 0;
      while (i < r.queue.length && (r.queue[i]?.ktimeNs ?? 0n) <= watermark) settled.push(r.queue[i++] as Item);
      r.queue = r.queue.slice(i);
    }
    settled.sort((a, b) => (a.ktimeNs < b.ktimeNs ? -1 : a.ktimeNs > b.ktimeNs ? 1 : 0));
    const batch: TraceBatch = { events: [], lifecycle: [] };
    for (const item of settled) {
      if (item.kind === 'lost') assembler.lostEvents();
      else assembler.push(item, batch);
    }
    accounts.apply(batch);
    events += batch.events.length;
    for (const e of batch.events) if (e.pid === c.pid) got++;
    if (writer && feed) {
      feed.write(batch.events, batch.lifecycle);
      const behind = writer.pressure();
      if (behind !== undefined) await behind;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!more) break;
  }
  if (writer && feed) {
    feed.reportLost({ lostEvents: 0, unpaired: assembler.unpaired, malformed: 0 });
    await writer.flush();
    const now = threadsCpuMs();
    for (const [tid, ms] of started) workerMs += (now.get(tid) ?? ms) - ms;
    const outcome = await writer.close();
    if (!outcome.complete) throw new Error('the store did not take every event');
  }
  const wallMs = performance.now() - t0;
  const u = process.cpuUsage(cpu0);
  return {
    cpuMs: (u.user + u.system) / 1000,
    mainMs: threadCpuMs(process.pid) - main0,
    workerMs,
    wallMs,
    events,
    got,
  };
}

const bin = await buildC('mmap-rate');
const c = await capture(bin);
console.log(
  `captured ${c.made} calls of mmap-rate (pid ${c.pid}) at ${rate}/s: ${c.pages.map((p) => `${(p.length / 1048576).toFixed(1)} MiB`).join(' + ')} of pages`,
);
console.log(
  '| run | events | of the workload | wall s | CPU s | of which main thread | CPU per event | main thread per event | store worker per event | other threads per event |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (let i = 1; i <= repeat; i++) {
  const r = await replay(c);
  console.log(
    `| ${i} | ${r.events} | ${r.got} of ${c.made} | ${(r.wallMs / 1000).toFixed(2)} | ${(r.cpuMs / 1000).toFixed(2)} | ${(r.mainMs / 1000).toFixed(2)} | ${((r.cpuMs * 1000) / r.events).toFixed(2)} µs | ${((r.mainMs * 1000) / r.events).toFixed(2)} µs | ${((r.workerMs * 1000) / r.events).toFixed(2)} µs | ${(((r.cpuMs - r.mainMs - r.workerMs) * 1000) / r.events).toFixed(2)} µs |`,
  );
}
rmSync(scratch, { recursive: true, force: true });
