// The database goes away during a run (kill -9 of a MariaDB server this test starts itself) and
// comes back: every event must be stored exactly once, in order, with totals to match.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SeededRandom } from '../../src/base/random.js';
import { BufferedWriter, openStore, type EventStore } from '../../src/store/index.js';
import type { MemEvent } from '../../src/wire/events.js';
import { randomEvents } from './events-fixture.js';
import { PrivateMariadb } from './private-mariadb.js';

let server: PrivateMariadb;
let spillDir: string;

before(async () => {
  server = await PrivateMariadb.create();
  spillDir = mkdtempSync(join(tmpdir(), 'memlens-spill-'));
});
after(async () => {
  await server.destroy();
  rmSync(spillDir, { recursive: true, force: true });
});

async function assertStoredOnce(store: EventStore, events: readonly MemEvent[]): Promise<void> {
  const stored = await store.queryEvents({ limit: 10_000 });
  assert.equal(stored.length, events.length, 'every event stored, none twice');
  // Newest first by id = the order of writing reversed: order kept across the outage.
  assert.deepEqual(
    stored.map((e) => e.ktimeNs),
    events.map((e) => e.ktimeNs).reverse(),
  );
  const hostCount = (await store.hosts()).reduce((n, h) => n + h.eventCount, 0);
  assert.equal(hostCount, events.length, 'host counters count each event once');
  const mmapCalls = (await store.processTotals()).reduce((n, t) => n + t.mmapCalls, 0);
  assert.equal(mmapCalls, events.filter((e) => e.call === 'mmap').length, 'totals count each event once');
}

test('kill -9 of the database mid-run, restart: every event stored exactly once, in order', async () => {
  const store = await openStore(server.url('memlens_outage'));
  const errors: unknown[] = [];
  const writer = new BufferedWriter(store, { spillDir, batchEvents: 200, flushIntervalMs: 20, maxMemoryEvents: 2000, retryMinMs: 50, retryMaxMs: 400, onError: (e) => errors.push(e) });
  const events = randomEvents(new SeededRandom(7), 9000, 1_000_000n, ['outage-a', 'outage-b']);
  const rounds = 45;
  const per = events.length / rounds;
  for (let r = 0; r < rounds; r++) {
    writer.write(events.slice(r * per, (r + 1) * per));
    await sleep(25);
    if (r === 12) await server.kill();
    if (r === 32) await server.start();
  }
  await writer.flush();
  const stats = writer.stats();
  const closed = await writer.close();
  assert.ok(closed.complete);
  assert.ok(stats.failedAttempts > 0 && errors.length > 0, 'the outage was noticed');
  assert.ok(stats.spilledBatches > 0, 'batches went through the spill file while the database was down');
  assert.equal(stats.databaseUp, true);
  assert.deepEqual(readdirSync(spillDir), [], 'spill files removed once written');
  await assertStoredOnce(store, events);
  await store.close();
});

test('a writer closed while the database is down leaves a spill file that the next writer writes', async () => {
  const url = server.url('memlens_outage_restart');
  const store = await openStore(url);
  const events = randomEvents(new SeededRandom(8), 3000, 1_000_000n, ['leftover']);
  const first = new BufferedWriter(store, { spillDir, batchEvents: 250, flushIntervalMs: 20, retryMinMs: 50, retryMaxMs: 200, onError: () => undefined });
  first.write(events.slice(0, 1000));
  await first.flush();
  await server.kill();
  first.write(events.slice(1000));
  const closed = await first.close(500);
  assert.equal(closed.complete, false);
  assert.equal(closed.spillFiles.length, 1);
  await store.close();

  await server.start();
  const store2 = await openStore(url);
  const second = new BufferedWriter(store2, { spillDir, batchEvents: 250, flushIntervalMs: 20, retryMinMs: 50, retryMaxMs: 200 });
  await second.flush();
  assert.ok((await second.close()).complete);
  assert.deepEqual(readdirSync(spillDir), []);
  await assertStoredOnce(store2, events);
  await store2.close();
});

/**
 * A TCP relay to the server that, once armed, lets a COMMIT through, swallows the server's answer
 * and cuts the connection: the transaction is committed but the client cannot know it.
 */
function lossyRelay(targetPort: number): Promise<{ port: number; arm: () => void; cut: () => number; close: () => void }> {
  let armed = false;
  let cuts = 0;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    let swallowing = false;
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('data', (d: Buffer) => {
      // MySQL COM_QUERY (0x03) "commit", as Kysely sends it at the end of a transaction.
      if (armed && d.toString('latin1').toLowerCase().includes('\u0003commit')) {
        armed = false;
        swallowing = true;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!swallowing) {
        client.write(d);
        return;
      }
      cuts++;
      client.destroy();
      upstream.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr !== null ? addr.port : 0,
        arm: () => (armed = true),
        cut: () => cuts,
        close: () => server.close(),
      });
    });
  });
}

test('a commit whose answer is lost is retried and not written twice (batch ids)', async () => {
  const relay = await lossyRelay(server.port);
  try {
    const store = await openStore(`mysql://root@127.0.0.1:${relay.port}/memlens_lost_answer`);
    const writer = new BufferedWriter(store, { spillDir, batchEvents: 500, flushIntervalMs: 10, retryMinMs: 50, onError: () => undefined });
    const events = randomEvents(new SeededRandom(9), 2000, 1_000_000n, ['lost-answer']);
    writer.write(events.slice(0, 1000));
    await writer.flush();
    relay.arm();
    writer.write(events.slice(1000, 1500));
    await writer.flush();
    writer.write(events.slice(1500));
    await writer.flush();
    const stats = writer.stats();
    await writer.close();
    assert.equal(relay.cut(), 1, 'one commit answer was swallowed');
    assert.equal(stats.duplicateBatches, 1, 'its retry found the batch already committed');
    assert.ok(stats.failedAttempts >= 1);
    await assertStoredOnce(store, events);
    await store.close();
  } finally {
    relay.close();
  }
});
