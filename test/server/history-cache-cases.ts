// The Timeline's windows kept between requests (src/server/history-cache.ts): every answer taken
// partly from the cache equals the answer read wholly from the database on the same store, for
// windows of an hour to 30 days following now and in the past, as samples arrive (written and
// still pending), as retention deletes (the recorder's own, and another server's on the same
// database), and as a sample lands in a bucket already kept. A small store, filled here, on both
// databases (run by history-cache.test.ts and history-cache-mariadb.live.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HistoryRecorder, type HistorySampleInput } from '../../src/server/history-recorder.js';
import { openStore, type EventStore, type HistoryRetention } from '../../src/store/index.js';
import type { HistoryBody } from '../../src/wire/messages.js';
import { mariadbBackend, sqliteBackend, type Backend, type BackendKind } from '../store/backends.js';

const HOST = 'host-cache';
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const MiB = 1024 * 1024;
const RETENTION: HistoryRetention = { rawMs: DAY, minuteMs: 30 * DAY, hourMs: 400 * DAY };
/** The store holds 8 days of samples, one every 2 minutes, up to a little before NOW. */
const NOW = Date.UTC(2026, 0, 20, 12, 34, 56);
const START = NOW - 8 * DAY;
const SAMPLE_MS = 2 * MIN;

/** Sample at `atMs`: three categories and five processes, one of them short-lived and one a reused pid. */
function sample(atMs: number, extra: HistorySampleInput['processes'] = []): HistorySampleInput {
  const k = Math.floor((atMs - START) / SAMPLE_MS);
  const wave = (p: number): number => Math.round(50 * Math.sin(k / p)) * MiB;
  const procs: HistorySampleInput['processes'][number][] = [
    {
      pid: 10,
      startTicks: 1,
      name: 'grower',
      pssBytes: 100 * MiB + k * 4096,
      rssBytes: null,
      ussBytes: null,
      swapBytes: null,
    },
    { pid: 20, startTicks: 2, name: 'wave', pssBytes: 300 * MiB + wave(40), rssBytes: 1, ussBytes: 1, swapBytes: 0 },
    // Two processes with the same highest PSS: the ranking's order must not depend on read order.
    { pid: 30, startTicks: 3, name: 'flat-a', pssBytes: 200 * MiB, rssBytes: null, ussBytes: null, swapBytes: null },
    { pid: 31, startTicks: 4, name: 'flat-b', pssBytes: 200 * MiB, rssBytes: null, ussBytes: null, swapBytes: null },
  ];
  // pid 40 lives for a day and a half, twice: the same pid under two start times.
  const day = (atMs - START) / DAY;
  if (day > 1 && day < 2.5)
    procs.push({
      pid: 40,
      startTicks: 100,
      name: 'first',
      pssBytes: 500 * MiB + wave(7),
      rssBytes: null,
      ussBytes: null,
      swapBytes: null,
    });
  if (day > 5 && day < 6.5)
    procs.push({
      pid: 40,
      startTicks: 900,
      name: 'second',
      pssBytes: 450 * MiB - wave(9),
      rssBytes: null,
      ussBytes: null,
      swapBytes: null,
    });
  return {
    atMs,
    categories: [
      { key: 'anon', name: 'anonymous', bytes: 1000 * MiB + wave(30) + k * 1024 },
      { key: 'page_cache', name: 'page cache', bytes: 3000 * MiB - wave(55) },
      { key: 'free', name: 'free', bytes: 4000 * MiB + wave(13) },
    ],
    processes: [...procs, ...extra],
  };
}

interface Window {
  label: string;
  fromMs?: number;
  toMs?: number;
  points: number;
  pids?: { pid: number; startTicks: number }[];
}

/** The Timeline's windows following now (as its buttons ask for them) and a few in the past. */
function windows(nowMs: number): Window[] {
  const out: Window[] = [];
  for (const [label, span] of [
    ['1 h', HOUR],
    ['6 h', 6 * HOUR],
    ['1 d', DAY],
    ['7 d', 7 * DAY],
    ['30 d', 30 * DAY],
  ] as const)
    for (const points of [60, 400, 720])
      out.push({ label: `${label} at ${points} points`, fromMs: nowMs - span, toMs: nowMs, points });
  // Zoomed into the past, ends not on any bucket's edge.
  out.push({
    label: 'a day two days ago',
    fromMs: nowMs - 3 * DAY + 12_345,
    toMs: nowMs - 2 * DAY - 7_777,
    points: 500,
  });
  out.push({ label: '3 days, 4 days ago', fromMs: nowMs - 7 * DAY - 4_321, toMs: nowMs - 4 * DAY + 999, points: 300 });
  out.push({ label: '6 h ending an hour ago', fromMs: nowMs - 7 * HOUR + 1, toMs: nowMs - HOUR - 1, points: 720 });
  // Processes asked for by pid, the reused pid among them.
  out.push({
    label: '7 d of chosen processes',
    fromMs: nowMs - 7 * DAY,
    toMs: nowMs,
    points: 720,
    pids: [
      { pid: 40, startTicks: 100 },
      { pid: 40, startTicks: 900 },
      { pid: 20, startTicks: 2 },
    ],
  });
  return out;
}

