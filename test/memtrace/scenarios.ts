// Hand-built traces with known behaviour, written with the test encoder: a Lwt server whose
// cache never evicts (a leak), a producer that outruns its consumer for a while (an
// allocation race that ends), request churn, Lwt's own allocations, and a steady program.
import type { SourceLocation } from '../../src/parsers/memtrace/types.js';
import { SeededRandom } from '../../src/base/random.js';
import { TraceEncoder } from './trace-encoder.js';

const loc = (filename: string, line: number, defname: string): SourceLocation[] => [
  { filename, line, startChar: 2, endChar: 20, defname },
];

export const CODES = {
  main: 0x401000,
  lwtRun: 0x402000,
  lwtBind: 0x403000,
  handle: 0x404000,
  parse: 0x405000,
  cacheAdd: 0x406000,
  producerPush: 0x407000,
  serve: 0x408000,
  lwtWakeup: 0x409000,
  loadConfig: 0x40a000,
  lwtNewPending: 0x40b000,
  lwtWait: 0x40c000,
  /** A synthetic task root frame, as the memlens OCaml library writes them (above 2^53). */
  task: 0x3f00_0000_0000_0000,
  /** The recording library's exact task count record (a code no backtrace uses). */
  taskCount: 0x3f80_0000_0000_0000,
} as const;

export const SCENARIO_LOCATIONS = new Map<number, SourceLocation[]>([
  [CODES.main, loc('bin/server.ml', 200, 'Dune__exe__Server.main')],
  [CODES.lwtRun, loc('src/unix/lwt_main.ml', 33, 'Lwt_main.run')],
  [CODES.lwtBind, loc('src/core/lwt.ml', 1800, 'Lwt.bind')],
  [CODES.handle, loc('bin/server.ml', 40, 'Dune__exe__Server.handle_request')],
  [CODES.parse, loc('bin/server.ml', 20, 'Dune__exe__Server.parse')],
  [CODES.cacheAdd, loc('bin/cache.ml', 12, 'Dune__exe__Cache.add')],
  [CODES.producerPush, loc('bin/producer.ml', 8, 'Dune__exe__Producer.push')],
  [CODES.serve, loc('bin/server.ml', 60, 'Dune__exe__Server.serve')],
  [CODES.lwtWakeup, loc('src/core/lwt.ml', 1200, 'Lwt.wakeup_later')],
  [CODES.loadConfig, loc('bin/config.ml', 5, 'Dune__exe__Config.load')],
  [CODES.lwtNewPending, loc('src/core/lwt.ml', 1546, 'Lwt.Pending_promises.new_pending')],
  [CODES.lwtWait, loc('src/core/lwt.ml', 1559, 'Lwt.Pending_promises.wait')],
  [CODES.task, [{ filename: '(memlens task)', line: 0, startChar: 0, endChar: 0, defname: 'request handler' }]],
]);

export interface ScenarioOptions {
  durationS: number;
  tickUs: number;
  leak: boolean;
  race: { fromS: number; toS: number } | null;
  /** A working set allocated in the first seconds and kept (warm-up). */
  warmup: boolean;
  /**
   * A GC sawtooth: half of the request garbage survives a minor GC and is collected only at
   * the next major sweep, every this many seconds.
   */
  gcPeriodS?: number;
  /** Root the request stacks in a task frame ("request handler"). */
  tasks?: boolean;
  /**
   * Each tick's request creates PROMISES_PER_REQUEST pending promises (Lwt.wait from
   * Server.handle_request: one 1-word block each from Lwt's new_pending, sampled as Gc.Memprof
   * would at the trace's rate), and the trace ends with the exact count record of the task
   * "request handler": one per tick. Hand-made; the counts mimic the recording library's.
   */
  promises?: boolean;
  seed: number;
  version?: 1 | 2 | 3;
  /** Stream packets out instead of keeping the trace in memory. */
  sink?: (packet: Uint8Array) => void;
}

/**
 * The trace the browser tests open: 40 s of an Lwt server whose requests run in a task frame, with
 * a leak and a race from 10 s to 20 s, without warm-up.
 */
export const LEAKY_SERVER: ScenarioOptions = {
  durationS: 40,
  tickUs: 2000,
  leak: true,
  race: { fromS: 10, toS: 20 },
  warmup: false,
  seed: 8,
  tasks: true,
};

export const T0 = 1_700_000_000_000_000;
export const PROMISES_PER_REQUEST = 500;

/** A Binomial(n, p) draw by inversion (small n·p). */
function binomial(rng: SeededRandom, n: number, p: number): number {
  const u = rng.next();
  let k = 0;
  let pk = (1 - p) ** n;
  let cdf = pk;
  while (u > cdf && k < n) {
    pk *= ((n - k) / (k + 1)) * (p / (1 - p));
    k++;
    cdf += pk;
  }
  return k;
}

