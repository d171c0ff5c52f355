// The default tracing backend: the kernel's own tracefs, no compiler and no kernel module.
// A private instance gets the syscall events of mmap, munmap, brk and mremap and the lifecycle
// events; every CPU's binary ring buffer (per_cpu/cpuN/trace_pipe_raw) is read without blocking
// at a modest interval, in whole pages, decoded from the kernel's format files, merged across CPUs
// by timestamp (trace_clock "mono" = CLOCK_MONOTONIC, the clock of process.hrtime), paired and
// attributed. Lost events come from the page headers and from per_cpu/cpuN/stats.
import { closeSync, constants, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, UserError } from '../base/errors.js';
import { ProcessTable } from '../analyses/trace/process-table.js';
import { TraceAssembler } from '../analyses/trace/trace-assembler.js';
import { lostInStats, parseCpuStats } from '../parsers/tracefs/cpu-stats.js';
import { parseEventFormat, type EventFormat } from '../parsers/tracefs/event-format.js';
import { parseEntryHeader, parsePageLayout, type EntryHeaderTypes, type PageLayout } from '../parsers/tracefs/page-layout.js';
import { PageStream } from '../parsers/tracefs/page-stream.js';
import { LIFECYCLE_EVENTS, RecordDecoder, SYSCALL_EVENTS } from '../parsers/tracefs/record-decoder.js';
import type { TraceRecord } from '../parsers/tracefs/trace-records.js';
import type { LostCounts } from '../wire/events.js';
import type { TraceBackend, TraceBackendOptions, TraceBatch } from './trace-backend.js';
import { createInstance, findTracefs, instanceCpus, instanceName, readText, removeInstance, removeLeftovers, tryWrite, write } from './tracefs-instance.js';
import { descendantsOf, listTasks, resolveThread } from './trace-proc.js';

export interface TracefsBackendOptions extends TraceBackendOptions {
  /** Per-CPU ring buffer size (buffer_size_kb). Big, so that bursts between reads are not lost. */
  bufferSizeKb?: number;
  /** How often the buffers are read. */
  pollIntervalMs?: number;
  /** Called once with the names of leftover instances of killed runs that were removed. */
  onLeftoversRemoved?: (names: string[]) => void;
}

/** A lost-events marker placed in the record stream where a page said events were missing. */
interface LostMarker {
  kind: 'lost';
  ktimeNs: bigint;
}
type Item = TraceRecord | LostMarker;

interface CpuReader {
  cpu: number;
  fd: number;
  stream: PageStream;
  /** Timestamp of the last record decoded from this CPU. */
  lastNs: bigint;
}

/** Records within this much of "now" may still be being written on another CPU: held for the next read. */
const SETTLE_NS = 20_000_000n;
/** At most this many pages per CPU per read round, so one busy CPU cannot starve the merge. */
const MAX_PAGES_PER_ROUND = 2048;

export function createTracefsBackend(options: TracefsBackendOptions): TraceBackend {
  return new TracefsBackend(options);
}