export function cacheTests(kind: BackendKind): void {
  describe(`Timeline windows from the cache on ${kind}`, () => {
    let backend: Backend;
    let store: EventStore;
    let rec: HistoryRecorder;
    /** The latest sample recorded. */
    let lastMs = 0;

    before(async () => {
      backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_history_cache');
      store = await openStore(backend.url);
      rec = new HistoryRecorder(store.history, HOST, { retention: RETENTION });
      let n = 0;
      for (let t = START; t < NOW - 5 * MIN; t += SAMPLE_MS) {
        rec.record(sample(t));
        lastMs = t;
        if (++n % 500 === 0) await rec.flush();
      }
      await rec.flush();
    });
    after(async () => {
      await rec.close();
      await store.close();
      await backend.drop();
    });

    /** Every window, from the cache and from the database; returns the cached answers. */
    async function same(nowMs: number, what: string): Promise<Map<string, HistoryBody>> {
      const out = new Map<string, HistoryBody>();
      for (const w of windows(nowMs)) {
        const q = { fromMs: w.fromMs, toMs: w.toMs, points: w.points, pids: w.pids };
        const fromCache = await rec.window(q, nowMs);
        const fromDb = await rec.window(q, nowMs, { cached: false });
        assert.deepEqual(fromCache, fromDb, `${what}: ${w.label}`);
        out.set(w.label, fromCache);
      }
      return out;
    }

    test('answers equal the uncached ones, and the second time come from the cache', async () => {
      await same(NOW, 'first read');
      const misses = rec.cache.misses;
      const hits = rec.cache.hits;
      assert.ok(misses > 0, 'the first read filled the cache');
      await same(NOW, 'second read');
      assert.ok(rec.cache.hits > hits, 'the second read found buckets kept');
      assert.ok(rec.cache.misses - misses < (rec.cache.hits - hits) / 10, 'and read few again');
      assert.ok(rec.cache.rows > 0 && rec.cache.rows <= 100_000, `${rec.cache.rows} rows kept`);
    });

    test('new samples, written and pending, appear in the next answer', async () => {
      // 20 more minutes: a new process far above the others, half of it written, half pending.
      const before = await same(NOW, 'before');
      const big = [
        {
          pid: 77,
          startTicks: 7,
          name: 'balloon',
          pssBytes: 5000 * MiB,
          rssBytes: null,
          ussBytes: null,
          swapBytes: null,
        },
      ];
      let now = NOW;
      for (let i = 0; i < 10; i++) {
        lastMs += SAMPLE_MS;
        rec.record(sample(lastMs, big));
        if (i === 4) await rec.flush();
      }
      now = lastMs + 30_000;
      const afterSamples = await same(now, 'after 10 samples, 5 pending');
      for (const label of ['6 h at 720 points', '1 d at 720 points', '7 d at 720 points', '30 d at 720 points']) {
        const b = afterSamples.get(label);
        assert.equal(b?.processes[0]?.pid, 77, `${label}: the new process ranks first`);
        assert.ok(
          (b.points[b.points.length - 1]?.tMs ?? 0) > (before.get(label)?.points.at(-1)?.tMs ?? Infinity) ||
            b.points.at(-1)?.avg.join() !== before.get(label)?.points.at(-1)?.avg.join(),
          `${label}: the last point moved`,
        );
      }
      await rec.flush();
      await same(now, 'after the flush');
      // An hour later, with a flush now and then: complete hours and days roll into the cache.
      for (let i = 0; i < 30; i++) {
        lastMs += SAMPLE_MS;
        rec.record(sample(lastMs, big));
        if (i % 7 === 0) await rec.flush();
        if (i % 10 === 9) await same(lastMs + 1000, `rolling, sample ${i}`);
      }
    });

    test('a sample in a bucket already kept replaces that bucket', async () => {
      const now = lastMs + 1000;
      await same(now, 'kept');
      // A late sample three days back (as a replayed archive might record): its minute, hour and
      // day are read again.
      const old = Math.floor((now - 3 * DAY) / MIN) * MIN + 7_000;
      rec.record({
        ...sample(old),
        processes: [
          {
            pid: 88,
            startTicks: 8,
            name: 'late',
            pssBytes: 9000 * MiB,
            rssBytes: null,
            ussBytes: null,
            swapBytes: null,
          },
        ],
      });
      const pending = await same(now, 'the late sample pending');
      assert.ok(
        pending.get('7 d at 720 points')?.processes.some((p) => p.pid === 88),
        'the late process is in the 7 d ranking',
      );
      await rec.flush();
      const written = await same(now, 'the late sample written');
      assert.equal(written.get('7 d at 720 points')?.processes[0]?.pid, 88);
    });

    test('retention, by this recorder or by another server on the same database, leaves no deleted row in an answer', async () => {
      const now = lastMs + 1000;
      await same(now, 'before retention');
      // The recorder's own retention: the minute tier kept 5 days.
      const short = new HistoryRecorder(store.history, HOST, { retention: { ...RETENTION, minuteMs: 5 * DAY } });
      assert.ok((await short.applyRetention(now)) > 0);
      await same(now, 'after another recorder deleted the minute tier past 5 days');
      // Another server deleting directly in the store: only the oldest row tells.
      await store.history.applyRetention({ ...RETENTION, minuteMs: 4 * DAY, hourMs: 6 * DAY }, now);
      await same(now, 'after a deletion in the store');
      await rec.applyRetention(now + 2 * DAY);
      await same(now + 2 * DAY, 'after its own retention, two days on');
    });

    test('a restart starts empty and answers the same', async () => {
      await rec.close();
      await store.close();
      store = await openStore(backend.url);
      rec = new HistoryRecorder(store.history, HOST, { retention: RETENTION });
      assert.equal(rec.cache.rows, 0);
      await same(lastMs + 1000, 'after the restart');
    });

    test('after a window that follows now, the other windows are read ahead', async () => {
      const now = lastMs + 1000;
      const ahead = new HistoryRecorder(store.history, HOST, {
        retention: RETENTION,
        nowMs: () => now,
        prefetchSpansMs: [6 * HOUR, DAY, 7 * DAY],
      });
      await ahead.window({ fromMs: now - HOUR, toMs: now, points: 500 }, now);
      await ahead.readAhead();
      const misses = ahead.cache.misses;
      assert.ok(misses > 0, 'the read-ahead filled the cache');
      for (const span of [6 * HOUR, DAY, 7 * DAY]) {
        const q = { fromMs: now - span, toMs: now, points: 500 };
        const b = await ahead.window(q, now, { prefetch: false });
        assert.deepEqual(b, await ahead.window(q, now, { cached: false }), `${span / HOUR} h`);
      }
      assert.equal(ahead.cache.misses, misses, 'every whole bucket of the three windows was kept');
      // Not again at once for the same width.
      await ahead.window({ fromMs: now - HOUR, toMs: now, points: 500 }, now);
      await ahead.readAhead();
      assert.equal(ahead.cache.misses, misses);
      await ahead.close();
    });

    test('two reads at once read each missing bucket once, and answer the same', async () => {
      const now = lastMs + 1000;
      for (const span of [6 * HOUR, DAY, 7 * DAY]) {
        const q = { fromMs: now - span, toMs: now, points: 720 };
        const alone = new HistoryRecorder(store.history, HOST, { retention: RETENTION });
        await alone.window(q, now);
        const misses = alone.cache.misses;
        await alone.close();
        const both = new HistoryRecorder(store.history, HOST, { retention: RETENTION });
        const [a, b] = await Promise.all([both.window(q, now), both.window(q, now)]);
        const want = await both.window(q, now, { cached: false });
        assert.deepEqual(a, want, `${span / HOUR} h, the first`);
        assert.deepEqual(b, want, `${span / HOUR} h, the second`);
        assert.equal(both.cache.misses, misses, `${span / HOUR} h: the second waited for the first one's reads`);
        await both.close();
      }
    });

    test('another host is read from the database every time', async () => {
      const other = new HistoryRecorder(store.history, 'host-other', { retention: RETENTION });
      for (let i = 0; i < 50; i++) other.record(sample(NOW - 10 * HOUR + i * SAMPLE_MS));
      await other.close();
      const rows = rec.cache.rows;
      const a = await rec.window({ host: 'host-other', fromMs: NOW - DAY, toMs: NOW, points: 720 }, NOW);
      const b = await rec.window({ host: 'host-other', fromMs: NOW - DAY, toMs: NOW, points: 720 }, NOW, {
        cached: false,
      });
      assert.deepEqual(a, b);
      assert.equal(rec.cache.rows, rows, 'nothing kept for another host');
    });
  });
}
