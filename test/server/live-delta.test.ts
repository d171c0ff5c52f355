// The processes table sent as changes (ProcessesDelta), over a real socket: a client that asks
// gets the table whole first, then only the rows that moved and the pids that went; applied, the
// changes give the table the HTTP API serves; a client that joins late gets the whole table; one
// that does not ask gets the whole table every time, as before. Also what it rests on: the rows
// builder keeps the objects of unchanged rows.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type WebSocket from 'ws';
import { buildProcessRows, ProcessRowsBuilder } from '../../src/server/aggregate.js';
import type { TracedProcess } from '../../src/server/inputs.js';
import { LiveState } from '../../src/server/live-state.js';
import type { ProcessesBody, SubscribeMessage, UpdateMessage } from '../../src/wire/messages.js';
import { PROCESSES_DELTA_VERSION } from '../../src/wire/messages.js';
import { applyProcessesDelta, canonicalTable } from '../../src/wire/processes-delta.js';
import { sampleFixture, tracedFixture } from './fixtures.js';
import { makeHarness } from './harness.js';
import { attempt, collect } from './ws-client.js';

const MiB = 1024 * 1024;

describe('the processes table as changes over the WebSocket', async () => {
  const h = await makeHarness('127.0.0.1', null);
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  after(() => h.server.close());
  const port = (h.server.app.server.address() as AddressInfo).port;
  const sockets: WebSocket[] = [];
  after(() => sockets.forEach((s) => s.close()));

  async function open(sub: Omit<SubscribeMessage, 'type' | 'v'>): Promise<WebSocket> {
    const r = await attempt(`ws://127.0.0.1:${port}/api/v1/live`, {});
    assert.ok('socket' in r);
    sockets.push(r.socket);
    await collect(r.socket, (all) => all.some((m) => m.type === 'hello'));
    r.socket.send(JSON.stringify({ type: 'subscribe', v: 1, ...sub }));
    return r.socket;
  }

  /** The next update that carries the processes table, whole or as a change. */
  async function nextTable(ws: WebSocket): Promise<UpdateMessage> {
    const has = (m: { type: string }): m is UpdateMessage =>
      m.type === 'update' &&
      ((m as UpdateMessage).processes !== undefined || (m as UpdateMessage).processesDelta !== undefined);
    const all = await collect(ws, (msgs) => msgs.some(has));
    const m = all.find(has);
    assert.ok(m !== undefined);
    return m;
  }

  const httpTable = async (): Promise<ProcessesBody> =>
    (await (await fetch(`http://127.0.0.1:${port}/api/v1/processes`)).json()) as ProcessesBody;

  const traced = (edit: (rows: TracedProcess[]) => void): TracedProcess[] => {
    const rows = tracedFixture();
    edit(rows);
    return rows;
  };
  const started: TracedProcess = {
    pid: 400,
    name: 'newcomer',
    requestedBytes: 3 * MiB,
    reservedBytes: 0,
    mappedNowBytes: 3 * MiB,
    calls: 2,
    alive: true,
  };

  test('whole first, then the moved rows and the gone pids; applied, they are the table', async () => {
    const ws = await open({ processesDelta: PROCESSES_DELTA_VERSION });
    const first = await nextTable(ws);
    assert.equal(first.processesDelta, undefined);
    let table = first.processes;
    assert.ok(table !== undefined);
    assert.equal(typeof table.table, 'number');
    assert.equal(table.rows.length, 14);
    assert.deepEqual(canonicalTable(table), canonicalTable(await httpTable()));

    // The tracer: pid 105 made a call, pid 400 started (traced, not sampled yet).
    h.state.applyTrace(
      traced((rows) => {
        const r = rows[5];
        if (r !== undefined) r.calls += 1;
        rows.push(started);
      }),
      Date.now(),
    );
    const second = await nextTable(ws);
    assert.equal(second.processes, undefined, 'a change, not the whole table');
    const d = second.processesDelta;
    assert.ok(d !== undefined);
    assert.equal(d.baseTable, table.table);
    assert.deepEqual(
      d.rows.map((r) => r.pid).sort((a, b) => a - b),
      [105, 400],
    );
    assert.deepEqual(d.removed, []);
    assert.equal('pssHistory' in d, false, 'no sample came: the PSS history is not sent again');
    table = applyProcessesDelta(table, d);
    assert.deepEqual(canonicalTable(table), canonicalTable(await httpTable()));

    // Pid 400 is gone from the tracer's table, pid 105 is back as it was, and a sample came.
    h.state.applyTrace(tracedFixture(), Date.now());
    h.state.applySample(sampleFixture(Date.now() + 1));
    const third = await nextTable(ws);
    const d2 = third.processesDelta;
    assert.ok(d2 !== undefined);
    assert.equal(d2.baseTable, table.table);
    assert.deepEqual(d2.removed, [400]);
    assert.equal(d2.rows.length, 14, 'a sample reads every row again');
    assert.ok(d2.pssHistory !== undefined && d2.pssHistory !== null, 'a sample moves the PSS history');
    table = applyProcessesDelta(table, d2);
    assert.deepEqual(canonicalTable(table), canonicalTable(await httpTable()));

    // A page that joins now gets the whole table: the one the first client holds.
    const late = await open({ processesDelta: PROCESSES_DELTA_VERSION });
    const lateFirst = await nextTable(late);
    assert.ok(lateFirst.processes !== undefined);
    assert.deepEqual(canonicalTable(lateFirst.processes), canonicalTable(table));
  });

  test('subscribing again brings the whole table again', async () => {
    const ws = await open({ processesDelta: PROCESSES_DELTA_VERSION });
    assert.ok((await nextTable(ws)).processes !== undefined);
    h.state.applyTrace(
      traced((rows) => rows.push(started)),
      Date.now(),
    );
    assert.ok((await nextTable(ws)).processesDelta !== undefined);
    ws.send(JSON.stringify({ type: 'subscribe', v: 1, processesDelta: PROCESSES_DELTA_VERSION }));
    const again = await nextTable(ws);
    assert.ok(again.processes !== undefined);
    assert.deepEqual(canonicalTable(again.processes), canonicalTable(await httpTable()));
  });

  test('a client that does not ask for changes gets the whole table every time', async () => {
    const ws = await open({});
    const first = await nextTable(ws);
    assert.ok(first.processes !== undefined);
    h.state.applyTrace(
      traced((rows) => rows.push({ ...started, calls: 7 })),
      Date.now(),
    );
    const second = await nextTable(ws);
    assert.equal(second.processesDelta, undefined);
    assert.ok(second.processes !== undefined);
    assert.deepEqual(canonicalTable(second.processes), canonicalTable(await httpTable()));
  });

  test('the pie comes with the first table, then only when its slices moved', async () => {
    h.state.applyTrace(tracedFixture(), Date.now());
    const ws = await open({ processesDelta: PROCESSES_DELTA_VERSION });
    const first = await nextTable(ws);
    assert.ok(first.pie !== undefined);
    // A call counted: the table changes, the pie of requested memory does not.
    h.state.applyTrace(
      traced((rows) => {
        const r = rows[5];
        if (r !== undefined) r.calls += 1;
      }),
      Date.now(),
    );
    const second = await nextTable(ws);
    assert.ok(second.processesDelta !== undefined);
    assert.equal(second.pie, undefined, 'the same slices are not sent again');
    // The largest requester requests more: its slice moves, the pie is sent.
    h.state.applyTrace(
      traced((rows) => {
        const r = rows[13];
        if (r !== undefined) r.requestedBytes += MiB;
      }),
      Date.now(),
    );
    const third = await nextTable(ws);
    assert.ok(third.pie !== undefined);
    assert.equal(third.pie.slices[0]?.bytes, 401 * MiB);
    // Subscribing again brings it again.
    ws.send(JSON.stringify({ type: 'subscribe', v: 1, processesDelta: PROCESSES_DELTA_VERSION }));
    assert.ok((await nextTable(ws)).pie !== undefined);
  });

  test('a change version the server does not know is refused', async () => {
    const r = await attempt(`ws://127.0.0.1:${port}/api/v1/live`, {});
    assert.ok('socket' in r);
    sockets.push(r.socket);
    r.socket.send(JSON.stringify({ type: 'subscribe', v: 1, processesDelta: 2 }));
    const msgs = await collect(r.socket, (all) => all.some((m) => m.type === 'error'));
    assert.equal(msgs.find((m) => m.type === 'error')?.type, 'error');
  });
});