class TracefsBackend implements TraceBackend {
  readonly name = 'tracefs' as const;
  private dir: string | undefined;
  private cpus: CpuReader[] = [];
  private layout!: PageLayout;
  private types!: EntryHeaderTypes;
  private decoder!: RecordDecoder;
  private assembler!: TraceAssembler;
  private fresh: Item[] = [];
  private held: Item[] = [];
  private readBuffer = new Uint8Array(0);
  private stopRequested = false;
  private wake: (() => void) | undefined;
  private iterating = false;
  private lostInPages = 0;
  private pagesWithUnknownLoss = 0;
  private lostInStats = 0;
  private signalCount = 0;
  private closed = false;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.signalCount++;
    if (this.signalCount === 1) {
      void this.stop();
      return;
    }
    // A second signal: the user wants out now. Still never leave tracing on.
    this.cleanup();
    process.removeListener(signal, this.onSignal);
    process.kill(process.pid, signal);
  };
  private readonly onExit = () => this.cleanup();

  constructor(private readonly options: TracefsBackendOptions) {}

  async start(): Promise<void> {
    const root = findTracefs();
    const leftovers = removeLeftovers(root);
    if (leftovers.length > 0) this.options.onLeftoversRemoved?.(leftovers);
    this.dir = createInstance(root, instanceName());
    process.on('exit', this.onExit);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, this.onSignal);
    try {
      this.setUp(root, this.dir);
    } catch (e) {
      this.cleanup();
      throw e;
    }
    await Promise.resolve();
  }

  private setUp(root: string, dir: string): void {
    write(join(dir, 'tracing_on'), '0');
    write(join(dir, 'buffer_size_kb'), String(this.options.bufferSizeKb ?? 8192));
    write(join(dir, 'trace_clock'), 'mono');
    if (this.options.excludeSelf) {
      // Leave memlens out in the kernel already: our threads in set_event_notrace_pid, and
      // options/event-fork adds the threads and children they create (kernel/trace/trace_events.c).
      const tids = readdirSync('/proc/self/task').join(' ');
      tryWrite(join(dir, 'options', 'event-fork'), '1');
      tryWrite(join(dir, 'set_event_notrace_pid'), tids);
    }
    const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    this.layout = parsePageLayout(readText(join(root, 'events', 'header_page')), littleEndian, `${root}/events/header_page`);
    this.types = parseEntryHeader(readText(join(root, 'events', 'header_event')), `${root}/events/header_event`);
    const subbuf = tryReadNumber(join(dir, 'buffer_subbuf_size_kb'));
    if (subbuf !== undefined && subbuf * 1024 !== this.layout.pageSize) this.layout = { ...this.layout, pageSize: subbuf * 1024 };
    const formats = new Map<string, EventFormat>();
    for (const { event } of SYSCALL_EVENTS) {
      const format = readFormat(dir, event);
      if (!format) throw new UserError(`this kernel has no ${event} tracepoint: tracefs tracing needs CONFIG_FTRACE_SYSCALLS (try --backend bpftrace)`);
      formats.set(event, format);
    }
    let renameTraced = false;
    for (const event of LIFECYCLE_EVENTS) {
      const format = readFormat(dir, event);
      if (format) formats.set(event, format);
      if (format && event === 'task/task_rename') renameTraced = true;
    }
    this.decoder = new RecordDecoder(formats, littleEndian);
    for (const event of formats.keys()) write(join(dir, 'events', event, 'enable'), '1');
    this.readBuffer = new Uint8Array(this.layout.pageSize * MAX_PAGES_PER_ROUND);
    for (const cpu of instanceCpus(dir)) {
      const fd = openSync(join(dir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'), constants.O_RDONLY | constants.O_NONBLOCK);
      const reader: CpuReader = { cpu, fd, lastNs: 0n, stream: undefined as unknown as PageStream };
      reader.stream = new PageStream(
        this.layout,
        this.types,
        (ts, view, at, length) => {
          const r = this.decoder.decode(ts, view, at, length);
          if (r) this.fresh.push(r);
          reader.lastNs = ts;
        },
        (missed, ts) => {
          if (missed > 0) this.lostInPages += missed;
          else this.pagesWithUnknownLoss++;
          this.fresh.push({ kind: 'lost', ktimeNs: ts });
        },
      );
      this.cpus.push(reader);
    }
    write(join(dir, 'tracing_on'), '1');
    // Seeded after tracing is on: a task created meanwhile is both in /proc and in the trace.
    const table = new ProcessTable(resolveThread, renameTraced);
    table.seed(listTasks(), this.options.excludeSelf ? descendantsOf(process.pid) : []);
    const offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
    this.assembler = new TraceAssembler(table, {
      host: this.options.host,
      wallClockMs: (ns) => offsetMs + Number(ns) / 1e6,
      ...(this.options.pids ? { pids: new Set(this.options.pids) } : {}),
    });
  }

  /** Reads every CPU until it is empty (or a round's worth), decodes, and returns what is settled. */
  private poll(final: boolean): TraceBatch {
    if (this.closed) return { events: [], lifecycle: [] };
    const now = process.hrtime.bigint();
    let watermark = final ? (1n << 64n) : now - SETTLE_NS;
    const pageSize = this.layout.pageSize;
    for (const c of this.cpus) {
      let filled = 0;
      let drained = false;
      while (filled + pageSize <= this.readBuffer.length) {
        let n: number;
        try {
          n = readSync(c.fd, this.readBuffer, filled, pageSize, null);
        } catch (e) {
          if (errnoCode(e) === 'EAGAIN') {
            drained = true;
            break;
          }
          throw e;
        }
        if (n === 0) {
          drained = true;
          break;
        }
        filled += n;
      }
      if (filled > 0) c.stream.push(this.readBuffer.subarray(0, filled));
      if (!drained && !final && c.lastNs < watermark) watermark = c.lastNs;
    }
    this.readStats();
    const all = this.held.length === 0 ? this.fresh : this.held.concat(this.fresh);
    this.fresh = [];
    all.sort((a, b) => (a.ktimeNs < b.ktimeNs ? -1 : a.ktimeNs > b.ktimeNs ? 1 : 0));
    let cut = all.length;
    while (cut > 0 && (all[cut - 1]?.ktimeNs ?? 0n) > watermark) cut--;
    this.held = all.slice(cut);
    const batch: TraceBatch = { events: [], lifecycle: [] };
    for (let i = 0; i < cut; i++) {
      const item = all[i];
      if (!item) continue;
      if (item.kind === 'lost') this.assembler.lostEvents();
      else this.assembler.push(item, batch);
    }
    return batch;
  }

  private readStats(): void {
    if (!this.dir) return;
    let total = 0;
    for (const c of this.cpus) {
      try {
        total += lostInStats(parseCpuStats(readText(join(this.dir, 'per_cpu', `cpu${c.cpu}`, 'stats'))));
      } catch {
        return;
      }
    }
    this.lostInStats = total;
  }

  async *batches(): AsyncIterable<TraceBatch> {
    this.iterating = true;
    try {
      while (!this.stopRequested) {
        const batch = this.poll(false);
        if (batch.events.length > 0 || batch.lifecycle.length > 0) yield batch;
        // stop() may have been called while the consumer handled the batch.
        if (this.isStopRequested()) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.options.pollIntervalMs ?? 100);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
      if (this.dir) {
        // Stop recording, then take everything that is left.
        tryWrite(join(this.dir, 'tracing_on'), '0');
        const last = this.poll(true);
        if (last.events.length > 0 || last.lifecycle.length > 0) yield last;
      }
    } finally {
      this.iterating = false;
      this.cleanup();
    }
  }

  private isStopRequested(): boolean {
    return this.stopRequested;
  }

  stop(): Promise<void> {
    this.stopRequested = true;
    this.wake?.();
    if (!this.iterating) this.cleanup();
    return Promise.resolve();
  }

  /** Synchronous, idempotent: closes the readers and removes the instance. */
  private cleanup(): void {
    if (!this.closed) {
      this.closed = true;
      for (const c of this.cpus) {
        try {
          closeSync(c.fd);
        } catch {
          /* already closed */
        }
      }
    }
    if (this.dir) {
      const dir = this.dir;
      this.readStats();
      this.dir = undefined;
      removeInstance(dir);
    }
    process.removeListener('exit', this.onExit);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, this.onSignal);
  }

  lost(): LostCounts {
    const started = this.cpus.length > 0;
    return {
      // The page headers repeat what "overrun" counts; stats also see drops the pages cannot.
      lostEvents: Math.max(this.lostInStats, this.lostInPages + this.pagesWithUnknownLoss),
      unpaired: started ? this.assembler.unpaired : 0,
      malformed: started ? this.decoder.malformed + this.cpus.reduce((n, c) => n + c.stream.totals.malformedPages, 0) : 0,
    };
  }
}

function readFormat(dir: string, event: string): EventFormat | undefined {
  let text: string;
  try {
    text = readText(join(dir, 'events', event, 'format'));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  return parseEventFormat(text, `events/${event}/format`);
}

function tryReadNumber(path: string): number | undefined {
  try {
    const n = Number(readText(path).trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
