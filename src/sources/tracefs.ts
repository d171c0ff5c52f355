// The default tracing backend: the kernel's own tracefs, no compiler and no kernel module.
// A private instance gets the syscall events of mmap, munmap, brk, mremap and mprotect and the lifecycle
// events; every CPU's binary ring buffer (per_cpu/cpuN/trace_pipe_raw) is read without blocking
// at a modest interval, in whole pages, decoded from the kernel's format files, merged across CPUs
// by timestamp (trace_clock "mono" = CLOCK_MONOTONIC, the clock of process.hrtime), paired and
// attributed. Lost events come from the page headers and from per_cpu/cpuN/stats.
import { closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, UserError } from '../base/errors.js';
import { ProcessTable } from '../parsers/trace/process-table.js';
import { PidSelection } from '../parsers/trace/pid-selection.js';
import { TraceAssembler } from '../parsers/trace/trace-assembler.js';
import { lostInStats, parseCpuStats } from '../parsers/tracefs/cpu-stats.js';
import { parseEventFormat, type EventFormat } from '../parsers/tracefs/event-format.js';
import {
  parseEntryHeader,
  parsePageLayout,
  type EntryHeaderTypes,
  type PageLayout,
} from '../parsers/tracefs/page-layout.js';
import { PageStream } from '../parsers/tracefs/page-stream.js';
import { LIFECYCLE_EVENTS, RecordDecoder, SYSCALL_EVENTS } from '../parsers/tracefs/record-decoder.js';
import type { RawTraceRecord } from '../parsers/tracefs/trace-records.js';
import type { LostCounts, TraceBatch } from '../wire/events.js';
import type { TraceBackend, TraceBackendOptions } from './trace-backend.js';
import {
  createInstance,
  findTracefs,
  instanceCpus,
  instanceName,
  readText,
  removeInstance,
  removeLeftovers,
  tryWrite,
  write,
} from './tracefs-instance.js';
import { MonotonicClock } from './mono-clock.js';
import { TraceProc } from './trace-proc.js';

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
type Item = RawTraceRecord | LostMarker;

/** What one poll may still read from a CPU. */
interface ReadBudget {
  leftBytes: number;
  /** When this poll read the CPU empty (trace clock), else null. */
  emptyAtNs: bigint | null;
}

interface CpuReader {
  cpu: number;
  fd: number;
  stream: PageStream;
  /** Timestamp of the last record decoded from this CPU. */
  lastNs: bigint;
  /** Decoded records of this CPU not yet merged, in its own (time) order, from `head` on. */
  queue: Item[];
  head: number;
  /** per_cpu/cpuN/stats, opened at its first read and read again from offset 0 (see readStats). */
  statsFd: number | null;
}

/** Records within this much of "now" may still be being written on another CPU: held for the next read. */
const SETTLE_NS = 20_000_000n;
/**
 * Sub-buffer size asked of kernels that let it be set (buffer_subbuf_size_kb, Linux 6.8+):
 * read() hands out one sub-buffer per call, so 64 KiB sub-buffers take a sixteenth of the
 * system calls that 4 KiB pages do. Some kernels refuse the write (EPERM on the 6.18 build memlens
 * is tested on); the pages are then read at the size the file reports.
 */
const SUBBUF_KB = 64;
/**
 * Bytes read per CPU in one round before the rounds' records are merged, paired and handed on.
 * Small rounds keep each record short-lived: it is decoded, paired and written out before the
 * garbage collector's young generation fills, instead of surviving (and being copied) as part of
 * a whole poll's backlog.
 */
