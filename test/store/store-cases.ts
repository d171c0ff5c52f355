// The event store against both real databases: a temporary SQLite file (store-sqlite.test.ts, fast
// tier) and the shared MariaDB (store-mariadb.live.test.ts, live tier). The tests are here, once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import {
  STORE_SCHEMA_VERSION,
  newBatchId,
  openStore,
  type EventStore,
  type ProcessStart,
  type ProcessTotals,
} from '../../src/store/index.js';
import { migrations, type AnyDb } from '../../src/store/schema.js';
import { connect, type Connection } from '../../src/store/connect.js';
import { eventToRow } from '../../src/store/rows.js';
import { parseStoreUrl } from '../../src/store/url.js';
import { WorkerWriter } from '../../src/store/worker-writer.js';
import type { MemEvent } from '../../src/wire/events.js';
import { mariadbBackend, sqliteBackend, type Backend, type BackendKind } from './backends.js';
import { event, randomEvents, withoutId } from './events-fixture.js';

const U64_MAX = (1n << 64n) - 1n;

/** What every total must be, recomputed naively from the whole stream. */
function naiveTotals(
  events: readonly MemEvent[],
  starts: readonly ProcessStart[],
): Map<string, Omit<ProcessTotals, 'requestedBytes'> & { requestedBytes: bigint }> {
  const out = new Map<string, ProcessTotals>();
  const get = (host: string, pid: number, startNs: bigint, name: string, timeMs: number): ProcessTotals => {
    const k = `${host}/${pid}/${startNs}`;
    let t = out.get(k);
    if (!t) {
      t = {
        host,
        pid,
        startNs,
        name,
        mmapBytes: 0n,
        munmapBytes: 0n,
        requestedBytes: 0n,
        mmapCalls: 0,
        munmapCalls: 0,
        brkCalls: 0,
        mremapCalls: 0,
        mprotectCalls: 0,
        failedCalls: 0,
        firstSeenMs: timeMs,
        lastSeenMs: timeMs,
      };
      out.set(k, t);
    }
    return t;
  };
  for (const s of starts) get(s.host, s.pid, s.startNs, s.name, s.timeMs);
  for (const e of events) {
    // The instance is the latest start of this (host, pid) at or before the event, else "0".
    let startNs = 0n;
    for (const s of starts)
      if (s.host === e.host && s.pid === e.pid && s.startNs <= e.ktimeNs && s.startNs > startNs) startNs = s.startNs;
    const t = get(e.host, e.pid, startNs, e.name, e.timeMs);
    t.name = e.name;
    t.firstSeenMs = Math.min(t.firstSeenMs, e.timeMs);
    t.lastSeenMs = Math.max(t.lastSeenMs, e.timeMs);
    if (e.error !== null) t.failedCalls++;
    if (e.call === 'mmap') {
      t.mmapCalls++;
      if (e.error === null) t.mmapBytes += e.lengthBytes;
    } else if (e.call === 'munmap') {
      t.munmapCalls++;
      if (e.error === null) t.munmapBytes += e.lengthBytes;
    } else if (e.call === 'brk') t.brkCalls++;
    else if (e.call === 'mprotect') t.mprotectCalls++;
    else t.mremapCalls++;
  }
  for (const t of out.values()) t.requestedBytes = t.mmapBytes > t.munmapBytes ? t.mmapBytes - t.munmapBytes : 0n;
  return out;
}

export function schemaVersionTests(): void {
  test('the schema version equals the number of migrations', () => {
    assert.equal(Object.keys(migrations('sqlite')).length, STORE_SCHEMA_VERSION);
    assert.equal(Object.keys(migrations('mysql')).length, STORE_SCHEMA_VERSION);
  });
}

