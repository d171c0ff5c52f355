// The WebSocket side of `memlens serve` over a real socket: the upgrade is refused before it
// happens without the token or from a foreign origin, and a subscribed client gets batched,
// typed updates (never the raw event stream).
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { UpdateMessage } from '../../src/wire/messages.js';
import { CALLS_PER_UPDATE } from '../../src/server/live-hub.js';
import { eventFixture } from './fixtures.js';
import { makeHarness } from './harness.js';
import { attempt, collect } from './ws-client.js';

describe('WebSocket upgrade with a token', async () => {
  const h = await makeHarness('127.0.0.1', 'correct-horse-battery-staple');
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  after(() => h.server.close());
  const port = (h.server.app.server.address() as AddressInfo).port;
  const base = `ws://127.0.0.1:${port}/api/v1/live`;

  test('without a token the upgrade is refused with 401 and no client is added', async () => {
    const r = await attempt(base, {});
    assert.deepEqual(r, { status: 401 });
    assert.equal(h.server.hub.clientCount, 0);
  });

  test('a wrong token is refused', async () => {
    assert.deepEqual(await attempt(`${base}?token=correct-horse-battery-stapl3`, {}), { status: 401 });
  });

  test('a foreign Origin is refused even with the token (cross-site WebSocket hijacking)', async () => {
    const r = await attempt(`${base}?token=correct-horse-battery-staple`, { Origin: 'http://evil.example' });
    assert.deepEqual(r, { status: 403 });
  });

  test('a foreign Host is refused', async () => {
    const r = await attempt(`${base}?token=correct-horse-battery-staple`, { Host: 'evil.example' });
    assert.deepEqual(r, { status: 403 });
  });

  test('with the token: hello, then batched updates for the subscription', async () => {
    const r = await attempt(`${base}?token=correct-horse-battery-staple`, { Origin: `http://127.0.0.1:${port}` });
    assert.ok('socket' in r);
    const ws = r.socket;
    const hello = await collect(ws, (all) => all.length >= 1);
    assert.equal(hello[0]?.type, 'hello');
    assert.equal(hello[0].v, 1);
    ws.send(JSON.stringify({ type: 'subscribe', v: 1, calls: { pid: 113 } }));
    const first = (await collect(ws, (all) => all.some((m) => m.type === 'update' && m.processes !== undefined))).find(
      (m): m is UpdateMessage => m.type === 'update' && m.processes !== undefined,
    );
    assert.ok(first !== undefined);
    assert.equal(first.processes?.rows.length, 14);
    assert.equal(first.pie?.slices.length, 11);
    assert.ok(first.status !== undefined);
    assert.ok(first.ledger?.root !== null);

    // A burst far larger than one batch: the client gets at most CALLS_PER_UPDATE calls, only of
    // pid 113, and the count of the ones left out.
    const burst = Array.from({ length: 14 * 1000 }, (_, i) => eventFixture(10_000 + i));
    h.state.addEvents(burst);
    const updates = await collect(ws, (all) =>
      all.some((m) => m.type === 'update' && (m.calls !== undefined || m.callsSkipped !== undefined)),
    );
    const withCalls = updates.find(
      (m): m is UpdateMessage => m.type === 'update' && (m.calls !== undefined || m.callsSkipped !== undefined),
    );
    assert.ok(withCalls !== undefined);
    const calls = withCalls.calls ?? [];
    assert.equal(calls.length, CALLS_PER_UPDATE);
    assert.ok(calls.every((c) => c.pid === 113));
    assert.equal(calls.length + (withCalls.callsSkipped ?? 0), 1000);
    // Newest first.
    assert.ok(BigInt(calls[0]?.ktime ?? 0) > BigInt(calls[1]?.ktime ?? 0));
    ws.close();
  });

  test('an invalid client message gets an error message, not a crash', async () => {
    const r = await attempt(`${base}?token=correct-horse-battery-staple`, {});
    assert.ok('socket' in r);
    await collect(r.socket, (all) => all.length >= 1);
    r.socket.send('{"type":"subscribe","v":99}');
    const msgs = await collect(r.socket, (all) => all.some((m) => m.type === 'error'));
    assert.equal(msgs.find((m) => m.type === 'error')?.type, 'error');
    r.socket.close();
  });
});
