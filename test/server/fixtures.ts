// Hand-made inputs for the server tests: a small system sample, the tracer's accounting, and an
// in-memory event store with the same keyset-paging contract as the real one (newest first,
// opaque cursor). The browser tests run against the real sampler, tracer and store instead.
import type { MemCall, MemEvent } from '../../src/wire/events.js';
import type {
  EventViewFilter,
  EventPage,
  EventStoreView,
  StoredProcessTotal,
  SystemSample,
  TracedProcess,
} from '../../src/server/inputs.js';

const MiB = 1024 * 1024;

export function sampleFixture(atMs: number, host = 'testhost'): SystemSample {
  const processes = Array.from({ length: 14 }, (_, i) => ({
    pid: 100 + i,
    name: i === 13 ? '<i id=pwn>x' : `prog${i % 5}`,
    cmdline: i === 13 ? `"'<script>alert(1)</script>` : `/usr/bin/prog${i % 5} --n ${i}`,
    rssBytes: (i + 1) * MiB,
    pssBytes: i === 3 ? null : (i + 1) * MiB * 0.5,
    ussBytes: i === 3 ? null : (i + 1) * MiB * 0.25,
    swapBytes: 0,
    vmSizeBytes: (i + 1) * 10 * MiB,
    sampledAtMs: atMs,
    pssAtMs: i === 3 ? null : atMs,
    startTime: String(1000 + i),
  }));
  return {
    atMs,
    host,
    memTotalBytes: 8192 * MiB,
    swapTotalBytes: 2048 * MiB,
    ledger: {
      name: 'MemTotal',
      bytes: 8192 * MiB,
      children: [
        {
          name: 'processes',
          bytes: 105 * MiB,
          children: processes.map((p) => ({
            name: `${p.name} (${p.pid})`,
            bytes: p.pssBytes,
            children: [{ name: 'anonymous', bytes: p.pssBytes }],
          })),
        },
        { name: 'page cache', bytes: 3000 * MiB },
        { name: 'kernel', bytes: 500 * MiB },
        { name: 'free', bytes: 4587 * MiB },
      ],
    },
    used: [
      { name: 'free(1) used', bytes: 3000 * MiB, formula: 'MemTotal − MemFree − Buffers − Cached − SReclaimable' },
      { name: 'not available', bytes: 2500 * MiB, formula: 'MemTotal − MemAvailable' },
    ],
    categories: [
      { name: 'processes', bytes: 105 * MiB },
      { name: 'page cache', bytes: 3000 * MiB },
      { name: 'kernel', bytes: 500 * MiB },
      { name: 'free', bytes: 4587 * MiB },
    ],
    processes,
    pssUnavailable: 1,
    pssDeferred: 0,
  };
}

/** Requested bytes: pid 100+i requested (i+1) × 4 MiB; the hostile name requests the most. */
export function tracedFixture(): TracedProcess[] {
  return Array.from({ length: 14 }, (_, i) => ({
    pid: 100 + i,
    name: i === 13 ? '<i id=pwn>x' : `prog${i % 5}`,
    requestedBytes: (i === 13 ? 100 : i + 1) * 4 * MiB,
    reservedBytes: (i + 1) * 2 * MiB,
    mappedNowBytes: (i + 1) * 8 * MiB,
    calls: i + 1,
    alive: true,
  }));
}

export function eventFixture(i: number, host = 'testhost', call: MemCall = 'mmap'): MemEvent {
  return {
    timeMs: 1_700_000_000_000 + i,
    ktimeNs: BigInt(1_000_000 + i),
    host,
    pid: 100 + (i % 14),
    tid: 100 + (i % 14),
    name: i % 14 === 13 ? '<i id=pwn>x' : `prog${i % 5}`,
    thread: 'main',
    call,
    addr: 0x7f0000000000n + BigInt(i) * 4096n,
    lengthBytes: 4096n,
    prot: 3,
    flags: 0x22,
    fd: -1,
    result: 0x7f0000000000n + BigInt(i) * 4096n,
    error: null,
    newLengthBytes: null,
    newAddr: null,
  };
}

/** Keyset paging over an array: cursor = index of the last row returned (opaque to clients). */
export class MemoryEventStore implements EventStoreView {
  readonly description = 'memory (test)';
  constructor(readonly events: MemEvent[]) {}

  private matching(f: EventViewFilter): MemEvent[] {
    return this.events.filter(
      (e) =>
        e.host === f.host &&
        (f.pid === undefined || e.pid === f.pid) &&
        (f.name === undefined || e.name === f.name) &&
        (f.call === undefined || e.call === f.call) &&
        (f.fromMs === undefined || e.timeMs >= f.fromMs) &&
        (f.toMs === undefined || e.timeMs <= f.toMs),
    );
  }

  page(filter: EventViewFilter, before: string | null, limit: number): Promise<EventPage> {
    const rows = this.matching(filter).sort((a, b) => (b.ktimeNs > a.ktimeNs ? 1 : b.ktimeNs < a.ktimeNs ? -1 : 0));
    const start = before === null ? 0 : rows.findIndex((e) => e.ktimeNs < BigInt(before));
    const slice = start < 0 ? [] : rows.slice(start, start + limit);
    const last = slice[slice.length - 1];
    const more = start >= 0 && start + limit < rows.length;
    return Promise.resolve({ events: slice, next: more && last !== undefined ? last.ktimeNs.toString() : null });
  }

  count(filter: EventViewFilter, atMost = Infinity): Promise<number> {
    return Promise.resolve(Math.min(atMost, this.matching(filter).length));
  }

  hosts(): Promise<string[]> {
    return Promise.resolve([...new Set(this.events.map((e) => e.host))].sort());
  }

  processTotals(host: string): Promise<StoredProcessTotal[]> {
    const byPid = new Map<number, StoredProcessTotal>();
    for (const e of this.events) {
      if (e.host !== host) continue;
      const t = byPid.get(e.pid) ?? { pid: e.pid, name: e.name, requestedBytes: 0, calls: 0 };
      t.calls++;
      if (e.call === 'mmap') t.requestedBytes += Number(e.lengthBytes);
      if (e.call === 'munmap') t.requestedBytes -= Number(e.lengthBytes);
      byPid.set(e.pid, t);
    }
    return Promise.resolve([...byPid.values()]);
  }
}
