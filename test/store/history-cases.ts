// The /proc history's tiers, merging and retention, against both real databases (run by
// history-sqlite.test.ts and history-mariadb.live.test.ts): samples go in
// through the recorder (as `memlens serve` writes them), in several flushes and across a reopen
// of the store, and every bucket is checked against the figures recomputed from the samples.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HistoryRecorder, type HistorySampleInput } from '../../src/server/history-recorder.js';
import { openStore, type EventStore, type HistoryRetention } from '../../src/store/index.js';
import { mariadbBackend, sqliteBackend, type Backend, type BackendKind } from './backends.js';

const HOST = 'host-a';
const DAY = 86_400_000;
const RETENTION: HistoryRetention = { rawMs: DAY, minuteMs: 30 * DAY, hourMs: 400 * DAY };
// A whole hour, so the hour bucket is [T0, T0 + 1 h).
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const MiB = 1024 * 1024;

/** Sample i, 10 s apart: anon grows by 1 MiB a sample, free shrinks; pid 100 grows, 200 is steady. */
function sample(i: number): HistorySampleInput {
  return {
    atMs: T0 + i * 10_000,
    categories: [
      { key: 'anon', name: 'anonymous memory of processes', bytes: (100 + i) * MiB },
      { key: 'free', name: 'free', bytes: (900 - i) * MiB },
      { key: 'unaccounted', name: 'unaccounted', bytes: null },
    ],
    processes: [
      {
        pid: 100,
        startTicks: 5000,
        name: 'grower',
        pssBytes: (10 + i) * MiB,
        rssBytes: (20 + i) * MiB,
        ussBytes: (5 + i) * MiB,
        swapBytes: 0,
      },
      {
        pid: 200,
        startTicks: 7000,
        name: 'steady',
        pssBytes: 50 * MiB,
        rssBytes: 60 * MiB,
        ussBytes: null,
        swapBytes: null,
      },
    ],
  };
}