const ROUND_BYTES = 256 * 1024;
/** A CPU read empty is read again within the same poll only after this long (see round()). */
const REREAD_EMPTY_NS = 10_000_000n;
/** At most this many bytes per CPU per poll, so one busy CPU cannot hold the loop forever. */
const POLL_BYTES = 16 * 1024 * 1024;

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
      await this.setUp(root, this.dir);
    } catch (e) {
      this.cleanup();
      throw e;
    }
  }

  private async setUp(root: string, dir: string): Promise<void> {
    const proc = new TraceProc();
    write(join(dir, 'tracing_on'), '0');
    write(join(dir, 'buffer_size_kb'), String(this.options.bufferSizeKb ?? 8192));
    write(join(dir, 'trace_clock'), 'mono');
    if (this.options.excludeSelf) {
      // Leave memlens out in the kernel already: our threads in set_event_notrace_pid, and
      // options/event-fork adds the threads and children they create (kernel/trace/trace_events.c).
      const tasks = await proc.source.listDir('self/task');
      if (!tasks.ok) throw new UserError(`cannot list this process's threads in /proc (${tasks.reason})`);
      const tids = tasks.value.join(' ');
      tryWrite(join(dir, 'options', 'event-fork'), '1');
      tryWrite(join(dir, 'set_event_notrace_pid'), tids);
    }
    const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    this.layout = parsePageLayout(
      readText(join(root, 'events', 'header_page')),
      littleEndian,
      `${root}/events/header_page`,
    );
    this.types = parseEntryHeader(readText(join(root, 'events', 'header_event')), `${root}/events/header_event`);
    if (existsSync(join(dir, 'buffer_subbuf_size_kb'))) tryWrite(join(dir, 'buffer_subbuf_size_kb'), String(SUBBUF_KB));
    const subbuf = tryReadNumber(join(dir, 'buffer_subbuf_size_kb'));
    if (subbuf !== undefined && subbuf * 1024 !== this.layout.pageSize)
      this.layout = { ...this.layout, pageSize: subbuf * 1024 };
    const formats = new Map<string, EventFormat>();
    for (const { event } of SYSCALL_EVENTS) {
      const format = readFormat(dir, event);
      if (!format)
        throw new UserError(
          `this kernel has no ${event} tracepoint: tracefs tracing needs CONFIG_FTRACE_SYSCALLS (try --backend bpftrace)`,
        );
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
    this.readBuffer = new Uint8Array(
      Math.max(this.layout.pageSize, Math.floor(ROUND_BYTES / this.layout.pageSize) * this.layout.pageSize),
    );
    for (const cpu of instanceCpus(dir)) {
      const fd = openSync(
        join(dir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'),
        constants.O_RDONLY | constants.O_NONBLOCK,
      );
      const reader: CpuReader = {
        cpu,
        fd,
        lastNs: 0n,
        stream: undefined as unknown as PageStream,
        queue: [],
        head: 0,
        statsFd: null,
      };
      reader.stream = new PageStream(
        this.layout,
        this.types,
        (ts, view, at, length) => {
          const r = this.decoder.decode(ts, view, at, length);
          if (r) reader.queue.push(r);
          reader.lastNs = ts;
        },
        (missed, ts) => {
          if (missed > 0) this.lostInPages += missed;
          else this.pagesWithUnknownLoss++;
          reader.queue.push({ kind: 'lost', ktimeNs: ts });
        },
      );
      this.cpus.push(reader);
    }
    write(join(dir, 'tracing_on'), '1');
    // Seeded after tracing is on: a task created meanwhile is both in /proc and in the trace.
    const table = new ProcessTable(proc.resolveThread, renameTraced);
    const excluded = this.options.excludeSelf ? await proc.descendantsOf(process.pid) : new Set<number>();
    // A pid asked for is traced even if memlens started it (`memlens trace -- COMMAND`).
    for (const pid of this.options.pids ?? []) excluded.delete(pid);
    table.seed(await proc.listTasks(), excluded);
    const clock = new MonotonicClock();
    this.assembler = new TraceAssembler(table, {
      host: this.options.host,
      wallClockMs: (ns) => clock.wallMs(ns),
      ...(this.options.pids ? { pids: new PidSelection(this.options.pids, this.options.followForks === true) } : {}),
    });
  }

  /**
   * One round: reads at most a round's worth from every CPU (but one read empty less than
   * REREAD_EMPTY_NS ago), decodes, and pairs what is settled into `batch`. Returns true while some
   * CPU still has unread data within this poll's budget.
   *
   * A CPU read empty is not asked again at once: a reader that keeps asking catches up with the
   * writer every time and takes the page it is writing, a copy under the writer's feet that cost
   * the traced program about 1 µs more per call when measured (bench/README.md, reader pattern).
   */
  private round(final: boolean, batch: TraceBatch, budget: Map<CpuReader, ReadBudget>): boolean {
    const pageSize = this.layout.pageSize;
    let more = false;
    const now = process.hrtime.bigint();
    for (const c of this.cpus) {
      const b = budget.get(c);
      if (b === undefined) continue;
      // Asked again after a while: its settled time then moves on, so the other CPUs' records
      // read meanwhile need not wait for the next poll.
      if (b.emptyAtNs !== null && now - b.emptyAtNs < REREAD_EMPTY_NS) continue;
      b.emptyAtNs = null;
      let filled = 0;
      while (filled + pageSize <= this.readBuffer.length && filled < b.leftBytes) {
        let n: number;
        try {
          n = readSync(c.fd, this.readBuffer, filled, pageSize, null);
        } catch (e) {
          if (errnoCode(e) !== 'EAGAIN') throw e;
          n = 0;
        }
        if (n === 0) {
          b.emptyAtNs = process.hrtime.bigint();
          break;
        }
        filled += n;
      }
      b.leftBytes -= filled;
      if (filled > 0) c.stream.push(this.readBuffer.subarray(0, filled));
      if (b.emptyAtNs === null && b.leftBytes > 0) more = true;
    }
    // Settled: what no CPU can still add to. A CPU read empty has shown everything it recorded up
    // to shortly before that moment; one with unread data, nothing after its last decoded record.
    let watermark = 1n << 64n;
    if (!final) {
      for (const c of this.cpus) {
        const emptyAtNs = budget.get(c)?.emptyAtNs ?? null;
        const settledNs = emptyAtNs === null ? c.lastNs : emptyAtNs - SETTLE_NS;
        if (settledNs < watermark) watermark = settledNs;
      }
    }
    // Each CPU's settled records are a prefix of its queue; the sort merges those sorted runs.
    const settled: Item[] = [];
    for (const c of this.cpus) {
      const q = c.queue;
      let i = c.head;
      while (i < q.length && (q[i]?.ktimeNs ?? 0n) <= watermark) settled.push(q[i++] as Item);
      if (i === q.length) {
        c.queue = [];
        c.head = 0;
      } else if (i > 4096 && i * 2 > q.length) {
        c.queue = q.slice(i);
        c.head = 0;
      } else {
        c.head = i;
      }
    }
    if (this.cpus.length > 1) settled.sort((a, b) => (a.ktimeNs < b.ktimeNs ? -1 : a.ktimeNs > b.ktimeNs ? 1 : 0));
    for (const item of settled) {
      if (item.kind === 'lost') this.assembler.lostEvents();
      else this.assembler.push(item, batch);
    }
    return more;
  }

  /** Reads every CPU until it is empty (or a poll's budget is spent), one round per batch. */
  private *poll(final: boolean): Generator<TraceBatch> {
    if (this.closed) return;
    // The last poll, after tracing_on=0, takes everything that is left.
    const budget = new Map(
      this.cpus.map(
        (c) => [c, { leftBytes: final ? Infinity : POLL_BYTES, emptyAtNs: null as bigint | null }] as const,
      ),
    );
    for (;;) {
      const batch: TraceBatch = { events: [], lifecycle: [] };
      const more = this.round(final, batch, budget);
      if (batch.events.length > 0 || batch.lifecycle.length > 0) yield batch;
      if (!more) break;
    }
  }

  /**
   * The events the kernel dropped, from every CPU's stats file. Read when lost() is asked (by the
   * dashboard at most four times a second, and only after a batch), not after every poll: ten polls
   * a second read two files each for nobody, 0.16 s of CPU per 100 s on two CPUs.
   *
   * Each file stays open and is read again from offset 0: the kernel writes the whole text anew on
   * every read and hands out the part from the offset asked (tracing_stats_read in
   * kernel/trace/trace.c, through simple_read_from_buffer), so a read at 0 is a fresh reading,
   * without the path walk and the open and close of each time.
   */
  private readStats(): void {
    if (!this.dir) return;
    let total = 0;
    for (const c of this.cpus) {
      try {
        total += lostInStats(parseCpuStats(this.statsText(this.dir, c)));
      } catch {
        return;
      }
    }
    this.lostInStats = total;
  }

  private readonly statsBuffer = Buffer.alloc(4096);

  private statsText(dir: string, c: CpuReader): string {
    const path = join(dir, 'per_cpu', `cpu${c.cpu}`, 'stats');
    c.statsFd ??= openSync(path, constants.O_RDONLY);
    const n = readSync(c.statsFd, this.statsBuffer, 0, this.statsBuffer.length, 0);
    // Longer than the buffer (it is some 300 bytes): read the whole file the ordinary way.
    return n < this.statsBuffer.length ? this.statsBuffer.toString('utf8', 0, n) : readText(path);
  }

  async *batches(): AsyncIterable<TraceBatch> {
    this.iterating = true;
    try {
      while (!this.stopRequested) {
        for (const batch of this.poll(false)) {
          yield batch;
          // stop() may have been called while the consumer handled the batch.
          if (this.isStopRequested()) break;
          // A turn of the event loop between rounds: the dashboard's store writer (on this thread)
          // commits, and the trace's store worker's acknowledgements arrive.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
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
        for (const batch of this.poll(true)) yield batch;
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
    // The last lost counts, before the stats files close.
    if (this.dir) this.readStats();
    if (!this.closed) {
      this.closed = true;
      for (const c of this.cpus) {
        for (const fd of [c.fd, c.statsFd]) {
          if (fd === null) continue;
          try {
            closeSync(fd);
          } catch {
            /* already closed */
          }
        }
        c.statsFd = null;
      }
    }
    if (this.dir) {
      const dir = this.dir;
      this.dir = undefined;
      removeInstance(dir);
    }
    process.removeListener('exit', this.onExit);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, this.onSignal);
  }

  lost(): LostCounts {
    if (!this.closed) this.readStats();
    const started = this.cpus.length > 0;
    return {
      // The page headers repeat what "overrun" counts; stats also see drops the pages cannot.
      lostEvents: Math.max(this.lostInStats, this.lostInPages + this.pagesWithUnknownLoss),
      unpaired: started ? this.assembler.unpaired : 0,
      malformed: started
        ? this.decoder.malformed + this.cpus.reduce((n, c) => n + c.stream.totals.malformedPages, 0)
        : 0,
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