export function storeTests(kind: BackendKind): void {
  describe(`store on ${kind}`, () => {
    let backend: Backend;
    let store: EventStore;
    before(async () => {
      backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_store');
      store = await openStore(backend.url);
    });
    after(async () => {
      await store.close();
      await backend.drop();
    });

    test('events round-trip exactly, 64-bit values included', async () => {
      const host = 'roundtrip';
      const events: MemEvent[] = [
        // Lengths past 2^32 and past 2^53, a kernel timestamp past 2^53, a high user address.
        event({
          host,
          ktimeNs: (1n << 60n) + 7n,
          lengthBytes: (1n << 32n) + 4096n,
          addr: 0x7fff_f7ff_f000n,
          result: 0x7fff_f7ff_f000n,
        }),
        event({ host, ktimeNs: (1n << 60n) + 8n, lengthBytes: (1n << 53n) + 1n, addr: 0n, result: 0x5555_5555_4000n }),
        // A failed mmap: the raw -errno and its name; length u64 max (as passed), address ≥ 2^63.
        event({
          host,
          ktimeNs: (1n << 60n) + 9n,
          lengthBytes: U64_MAX,
          addr: (1n << 63n) + 0x1000n,
          fd: 1234,
          result: -12n,
          error: 'ENOMEM',
        }),
        event({
          host,
          ktimeNs: (1n << 60n) + 10n,
          call: 'mmap',
          fd: 99,
          flags: 0x2,
          prot: 1,
          result: -9n,
          error: 'EBADF',
        }),
        // mremap with its new length and address; munmap and brk with their null fields.
        event({
          host,
          ktimeNs: (1n << 60n) + 11n,
          call: 'mremap',
          addr: 0x7f00_0000_0000n,
          lengthBytes: 1n << 33n,
          prot: null,
          flags: 3,
          fd: null,
          newLengthBytes: (1n << 34n) + 4096n,
          newAddr: 0x7e00_0000_0000n,
          result: 0x7e00_0000_0000n,
        }),
        event({
          host,
          ktimeNs: (1n << 60n) + 12n,
          call: 'munmap',
          addr: 0x7e00_0000_0000n,
          lengthBytes: 8192n,
          prot: null,
          flags: null,
          fd: null,
          result: 0n,
        }),
        event({
          host,
          ktimeNs: (1n << 60n) + 13n,
          call: 'brk',
          addr: 0x5555_5600_0000n,
          lengthBytes: 0n,
          prot: null,
          flags: null,
          fd: null,
          result: 0x5555_5600_0000n,
        }),
        // Names with spaces, non-ASCII, a control character, and a thread of another name.
        event({
          host,
          ktimeNs: (1n << 60n) + 14n,
          pid: 7,
          tid: 9,
          name: 'Web Content',
          thread: 'DOM Worker ✓\u0001',
          timeMs: 1_763_900_000_123,
        }),
      ];
      await store.appendEvents(events);
      const back = await store.queryEvents({ host, limit: 100 });
      assert.deepEqual(back.map(withoutId), [...events].reverse());
    });

    test('per-process totals equal a naive recomputation over random streams', async () => {
      for (const seed of [1, 2, 3]) {
        const rng = new SeededRandom(seed);
        const hosts = [`h${seed}a`, `h${seed}b`];
        const events = randomEvents(rng, 3000, 1_000_000_000n, hosts);
        // Pid reuse: new instances start at random points of the stream.
        const starts: ProcessStart[] = [];
        for (let i = 0; i < 6; i++) {
          const at = events[rng.int(0, events.length - 1)];
          if (at)
            starts.push({
              host: hosts[i % 2] ?? 'x',
              pid: rng.int(1, 12),
              startNs: at.ktimeNs - 1n,
              name: `fork${i}`,
              timeMs: at.timeMs,
            });
        }
        // Random batch boundaries; each start goes with the batch holding its time.
        let i = 0;
        while (i < events.length) {
          const n = rng.int(1, 700);
          const part = events.slice(i, i + n);
          const last = part.at(-1)?.ktimeNs ?? 0n;
          const first = part[0]?.ktimeNs ?? 0n;
          const withStarts = starts.filter(
            (s) =>
              s.startNs >= first - 1n && s.startNs <= last && (i === 0 || s.startNs > (events[i - 1]?.ktimeNs ?? 0n)),
          );
          await store.appendEvents(part, withStarts);
          i += n;
        }
        const expected = naiveTotals(events, starts);
        for (const host of hosts) {
          const got = await store.processTotals({ host });
          const want = [...expected.values()].filter((t) => t.host === host);
          const key = (t: ProcessTotals) => `${t.pid}/${t.startNs}`;
          assert.deepEqual(
            new Map(got.map((t) => [key(t), t])),
            new Map(want.map((t) => [key(t), t])),
            `seed ${seed} host ${host}`,
          );
          // Some process unmapped more than it mapped: its requested figure floors at 0.
          if (seed === 1) assert.ok(got.some((t) => t.munmapBytes > t.mmapBytes && t.requestedBytes === 0n));
          // Pid reuse happened: some instances are forks seen by the tracer.
          assert.ok(
            got.some((t) => t.startNs !== 0n),
            `seed ${seed} host ${host} has forked instances`,
          );
          // Sorted by requested, largest first.
          for (let k = 1; k < got.length; k++)
            assert.ok((got[k - 1]?.requestedBytes ?? 0n) >= (got[k]?.requestedBytes ?? 0n));
        }
      }
    });

    test('a reused pid gets a new instance at its fork; events before it stay with the old one', async () => {
      const host = 'reuse';
      await store.appendEvents([event({ host, pid: 5, name: 'old', ktimeNs: 10n, lengthBytes: 4096n })]);
      // One batch: an event of the old process, then the fork of a new one with the same pid.
      await store.appendEvents(
        [
          event({ host, pid: 5, name: 'old', ktimeNs: 20n, lengthBytes: 8192n }),
          event({ host, pid: 5, name: 'new', ktimeNs: 40n, lengthBytes: 1n << 33n }),
        ],
        [{ host, pid: 5, startNs: 30n, name: 'new', timeMs: 1_763_900_000_000 }],
      );
      await store.appendEvents([
        event({ host, pid: 5, name: 'new', ktimeNs: 50n, call: 'munmap', lengthBytes: 4096n }),
      ]);
      const got = await store.processTotals({ host });
      assert.deepEqual(
        got.map((t) => [t.startNs, t.name, t.mmapBytes, t.munmapBytes, t.requestedBytes]),
        [
          [30n, 'new', 1n << 33n, 4096n, (1n << 33n) - 4096n],
          [0n, 'old', 4096n + 8192n, 0n, 4096n + 8192n],
        ],
      );
    });

    test('a batch committed twice (a retry after a lost answer) is written once', async () => {
      const host = 'idempotent';
      const batch = {
        id: newBatchId(),
        events: [event({ host, pid: 1 }), event({ host, pid: 1, ktimeNs: 2n, lengthBytes: 8192n })],
        lost: [{ host, counts: { lostEvents: 5, unpaired: 1, malformed: 0 } }],
      };
      assert.equal(await store.commitBatch(batch), 'committed');
      assert.equal(await store.commitBatch(batch), 'duplicate');
      assert.equal(await store.countEvents({ host }), 2);
      const t = (await store.processTotals({ host }))[0];
      assert.equal(t?.mmapBytes, 4096n + 8192n);
      assert.equal(t.mmapCalls, 2);
      const h = (await store.hosts()).find((x) => x.host === host);
      assert.deepEqual(h?.lost, { lostEvents: 5, unpaired: 1, malformed: 0 });
      assert.equal(h.eventCount, 2);
    });

    test('keyset paging walks every event once, newest first, with filters', async () => {
      const host = 'paging';
      const rng = new SeededRandom(42);
      const events = randomEvents(rng, 2345, 5_000_000_000n, [host]);
      await store.appendEvents(events);
      const seen: number[] = [];
      let cursor: number | undefined;
      for (;;) {
        const page = await store.queryEvents({
          host,
          limit: 100,
          ...(cursor === undefined ? {} : { beforeId: cursor }),
        });
        if (page.length === 0) break;
        for (const e of page) seen.push(e.id);
        cursor = page.at(-1)?.id;
      }
      assert.equal(seen.length, events.length);
      assert.equal(new Set(seen).size, events.length);
      for (let k = 1; k < seen.length; k++) assert.ok((seen[k - 1] ?? 0) > (seen[k] ?? 0), 'ids strictly decrease');
      // Inserted in order: the newest-first walk is the stream reversed.
      const walked = (await store.queryEvents({ host, limit: 10_000 })).map(withoutId);
      assert.deepEqual(walked, [...events].reverse());

      // Filters: pid, name, call, time range; counts agree with the stream.
      const pid = 5;
      const byPid = events.filter((e) => e.pid === pid);
      assert.equal(await store.countEvents({ host, pid }), byPid.length);
      assert.deepEqual((await store.queryEvents({ host, pid, limit: 10_000 })).map(withoutId), [...byPid].reverse());
      assert.equal(await store.countEvents({ host, call: 'munmap' }), events.filter((e) => e.call === 'munmap').length);
      assert.equal(await store.countEvents({ host, name: 'p3-1' }), events.filter((e) => e.name === 'p3-1').length);
      const mid = events[1000]?.timeMs ?? 0;
      const end = events[2000]?.timeMs ?? 0;
      assert.equal(
        await store.countEvents({ host, sinceMs: mid, untilMs: end }),
        events.filter((e) => e.timeMs >= mid && e.timeMs < end).length,
      );
      // afterId: only what arrived after a known id.
      const newest = (await store.queryEvents({ host, limit: 1 }))[0];
      await store.appendEvents([event({ host, ktimeNs: 9n })]);
      const since = await store.queryEvents({ host, afterId: newest?.id ?? 0 });
      assert.equal(since.length, 1);
      assert.equal(since[0]?.ktimeNs, 9n);
    });

    test('hosts are kept apart: totals, lost counts, event counts', async () => {
      await store.appendEvents([
        event({ host: 'mh-one', pid: 10, lengthBytes: 1n << 40n }),
        event({ host: 'mh-two', pid: 10, lengthBytes: 4096n }),
      ]);
      await store.recordLost('mh-one', { lostEvents: 3, unpaired: 0, malformed: 1 });
      await store.recordLost('mh-one', { lostEvents: 4, unpaired: 2, malformed: 0 });
      const one = await store.processTotals({ host: 'mh-one' });
      const two = await store.processTotals({ host: 'mh-two' });
      assert.deepEqual(
        one.map((t) => [t.pid, t.requestedBytes]),
        [[10, 1n << 40n]],
      );
      assert.deepEqual(
        two.map((t) => [t.pid, t.requestedBytes]),
        [[10, 4096n]],
      );
      const hosts = new Map((await store.hosts()).map((h) => [h.host, h]));
      assert.deepEqual(hosts.get('mh-one')?.lost, { lostEvents: 7, unpaired: 2, malformed: 1 });
      assert.deepEqual(hosts.get('mh-two')?.lost, { lostEvents: 0, unpaired: 0, malformed: 0 });
      assert.equal(hosts.get('mh-one')?.eventCount, 1);
    });

    test('a count can stop at a bound', async () => {
      const host = 'bounded-count';
      await store.appendEvents(Array.from({ length: 30 }, (_, i) => event({ host, pid: 5, ktimeNs: BigInt(i + 1) })));
      assert.equal(await store.countEvents({ host, pid: 5 }, 10), 10);
      assert.equal(await store.countEvents({ host, pid: 5 }, 100), 30);
      assert.equal(await store.countEvents({ host, pid: 6 }, 10), 0);
    });

    test('an overlong name is cut to its column instead of failing the batch', async () => {
      const host = 'long';
      await store.appendEvents([event({ host, name: 'n'.repeat(300), thread: `${'t'.repeat(254)}😀` })]);
      const e = (await store.queryEvents({ host }))[0];
      assert.equal(e?.name, 'n'.repeat(255));
      assert.equal(e.thread, 't'.repeat(254));
    });

    test('retention by rows keeps the newest, by age drops the old; totals stay', async () => {
      const host = 'retention';
      const base = 1_700_000_000_000;
      const events = Array.from({ length: 500 }, (_, i) =>
        event({ host, pid: 77, timeMs: base + i * 1000, ktimeNs: BigInt(i + 1) }),
      );
      await store.appendEvents(events);
      const before = await store.processTotals({ host });
      const total = await store.countEvents({});
      const r1 = await store.applyRetention({ maxRows: total - 100 });
      assert.equal(r1.deletedEvents, 100);
      assert.equal(await store.countEvents({}), total - 100);
      // The store is shared by the tests above: only the oldest rows went, so they are the first
      // test's; the newest-first view of this host is unchanged.
      assert.equal(await store.countEvents({ host }), 500);
      // Age: everything older than event 400's time, as seen from a fixed "now".
      const nowMs = base + 500 * 1000;
      const r2 = await store.applyRetention({ maxAgeMs: 100 * 1000, nowMs });
      assert.equal(await store.countEvents({ host }), 100);
      assert.ok(r2.deletedEvents >= 400);
      const oldest = (await store.queryEvents({ host, limit: 10_000 })).at(-1);
      assert.equal(oldest?.timeMs, base + 400 * 1000);
      // Totals are cumulative: retention of events does not change them.
      assert.deepEqual(await store.processTotals({ host }), before);
      // Each host's stored count is kept, not counted: it matches a count after both runs, for
      // this host and for those whose oldest rows the first run took.
      for (const h of await store.hosts())
        assert.equal(await store.storedEvents(h.host), await store.countEvents({ host: h.host }), h.host);
      assert.equal(await store.storedEvents('no such host'), 0);
    });

    test('opening an existing store again applies no migration and keeps the data', async () => {
      const again = await openStore(backend.url);
      try {
        assert.ok((await again.countEvents({ host: 'mh-one' })) === 1);
      } finally {
        await again.close();
      }
    });
  });
}