/** The expected minute bucket of samples [from, to). */
function expectedBucket(values: number[]): { n: number; avg: number; min: number; max: number } {
  return {
    n: values.length,
    avg: Math.floor(values.reduce((s, v) => s + v, 0) / values.length),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

export function historyTests(kind: BackendKind): void {
  describe(`history on ${kind}`, () => {
    let backend: Backend;
    let store: EventStore;

    before(async () => {
      backend = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_history');
      store = await openStore(backend.url);
    });
    after(async () => {
      await store.close();
      await backend.drop();
    });

    test('tiers hold every sample, minute and hour buckets, merged across flushes and a reopen', async () => {
      // 18 samples (3 minutes) in three flushes of 6: each minute bucket is written in parts.
      let rec = new HistoryRecorder(store.history, HOST, { retention: RETENTION });
      for (let i = 0; i < 12; i++) {
        rec.record(sample(i));
        if (i % 4 === 3) await rec.flush();
      }
      await rec.close();
      // A restart: a new store handle and recorder, the same database, the same minute continues.
      await store.close();
      store = await openStore(backend.url);
      rec = new HistoryRecorder(store.history, HOST, { retention: RETENTION });
      for (let i = 12; i < 18; i++) rec.record(sample(i));
      await rec.close();

      const raw = await store.history.system(HOST, 0, T0, T0 + 3_600_000);
      assert.equal(raw.length, 18 * 2, 'two categories with figures, every sample (unaccounted was null)');
      const anonRaw = raw.filter((r) => r.category === 'anon');
      assert.deepEqual(
        anonRaw.map((r) => r.avgKib),
        Array.from({ length: 18 }, (_, i) => (100 + i) * 1024),
      );

      const minutes = (await store.history.system(HOST, 1, T0, T0 + 3_600_000)).filter((r) => r.category === 'anon');
      assert.deepEqual(
        minutes.map((r) => r.tMs),
        [T0, T0 + 60_000, T0 + 120_000],
      );
      for (let m = 0; m < 3; m++) {
        const e = expectedBucket(Array.from({ length: 6 }, (_, j) => (100 + m * 6 + j) * 1024));
        const r = minutes[m];
        assert.deepEqual({ n: r?.n, avg: r?.avgKib, min: r?.minKib, max: r?.maxKib }, e, `anon minute ${m}`);
      }
      const hour = (await store.history.system(HOST, 2, T0, T0 + 3_600_000)).filter((r) => r.category === 'free');
      assert.equal(hour.length, 1);
      assert.deepEqual(
        { n: hour[0]?.n, min: hour[0]?.minKib, max: hour[0]?.maxKib },
        { n: 18, min: 883 * 1024, max: 900 * 1024 },
      );

      const procs = await store.history.processes(HOST, 1, T0, T0 + 3_600_000);
      const grower = procs.filter((r) => r.pid === 100);
      assert.equal(grower.length, 3);
      const g1 = grower[1];
      assert.deepEqual(
        { n: g1?.n, avg: g1?.pssAvgKib, min: g1?.pssMinKib, max: g1?.pssMaxKib, rss: g1?.rssKib, uss: g1?.ussKib },
        {
          ...(({ n, avg, min, max }) => ({ n, avg, min, max }))(
            expectedBucket(Array.from({ length: 6 }, (_, j) => (16 + j) * 1024)),
          ),
          rss: 31 * 1024,
          uss: 16 * 1024,
        },
        'minute 1 of pid 100: PSS mean/min/max, RSS and USS as last read',
      );
      const steady = procs.filter((r) => r.pid === 200);
      assert.ok(steady.every((r) => r.pssAvgKib === 50 * 1024 && r.ussKib === null));
      assert.equal((await store.history.processes(HOST, 0, T0, T0 + 3_600_000)).length, 0, 'processes have no tier 0');
      const names = await store.history.names(HOST, [100, 200]);
      assert.deepEqual(names.map((n) => n.name).sort(), ['grower', 'steady']);
    });

    test('a window picks its tier from its length, and ranks processes by PSS', async () => {
      const rec = new HistoryRecorder(store.history, HOST, { retention: RETENTION });
      const now = T0 + 200_000;
      const fine = await rec.window({ fromMs: T0, toMs: T0 + 180_000, points: 400 }, now);
      assert.equal(fine.tier, 'every sample');
      assert.equal(fine.points.length, 18);
      const anon = fine.categories.findIndex((c) => c.key === 'anon');
      assert.ok(anon >= 0);
      assert.equal(fine.points[5]?.avg[anon], 105 * MiB);
      assert.deepEqual(
        fine.processes.map((p) => p.pid),
        [200, 100],
        'ranked by highest PSS',
      );
      const grower = fine.processes.find((p) => p.pid === 100);
      assert.equal(grower?.maxPssBytes, 27 * MiB);
      // First and last: the means of its first and last minutes (10–15 MiB and 22–27 MiB).
      assert.equal(grower.firstPssBytes, 12.5 * MiB);
      assert.equal(grower.lastPssBytes, 24.5 * MiB);
      assert.equal(fine.series.length, 2);
      assert.equal(fine.series.find((s) => s.pid === 100)?.points.length, 3, 'process series start at the minute tier');

      // Three points for three minutes: the minute tier.
      const coarse = await rec.window({ fromMs: T0, toMs: T0 + 180_000, points: 3 }, now);
      assert.equal(coarse.tier, '1 minute');
      assert.equal(coarse.points.length, 3);
      assert.equal(coarse.points[0]?.min[anon], 100 * MiB);
      assert.equal(coarse.points[0].max[anon], 105 * MiB);

      // A window two days back is past tier 0's day: the minute tier even for many points.
      const old = await rec.window({ fromMs: T0, toMs: T0 + 180_000, points: 400 }, T0 + 2 * DAY);
      assert.equal(old.tier, '1 minute');

      // Asking for one process by pid and start time.
      const one = await rec.window(
        { fromMs: T0, toMs: T0 + 180_000, points: 400, pids: [{ pid: 100, startTicks: 5000 }] },
        now,
      );
      assert.deepEqual(
        one.series.map((s) => [s.pid, s.name, s.points[0]?.[2]]),
        [[100, 'grower', 10 * MiB]],
      );
      // The same pid with another start time is another process: nothing stored for it.
      const reused = await rec.window(
        { fromMs: T0, toMs: T0 + 180_000, points: 400, pids: [{ pid: 100, startTicks: 9999 }] },
        now,
      );
      assert.deepEqual(reused.series[0]?.points, []);
      assert.equal(one.oldestMs, T0);
    });

    test('a window with more samples than points merges them in the database, the pending ones as if written', async () => {
      const host = 'host-merge';
      const anonOf = (i: number): number => (100 + i) * MiB;
      const rec = new HistoryRecorder(store.history, host, { retention: RETENTION });
      // 18 samples over 3 minutes: 13 written, 5 still in memory, so one bucket is in both.
      for (let i = 0; i < 13; i++) rec.record(sample(i));
      await rec.flush();
      for (let i = 13; i < 18; i++) rec.record(sample(i));
      // 6 points for 3 minutes: every sample's tier (a point per 30 s is finer than a minute),
      // merged into 30-second buckets of 3 samples.
      const window = { fromMs: T0, toMs: T0 + 179_000, points: 6 } as const;
      const before = await rec.window(window, T0 + 200_000);
      assert.equal(before.tier, 'every sample');
      assert.equal(before.bucketMs, 30_000);
      const anon = before.categories.findIndex((c) => c.key === 'anon');
      assert.deepEqual(
        before.points.map((p) => p.tMs),
        [0, 1, 2, 3, 4, 5].map((k) => T0 + k * 30_000),
      );
      before.points.forEach((p, k) => {
        const want = expectedBucket([0, 1, 2].map((j) => anonOf(3 * k + j)));
        assert.deepEqual([p.avg[anon], p.min[anon], p.max[anon]], [want.avg, want.min, want.max], `bucket ${k}`);
      });
      await rec.flush();
      const after = await rec.window(window, T0 + 200_000);
      assert.deepEqual(after.points, before.points, 'the same buckets once every sample is written');
      await rec.close();
    });

    test("a process's line merges its minutes in the database when the window has more than it draws", async () => {
      const host = 'host-series';
      const rec = new HistoryRecorder(store.history, host, { retention: RETENTION });
      // 15 minutes of samples: 50 written (minute 8 in part), 40 still in memory.
      for (let i = 0; i < 50; i++) rec.record(sample(i));
      await rec.flush();
      for (let i = 50; i < 90; i++) rec.record(sample(i));
      // 20 points: the lines get 10, so 2-minute buckets of 12 samples.
      const window = { fromMs: T0, toMs: T0 + 899_000, points: 20 } as const;
      const before = await rec.window(window, T0 + 900_000);
      assert.equal(before.seriesBucketMs, 120_000);
      const grower = before.series.find((s) => s.pid === 100);
      assert.deepEqual(
        grower?.points,
        // The last bucket holds only minute 14's 6 samples.
        [0, 1, 2, 3, 4, 5, 6, 7].map((k) => {
          const b = expectedBucket(Array.from({ length: k < 7 ? 12 : 6 }, (_, j) => (10 + 12 * k + j) * MiB));
          return [T0 + k * 120_000, b.avg, b.min, b.max];
        }),
      );
      await rec.flush();
      const after = await rec.window(window, T0 + 900_000);
      assert.deepEqual(after.series, before.series, 'the same lines once every sample is written');
      await rec.close();
    });

    test('samples not yet written rank as they will once written, a bucket in parts merged', async () => {
      const host = 'host-pending';
      const at = (i: number, pssMiB: number): HistorySampleInput => ({
        ...sample(i),
        processes: sample(i).processes.map((p) => (p.pid === 100 ? { ...p, pssBytes: pssMiB * MiB } : p)),
      });
      const rec = new HistoryRecorder(store.history, host, { retention: RETENTION });
      // Minute 0 and half of minute 1 written; the rest of minute 1 and minute 2 only in memory.
      for (let i = 0; i < 9; i++) rec.record(at(i, 10 + i));
      await rec.flush();
      for (let i = 9; i < 15; i++) rec.record(at(i, 40 - i));
      // The window ends in minute 1: its last bucket is the one written in parts.
      const window = { fromMs: T0, toMs: T0 + 110_000, points: 3 } as const;
      const before = await rec.window(window, T0 + 200_000);
      await rec.flush();
      const after = await rec.window(window, T0 + 200_000);
      const pick = (b: typeof before): unknown =>
        b.processes.map((p) => [p.pid, p.maxPssBytes, p.firstPssBytes, p.lastPssBytes]);
      assert.deepEqual(pick(before), pick(after));
      const grower = after.processes.find((p) => p.pid === 100);
      assert.equal(grower?.maxPssBytes, 31 * MiB, 'sample 9, pending before the flush, is the highest');
      assert.equal(grower.firstPssBytes, 12.5 * MiB, 'minute 0: 10–15 MiB');
      assert.equal(grower.lastPssBytes, 23.5 * MiB, 'minute 1: 16, 17, 18 MiB written, 31, 30, 29 MiB pending');
      await rec.close();
    });

    test('retention deletes each tier past its own age', async () => {
      const rec = new HistoryRecorder(store.history, HOST, {
        retention: { rawMs: DAY, minuteMs: DAY, hourMs: 30 * DAY },
      });
      // One day and 90 s after T0: samples before T0 + 90 s leave tier 0, and minute buckets
      // starting before T0 + 90 s leave tier 1 (a bucket goes when its start is past the age).
      await rec.applyRetention(T0 + DAY + 90_000);
      const raw = await store.history.system(HOST, 0, 0, T0 + DAY);
      assert.equal(Math.min(...raw.map((r) => r.tMs)), T0 + 90_000);
      assert.equal(raw.length, 9 * 2);
      const minutes = await store.history.system(HOST, 1, 0, T0 + DAY);
      assert.deepEqual([...new Set(minutes.map((r) => r.tMs))], [T0 + 120_000]);
      assert.deepEqual(
        [...new Set((await store.history.processes(HOST, 1, 0, T0 + DAY)).map((r) => r.tMs))],
        [T0 + 120_000],
      );
      assert.equal((await store.history.system(HOST, 2, 0, T0 + DAY)).length, 2, 'the hour tier keeps its bucket');
      // Past every tier: nothing left, names included.
      await rec.applyRetention(T0 + 31 * DAY);
      assert.equal((await store.history.system(HOST, 2, 0, T0 + DAY)).length, 0);
      assert.equal((await store.history.names(HOST, [100, 200])).length, 0);
    });
  });
}
