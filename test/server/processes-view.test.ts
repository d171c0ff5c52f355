// The data of the processes view without a browser: the PSS history's bound, pid reuse and
// growth; why each n/a is n/a; the pie of PSS or requested memory, over live processes unless
// asked; the process detail's fresh figures reaching the table's row.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { buildProcessRows, processPie } from '../../src/server/aggregate.js';
import type { SampledProcess, TracedProcess } from '../../src/server/inputs.js';
import { InMemoryProcessHistory } from '../../src/server/process-history.js';
import type {
  PieBody,
  PieFigure,
  PieSlice,
  ProcessDetailBody,
  ProcessesBody,
  ProcessRow,
} from '../../src/wire/messages.js';
import { SeededRandom } from '../../src/base/random.js';
import { makeHarness } from './harness.js';

const MiB = 1024 * 1024;

const sampled = (pid: number, pss: number | null, atMs = 1000): SampledProcess => ({
  pid,
  name: `p${pid}`,
  cmdline: null,
  rssBytes: 2 * MiB,
  pssBytes: pss,
  // USS comes from the same file as PSS (smaps_rollup): both read or neither.
  ussBytes: pss === null ? null : pss / 2,
  swapBytes: 0,
  vmSizeBytes: 10 * MiB,
  sampledAtMs: atMs,
  pssAtMs: pss === null ? null : atMs,
  startTime: '1',
});

const traced = (pid: number, requested: number, alive = true): TracedProcess => ({
  pid,
  name: `t${pid}`,
  requestedBytes: requested,
  reservedBytes: 0,
  mappedNowBytes: requested,
  calls: 1,
  alive,
});

describe('PSS history', () => {
  test('keeps one point per spacing plus the newest, within the span', () => {
    const h = new InMemoryProcessHistory({ spanMs: 60_000, spacingMs: 10_000 });
    // A sample every second for two minutes.
    for (let t = 0; t <= 120_000; t += 1000) h.add(t, 7, 's', t);
    h.prune(120_000);
    const s = h.series(7);
    assert.ok(s.length <= h.pointsPerProcess, `${s.length} points`);
    assert.equal(s.at(-1)?.tMs, 120_000);
    assert.ok((s[0]?.tMs ?? 0) >= 60_000, 'points older than the span are dropped');
    for (let i = 1; i < s.length - 1; i++) assert.ok((s[i]?.tMs ?? 0) - (s[i - 1]?.tMs ?? 0) >= 10_000);
  });

  test('a new process under an old pid starts a new series', () => {
    const h = new InMemoryProcessHistory();
    h.add(1000, 5, 'a', 10);
    h.add(20_000, 5, 'a', 20);
    h.add(40_000, 5, 'b', 99);
    assert.deepEqual(h.series(5), [{ tMs: 40_000, pssBytes: 99 }]);
  });

  test('at most maxProcesses series: the stalest goes', () => {
    const h = new InMemoryProcessHistory({ maxProcesses: 3 });
    for (let pid = 1; pid <= 5; pid++) h.add(pid * 1000, pid, 's', pid);
    assert.equal(h.processCount, 3);
    assert.deepEqual(h.series(1), []);
    assert.deepEqual(h.series(2), []);
    assert.equal(h.series(5).length, 1);
  });

  test('growth is the least-squares slope over the window; null below two points', () => {
    const h = new InMemoryProcessHistory();
    for (let t = 0; t <= 600_000; t += 10_000) {
      h.add(t, 1, 's', 1000 + (t / 1000) * 2048); // 2 KiB/s
      h.add(t, 2, 's', 5000);
    }
    h.add(600_000, 3, 's', 1);
    const body = h.body([1, 2, 3]);
    assert.ok(body !== null);
    const by = new Map(body.series.map((s) => [s.pid, s]));
    assert.ok(Math.abs((by.get(1)?.growth5mBytesPerS ?? 0) - 2048) < 1e-6);
    assert.ok(Math.abs((by.get(1)?.growth1hBytesPerS ?? 0) - 2048) < 1e-6);
    assert.equal(by.get(2)?.growth5mBytesPerS, 0);
    assert.equal(by.get(3)?.growth5mBytesPerS, null);
    assert.ok((by.get(1)?.tMs.length ?? 0) <= body.maxPoints);
    assert.equal(by.get(1)?.tMs.at(-1), 600_000, 'the newest point is always sent');
  });
});