export function schemaOneTests(kind: BackendKind): void {
  test(`${kind}: a database of schema 1 with totals in it gets mprotect_calls = 0, and counts them from then on`, async () => {
    const backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_store_v1');
    try {
      // Schema 1 exactly as an older memlens left it: only the first migration, one process row.
      const conn = await connect(parseStoreUrl(backend.url));
      const any = await olderSchema(conn, 1);
      await any
        .insertInto('processes')
        .values({
          host: 'old',
          pid: 7,
          start_ns: 0,
          name: 'old',
          mmap_bytes: 8192,
          munmap_bytes: 0,
          mmap_calls: 2,
          munmap_calls: 0,
          brk_calls: 1,
          mremap_calls: 0,
          failed_calls: 0,
          first_seen_ms: 1,
          last_seen_ms: 2,
          seq: 1,
        })
        .execute();
      // Three events written, all since deleted by retention (which did not count them then).
      await any
        .insertInto('hosts')
        .values({
          host: 'old',
          first_seen_ms: 1,
          last_seen_ms: 2,
          event_count: 3,
          lost_events: 0,
          unpaired: 0,
          malformed: 0,
        })
        .execute();
      await conn.db.destroy();

      const store = await openStore(backend.url);
      try {
        const [before] = await store.processTotals({ host: 'old' });
        assert.equal(before?.mprotectCalls, 0);
        assert.equal(before.mmapCalls, 2);
        await store.appendEvents([
          event({
            host: 'old',
            pid: 7,
            name: 'old',
            call: 'mprotect',
            addr: 0x7f00_0000_0000n,
            lengthBytes: 4096n,
            prot: 0,
            flags: null,
            fd: null,
            result: 0n,
          }),
          event({
            host: 'old',
            pid: 7,
            name: 'old',
            call: 'mprotect',
            addr: 0x7f00_0000_0000n,
            lengthBytes: 4096n,
            prot: 3,
            flags: null,
            fd: null,
            result: -12n,
            error: 'ENOMEM',
          }),
        ]);
        const [after] = await store.processTotals({ host: 'old' });
        assert.equal(after?.mprotectCalls, 2);
        // The upgrade counted what earlier retention had deleted: the two new events are stored.
        assert.equal(await store.storedEvents('old'), 2);
        assert.equal((await store.hosts()).find((h) => h.host === 'old')?.eventCount, 5);
        assert.equal(after.failedCalls, 1);
        const back = await store.queryEvents({ host: 'old', call: 'mprotect', limit: 10 });
        assert.deepEqual(
          back.map((e) => [e.call, e.prot, e.lengthBytes, e.result, e.error]),
          [
            ['mprotect', 3, 4096n, -12n, 'ENOMEM'],
            ['mprotect', 0, 4096n, 0n, null],
          ],
        );
      } finally {
        await store.close();
      }
    } finally {
      await backend.drop();
    }
  });
}