describe('LiveState.applyTrace', () => {
  test('a table of the tracer whose figures did not move is no new table; one that moved is', () => {
    const state = new LiveState({ host: 'h' });
    state.applyTrace(tracedFixture(), 1000);
    const v = state.version('processes');
    const rows = state.processRows();
    // The same figures in new objects, as the tracer's feed publishes them.
    state.applyTrace(tracedFixture(), 1250);
    assert.equal(state.version('processes'), v, 'nothing moved: no new table');
    assert.equal(state.processRows(), rows);
    assert.equal(state.tracedAt, 1000, 'the table, its time included, is the one before');
    // One process made a call: a new table, in which only its row is a new object.
    const moved = tracedFixture();
    const r = moved[3];
    assert.ok(r !== undefined);
    r.calls += 1;
    state.applyTrace(moved, 1500);
    assert.ok(state.version('processes') > v);
    const after = state.processRows();
    assert.deepEqual(
      after.filter((x, i) => x !== rows[i]).map((x) => x.pid),
      [103],
    );
    // One process left the tracer's table: a new table without it.
    state.applyTrace(moved.slice(1), 1750);
    assert.deepEqual(
      state.processRows().map((x) => x.pid),
      after.slice(1).map((x) => x.pid),
    );
  });
});

describe('ProcessRowsBuilder', () => {
  const now = Date.now();
  const sample = sampleFixture(now);
  const tracedMap = (rows: TracedProcess[]) => new Map(rows.map((r) => [r.pid, r]));

  test('builds what buildProcessRows builds, and keeps the objects of rows whose inputs are the same', () => {
    const b = new ProcessRowsBuilder();
    const t1 = tracedMap([
      ...tracedFixture(),
      { ...(tracedFixture()[0] as TracedProcess), pid: 400, name: 'only-traced' },
    ]);
    const first = b.build(sample.processes, t1, 1000 * MiB);
    assert.deepEqual(first, buildProcessRows(sample.processes, t1, 1000 * MiB));
    // One traced process moved: only its row is a new object.
    const t2 = new Map(t1);
    const moved = { ...(t1.get(104) as TracedProcess), calls: 99 };
    t2.set(104, moved);
    const second = b.build(sample.processes, t2, 1000 * MiB);
    assert.deepEqual(second, buildProcessRows(sample.processes, t2, 1000 * MiB));
    const renewed = second.filter((r, i) => r !== first[i]).map((r) => r.pid);
    assert.deepEqual(renewed, [104]);
    // Another total, or a process gone missing from the sample: those rows are built again.
    const third = b.build(sample.processes, t2, 2000 * MiB, new Map(), new Set([400]));
    assert.deepEqual(third, buildProcessRows(sample.processes, t2, 2000 * MiB, new Map(), new Set([400])));
    assert.ok(third.every((r, i) => r !== second[i]));
    assert.equal(third.find((r) => r.pid === 400)?.alive, false);
  });
});