describe('why a figure is n/a', () => {
  test('sampled, not yet sampled, exited, no tracing', () => {
    const t = new Map([
      [1, traced(1, 4 * MiB)],
      [2, traced(2, 8 * MiB)],
      [3, traced(3, 16 * MiB, false)],
    ]);
    const rows = buildProcessRows([sampled(1, null)], t, 100 * MiB);
    const by = new Map(rows.map((r) => [r.pid, r]));
    // The tracer follows mprotect, so a traced process's reserved bytes are known (0 here), never n/a.
    assert.deepEqual(by.get(1)?.unavailable, { pss: 'permission', uss: 'permission' });
    assert.equal(by.get(1)?.reservedBytes, 0);
    assert.deepEqual(by.get(2)?.unavailable, {
      rss: 'not-sampled',
      pss: 'not-sampled',
      uss: 'not-sampled',
      swap: 'not-sampled',
    });
    assert.deepEqual(by.get(3)?.unavailable, { rss: 'exited', pss: 'exited', uss: 'exited', swap: 'exited' });
    const untraced = buildProcessRows([sampled(1, MiB)], null, 100 * MiB);
    assert.deepEqual(untraced[0]?.unavailable, {
      requested: 'no-tracing',
      reserved: 'no-tracing',
      calls: 'no-tracing',
    });
  });

  test('every null figure of a row has a reason, and no figure with a value has one', () => {
    const t = new Map([
      [1, traced(1, 4 * MiB)],
      [2, traced(2, 8 * MiB)],
      [3, traced(3, 16 * MiB, false)],
    ]);
    for (const rows of [
      buildProcessRows([sampled(1, null), sampled(4, MiB)], t, 100 * MiB),
      buildProcessRows([sampled(1, null)], null, null),
    ]) {
      for (const r of rows) {
        const figures = {
          requested: r.requestedBytes,
          reserved: r.reservedBytes,
          mappedNow: r.mappedNowBytes,
          rss: r.rssBytes,
          pss: r.pssBytes,
          uss: r.ussBytes,
          swap: r.swapBytes,
          calls: r.calls,
        };
        for (const [k, v] of Object.entries(figures)) assert.equal(v === null, k in r.unavailable, `pid ${r.pid} ${k}`);
      }
    }
  });

  test('a reading newer than the sample replaces its figures', () => {
    const t = new Map([[2, traced(2, 8 * MiB)]]);
    const rows = buildProcessRows(
      [sampled(1, MiB, 1000)],
      t,
      null,
      new Map([
        [1, { rssBytes: 3 * MiB, pssBytes: 2 * MiB, atMs: 2000 }],
        [2, { rssBytes: 5 * MiB, pssBytes: 4 * MiB, atMs: 2000 }],
      ]),
    );
    const by = new Map(rows.map((r) => [r.pid, r]));
    assert.equal(by.get(1)?.pssBytes, 2 * MiB);
    assert.equal(by.get(1)?.sampledAtMs, 2000);
    assert.equal(by.get(2)?.rssBytes, 5 * MiB);
    assert.equal(by.get(2)?.unavailable.rss, undefined);
    assert.equal(by.get(2)?.unavailable.swap, 'not-sampled');
  });
});

describe('the pie', () => {
  test('exited processes never take part unless asked', () => {
    const t = new Map([
      [1, traced(1, 4 * MiB)],
      [3, traced(3, 1024 * MiB, false)],
    ]);
    const rows = buildProcessRows([sampled(1, MiB)], t, null);
    assert.deepEqual(
      processPie(rows, 'requested').slices.map((s) => s.pid),
      [1],
    );
    assert.deepEqual(
      processPie(rows, 'requested', true).slices.map((s) => s.pid),
      [3, 1],
    );
    assert.deepEqual(
      processPie(rows, 'pss').slices.map((s) => [s.pid, s.bytes]),
      [[1, MiB]],
    );
  });
});