/**
 * Batches whose calls take several id blocks (packs.ts, ID_BLOCK) and interleave many processes:
 * every reader merges the packs of a block by id, so that ids follow the batch's order.
 */
export function packedBlockTests(kind: BackendKind): void {
  test(`${kind}: a batch of several id blocks and processes is paged, streamed, counted and retained in its order`, async () => {
    const backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_store_blocks');
    const store = await openStore(backend.url);
    try {
      const host = 'blocks';
      const events = randomEvents(new SeededRandom(7), 40_000, 1_000_000_000n, [host]);
      await store.appendEvents(events);
      // The whole batch, newest first, in pages: the stream reversed, ids strictly decreasing.
      const walk = async (filter: { pid?: number }, limit: number) => {
        const out: StoredEventLike[] = [];
        let cursor: number | undefined;
        for (;;) {
          const page = await store.queryEvents({
            host,
            ...filter,
            limit,
            ...(cursor === undefined ? {} : { beforeId: cursor }),
          });
          if (page.length === 0) return out;
          out.push(...page);
          cursor = page.at(-1)?.id;
        }
      };
      const all = await walk({}, 10_000);
      assert.deepEqual(all.map(withoutId), [...events].reverse());
      for (let k = 1; k < all.length; k++)
        assert.ok((all[k - 1]?.id ?? 0) > (all[k]?.id ?? 0), 'ids strictly decrease');
      const pid = 5;
      const byPid = await walk({ pid }, 100);
      assert.deepEqual(byPid.map(withoutId), events.filter((e) => e.pid === pid).reverse());
      // Streamed oldest first: the stream itself, also below a cursor and by pid.
      const streamed: StoredEventLike[] = [];
      for await (const page of store.streamEvents({ host }, 3000)) {
        assert.ok(page.length <= 3000);
        streamed.push(...page);
      }
      assert.deepEqual(streamed.map(withoutId), events);
      const cut = all[12_345]?.id ?? 0;
      const below: StoredEventLike[] = [];
      for await (const page of store.streamEvents({ host, pid, beforeId: cut }, 100)) below.push(...page);
      assert.deepEqual(
        below.map((e) => e.id),
        byPid
          .filter((e) => e.id < cut)
          .map((e) => e.id)
          .reverse(),
      );
      // Counts: by pack columns, by calls and times (decoded), and bounded.
      assert.equal(await store.countEvents({ host, pid }), byPid.length);
      assert.equal(await store.countEvents({ host, call: 'brk' }), events.filter((e) => e.call === 'brk').length);
      const from = events[10_000]?.timeMs ?? 0;
      const to = events[30_000]?.timeMs ?? 0;
      assert.equal(
        await store.countEvents({ host, pid, sinceMs: from, untilMs: to }),
        events.filter((e) => e.pid === pid && e.timeMs >= from && e.timeMs < to).length,
      );
      assert.equal(await store.countEvents({ host, call: 'mmap' }, 50), 50);
      // Retention by rows: the line falls inside the second block.
      const r = await store.applyRetention({ maxRows: 20_000 });
      assert.equal(r.deletedEvents, 20_000);
      assert.deepEqual((await walk({}, 10_000)).map(withoutId), events.slice(20_000).reverse());
      assert.equal(await store.storedEvents(host), 20_000);
      // By age: everything before event 30,000's time.
      const cutoffMs = events[30_000]?.timeMs ?? 0;
      await store.applyRetention({ maxAgeMs: 1000, nowMs: cutoffMs + 1000 });
      const left = events.slice(20_000).filter((e) => e.timeMs >= cutoffMs);
      assert.deepEqual((await walk({}, 10_000)).map(withoutId), [...left].reverse());
      assert.equal(await store.storedEvents(host), left.length);
      // What comes next gets greater ids.
      const newest = all[0]?.id ?? 0;
      await store.appendEvents([event({ host, ktimeNs: 9n })]);
      const since = await store.queryEvents({ host, afterId: newest });
      assert.equal(since.length, 1);
      assert.equal(since[0]?.ktimeNs, 9n);
    } finally {
      await store.close();
      await backend.drop();
    }
  });
}