/** Builds the trace; returns its bytes and what was written. */
export function buildScenario(o: ScenarioOptions): { bytes: Uint8Array; written: TraceEncoder['written'] } {
  const ticks = Math.floor((o.durationS * 1e6) / o.tickUs);
  const locations = new Map(SCENARIO_LOCATIONS);
  if (o.promises === true)
    locations.set(CODES.taskCount, [
      {
        filename: '(memlens task count)',
        line: 0,
        startChar: 0,
        endChar: 0,
        defname: `${ticks} ${ticks} request handler`,
      },
    ]);
  const enc = new TraceEncoder({
    version: o.version ?? 3,
    sampleRate: 1e-4,
    locations,
    executable: '/srv/server.exe',
    host: 'node-1',
    ...(o.sink === undefined ? {} : { sink: o.sink }),
  });
  const rng = new SeededRandom(o.seed);
  const due = new Map<number, number[]>();
  const promoteDue = new Map<number, number[]>();
  const schedule = (m: Map<number, number[]>, tick: number, id: number): void => {
    const l = m.get(tick);
    if (l === undefined) m.set(tick, [id]);
    else l.push(id);
  };
  const queue: number[] = [];
  let qHead = 0;
  const C = CODES;
  for (let tick = 0; tick < ticks; tick++) {
    const now = T0 + tick * o.tickUs;
    const tS = (tick * o.tickUs) / 1e6;
    for (const id of promoteDue.get(tick) ?? []) enc.promote(now, id);
    promoteDue.delete(tick);
    for (const id of due.get(tick) ?? []) enc.collect(now, id);
    due.delete(tick);
    // Request churn: short-lived parse buffers, some survive a minor GC.
    const root = o.tasks === true ? [C.task, C.main] : [C.main];
    for (let k = 0; k < 2; k++) {
      const id = enc.alloc(now, {
        lengthWords: rng.int(2, 12),
        stack: [...root, C.lwtRun, C.lwtBind, C.handle, C.parse],
      });
      const life = rng.int(1, 5);
      if (o.gcPeriodS !== undefined && rng.next() < 0.5) {
        const periodTicks = Math.round((o.gcPeriodS * 1e6) / o.tickUs);
        schedule(promoteDue, tick + 1, id);
        schedule(due, (Math.floor(tick / periodTicks) + 1) * periodTicks, id);
      } else if (rng.next() < 0.1) {
        schedule(promoteDue, tick + 1, id);
        schedule(due, tick + 1 + rng.int(10, 50), id);
      } else schedule(due, tick + life, id);
    }
    if (o.promises === true) {
      // 1-word blocks (2 words with the header) at rate 1e-4; two samples in one block (odds
      // 1e-4) are written as two blocks, which changes no count.
      const n = binomial(rng, 2 * PROMISES_PER_REQUEST, 1e-4);
      for (let k = 0; k < n; k++) {
        const id = enc.alloc(now, {
          lengthWords: 1,
          stack: [C.task, C.main, C.lwtRun, C.handle, C.lwtWait, C.lwtNewPending],
        });
        schedule(due, tick + rng.int(1, 5), id);
      }
    }
    // Lwt's own allocation (a callback cell) on behalf of Server.serve.
    const cb = enc.alloc(now, { lengthWords: 4, stack: [C.main, C.lwtRun, C.serve, C.lwtBind] });
    schedule(due, tick + rng.int(1, 3), cb);
    if (o.leak && tick % 10 === 0) {
      const id = enc.alloc(now, {
        lengthWords: 20,
        samples: 1,
        stack: [C.main, C.lwtRun, C.lwtBind, C.handle, C.cacheAdd],
      });
      schedule(promoteDue, tick + 1, id);
    }
    if (o.warmup && tS < 5 && tick % 2 === 0) {
      const id = enc.alloc(now, { lengthWords: 30, samples: 1, stack: [C.main, C.loadConfig] });
      schedule(promoteDue, tick + 1, id);
    }
    if (o.race !== null) {
      if (tS >= o.race.fromS && tS < o.race.toS) {
        for (let k = 0; k < 2; k++) {
          const id = enc.alloc(now, { lengthWords: 16, stack: [C.main, C.lwtRun, C.lwtBind, C.producerPush] });
          queue.push(id);
          schedule(promoteDue, tick + 1, id);
        }
      }
      // The consumer takes one item per tick; promotion (tick + 1) comes before its collection.
      if (qHead < queue.length && (queue[qHead] ?? 0) < enc.nextAllocId - 4) {
        const id = queue[qHead++] ?? 0;
        schedule(due, tick + 2, id);
      }
    }
  }
  if (o.promises === true) enc.describeUnused(C.taskCount);
  const bytes = enc.finish();
  return { bytes, written: enc.written };
}