describe('the pie, against a plain sort of every row', () => {
  /** The pie as it was first written: every row with a value, sorted, the first `top` kept. */
  function sortedPie(rows: readonly ProcessRow[], figure: PieFigure, withExited: boolean, top: number) {
    const withValue = rows.flatMap((r) => {
      const v = figure === 'pss' ? r.pssBytes : r.requestedBytes;
      return v !== null && v > 0 && (withExited || r.alive) ? [{ r, v }] : [];
    });
    withValue.sort((a, b) => b.v - a.v || a.r.pid - b.r.pid);
    const total = withValue.reduce((n, x) => n + x.v, 0);
    const slices: PieSlice[] = withValue.slice(0, top).map(({ r, v }) => ({ label: r.name, pid: r.pid, bytes: v }));
    const rest = withValue.slice(top);
    if (rest.length > 0) slices.push({ label: 'others', pid: null, bytes: rest.reduce((n, x) => n + x.v, 0) });
    return { slices, othersCount: rest.length, totalRequestedBytes: total };
  }

  test('the same slices, order, others and total for random tables with ties', () => {
    const rng = new SeededRandom(7);
    for (let round = 0; round < 300; round++) {
      const n = rng.int(0, 60);
      const t = new Map<number, TracedProcess>();
      const s: SampledProcess[] = [];
      for (let i = 0; i < n; i++) {
        const pid = rng.int(1, 500);
        // Few distinct values, so that ties (broken by pid) are common; some null, zero or exited.
        const size = rng.int(0, 6) * MiB;
        if (rng.int(0, 3) > 0) s.push(sampled(pid, rng.int(0, 5) === 0 ? null : size));
        t.set(pid, traced(pid, rng.int(0, 6) * MiB, rng.int(0, 4) > 0));
      }
      const rows = buildProcessRows(s, t, null);
      for (const figure of ['pss', 'requested'] as const)
        for (const exited of [false, true])
          for (const top of [0, 1, 3, 10])
            assert.deepEqual(processPie(rows, figure, exited, top), sortedPie(rows, figure, exited, top));
    }
  });
});

describe('the processes API', async () => {
  const h = await makeHarness('127.0.0.1', null);
  after(() => h.server.close());
  const get = async <T>(url: string): Promise<T> =>
    (await h.server.app.inject({ url, headers: { host: '127.0.0.1' } })).json<T>();

  test('the pie by PSS, or by requested memory', async () => {
    const pss = await get<PieBody>('/api/v1/pie?figure=pss');
    assert.equal(pss.figure, 'pss');
    assert.equal(pss.exitedIncluded, false);
    // The fixture's largest PSS is pid 113's: 14 MiB × 0.5.
    assert.equal(pss.slices[0]?.pid, 113);
    assert.equal(pss.slices[0].bytes, 7 * MiB);
    assert.equal((await get<PieBody>('/api/v1/pie')).figure, 'requested');
    assert.equal(
      (await h.server.app.inject({ url: '/api/v1/pie?figure=rss', headers: { host: '127.0.0.1' } })).statusCode,
      400,
    );
  });

  test('the processes body carries the PSS history of its rows', async () => {
    const body = await get<ProcessesBody>('/api/v1/processes');
    assert.ok(body.pssHistory !== null);
    assert.equal(body.pssHistory.series.length, 14);
    // Pid 103's PSS is unreadable: its line has no value.
    assert.deepEqual(body.pssHistory.series.find((s) => s.pid === 103)?.pssBytes, [null]);
  });

  test('the detail reads the mappings now, and the row then shows the same figures', async () => {
    const detail = await get<ProcessDetailBody>('/api/v1/processes/113');
    assert.equal(detail.row.rssBytes, 1 << 20);
    assert.equal(detail.row.pssBytes, 1 << 19);
    const row = (await get<ProcessesBody>('/api/v1/processes')).rows.find((r) => r.pid === 113);
    assert.equal(row?.rssBytes, 1 << 20);
    assert.equal(row.pssBytes, 1 << 19);
  });
});