type StoredEventLike = MemEvent & { id: number };

/**
 * Builds schema `version` (the first `version` migrations) in an empty database, as the memlens of
 * that schema left it: the migrations table as migrate.ts creates it, each migration run through
 * the untyped handle.
 */
async function olderSchema(conn: Connection, version: number): Promise<AnyDb> {
  const any = conn.db as unknown as AnyDb;
  await any.schema
    .createTable('memlens_migrations')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('applied_ms', 'bigint', (c) => c.notNull())
    .execute();
  const all = Object.entries(migrations(conn.dialect)).sort(([a], [b]) => (a < b ? -1 : 1));
  const old = all.slice(0, version);
  assert.equal(old.length, version);
  for (const [name, m] of old) {
    await m.up(any, () => undefined);
    await any.insertInto('memlens_migrations').values({ name, applied_ms: 1 }).execute();
  }
  return any;
}

/** A store of schema 5 (one row per call in `events`) is repacked by the upgrade; every call keeps its id. */
export function schemaFiveTests(kind: BackendKind): void {
  test(`${kind}: a database of schema 5 with events in it is repacked, every event keeping its id`, async () => {
    const backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_store_v5');
    try {
      const conn = await connect(parseStoreUrl(backend.url));
      const any = await olderSchema(conn, 5);
      // Two runs of ids far apart (more than an id block), then the newest rows deleted.
      const host = 'v5';
      const events = randomEvents(new SeededRandom(5), 3000, 1_000_000_000n, [host]);
      const ids = events.map((_, i) => (i < 1500 ? i + 1 : 100_000 + i - 1500));
      for (let i = 0; i < events.length; i += 500)
        await any
          .insertInto('events')
          .values(events.slice(i, i + 500).map((e, k) => ({ id: ids[i + k], ...eventToRow(e) })))
          .execute();
      await any.deleteFrom('events').where('id', '>', 101_400).execute();
      const kept = events.map((e, i) => ({ ...e, id: ids[i] ?? 0 })).filter((e) => e.id <= 101_400);
      await any
        .insertInto('hosts')
        .values({
          host,
          first_seen_ms: 1,
          last_seen_ms: 2,
          event_count: events.length,
          deleted_events: events.length - kept.length,
          lost_events: 0,
          unpaired: 0,
          malformed: 0,
        })
        .execute();
      await conn.db.destroy();

      const notices: string[] = [];
      const store = await openStore(backend.url, { notice: (line) => notices.push(line) });
      try {
        assert.deepEqual(notices, [], 'a repack of a few thousand calls says nothing');
        assert.deepEqual(await store.queryEvents({ host, limit: 10_000 }), [...kept].reverse());
        assert.deepEqual(
          await store.queryEvents({ host, pid: 3, beforeId: 100_000, limit: 10_000 }),
          kept.filter((e) => e.pid === 3 && e.id < 100_000).reverse(),
        );
        assert.equal(await store.storedEvents(host), kept.length);
        assert.equal(await store.countEvents({ host }), kept.length);
        await store.appendEvents([event({ host, ktimeNs: 7n })]);
        const [next] = await store.queryEvents({ host, limit: 1 });
        // SQLite's AUTOINCREMENT counter remembers the deleted ids; MySQL's is not read (schema.ts).
        assert.ok((next?.id ?? 0) > (kind === 'sqlite' ? Math.max(...ids) : 101_400), `next id ${next?.id}`);
        assert.equal(next?.ktimeNs, 7n);
      } finally {
        await store.close();
      }
    } finally {
      await backend.drop();
    }
  });
}

/** A repack long enough to be noticed says so while it runs, also when the store's worker opens it (memlens trace). */
export function longRepackTests(): void {
  test('sqlite: repacking 100,000 calls of schema 5 says so at the start and the end, through the writer worker', async () => {
    const backend = sqliteBackend();
    try {
      const conn = await connect(parseStoreUrl(backend.url));
      const any = await olderSchema(conn, 5);
      const host = 'v5';
      const n = 100_000;
      for (let i = 0; i < n; i += 500)
        await any
          .insertInto('events')
          .values(
            Array.from({ length: 500 }, (_, k) => ({
              id: i + k + 1,
              ...eventToRow(event({ host, pid: 10 + (k % 7), ktimeNs: BigInt(i + k + 1) })),
            })),
          )
          .execute();
      await conn.db.destroy();
      const notices: string[] = [];
      const writer = await WorkerWriter.open(backend.url, {}, null, undefined, (line) => notices.push(line));
      await writer.close(5000);
      assert.equal(notices.length >= 2, true, notices.join('\n'));
      assert.equal(
        notices[0],
        'repacking the 100,000 stored calls into packs (store schema 6), once; this takes about 15 s a million calls',
      );
      assert.match(notices.at(-1) ?? '', /^repacked 100,000 calls in \d+ s$/);
      const store = await openStore(backend.url);
      try {
        assert.equal(await store.countEvents({ host }), n);
        const [newest] = await store.queryEvents({ host, limit: 1 });
        assert.deepEqual([newest?.id, newest?.ktimeNs], [n, BigInt(n)]);
      } finally {
        await store.close();
      }
    } finally {
      await backend.drop();
    }
  });
}
