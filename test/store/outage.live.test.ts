// The database goes away during a run and comes back: killed (kill -9 of a MariaDB server this test
// starts itself), frozen (SIGSTOP: no answer, no error), or answering a commit the client never hears
// of. Every event must be stored exactly once, in order, with totals to match.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SeededRandom } from '../../src/base/random.js';
import { BufferedWriter, WorkerWriter, openStore, type EventStore } from '../../src/store/index.js';
import type { MemEvent } from '../../src/wire/events.js';
import { randomEvents } from './events-fixture.js';
import { PrivateMariadb } from './private-mariadb.js';
import { waitingFor } from '../helpers/waiting.js';

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
  const writer = new BufferedWriter(store, {
    spillDir,
    batchEvents: 200,
    flushIntervalMs: 20,
    maxMemoryEvents: 2000,
    retryMinMs: 50,
    retryMaxMs: 400,
    onError: (e) => errors.push(e),
  });
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
  const first = new BufferedWriter(store, {
    spillDir,
    batchEvents: 250,
    flushIntervalMs: 20,
    retryMinMs: 50,
    retryMaxMs: 200,
    onError: () => undefined,
  });
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
  const second = new BufferedWriter(store2, {
    spillDir,
    batchEvents: 250,
    flushIntervalMs: 20,
    retryMinMs: 50,
    retryMaxMs: 200,
  });
  await second.flush();
  assert.ok((await second.close()).complete);
  assert.deepEqual(readdirSync(spillDir), []);
  await assertStoredOnce(store2, events);
  await store2.close();
});

test('a database that stops answering without failing: the tracer is not held, what waits is spilled, all is written once it answers', async () => {
  const url = server.url('memlens_outage_frozen');
  const writer = await WorkerWriter.open(
    url,
    { spillDir, batchEvents: 200, flushIntervalMs: 20, retryMinMs: 50, retryMaxMs: 400 },
    null,
    { slowDatabaseEvents: 1000, stalledCommitMs: 300 },
  );
  const events = randomEvents(new SeededRandom(10), 9000, 1_000_000n, ['frozen']);
  writer.write(events.slice(0, 3000));
  await writer.flush();
  // Frozen: the commit in flight gets no answer and no error. A slow database would hold the
  // acknowledgements (the tracer pauses, the kernel drops); a frozen one must not.
  server.freeze();
  try {
    // 2,000 events: above the slow bound, below the memory bound (3 × 1,000) that spills anyway.
    for (let i = 3000; i < 5000; i += 500) writer.write(events.slice(i, i + 500));
    await waitingFor('the worker to acknowledge every event while the database is frozen', async () => {
      while (writer.unacknowledgedEvents() > 0) await sleep(20);
    });
    const frozen = await writer.stats();
    assert.ok(frozen.commitWaitMs >= 300, `a commit is waiting (${frozen.commitWaitMs} ms)`);
    assert.ok(frozen.spilledBatches > 0, 'what waited went to the spill file');
    assert.ok(frozen.memoryEvents < 1000, `memory bounded (${frozen.memoryEvents} events in memory)`);
    // Spilling goes on while the commit waits: nothing more is held in memory.
    for (let i = 5000; i < 9000; i += 500) writer.write(events.slice(i, i + 500));
    await waitingFor('the worker to acknowledge the events written after the spill began', async () => {
      while (writer.unacknowledgedEvents() > 0) await sleep(20);
    });
    assert.equal((await writer.stats()).memoryEvents, 0);
  } finally {
    server.thaw();
  }
  await writer.flush();
  const closed = await writer.close();
  assert.ok(closed.complete);
  assert.deepEqual(readdirSync(spillDir), [], 'spill files removed once written');
  const store = await openStore(url);
  await assertStoredOnce(store, events);
  await store.close();
});

/**
 * A TCP relay to the server that, once armed, lets a COMMIT through, swallows the server's answer
 * and cuts the connection: the transaction is committed but the client cannot know it.
 */
function lossyRelay(
  targetPort: number,
): Promise<{ port: number; arm: () => void; cut: () => number; close: () => void }> {
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
    const writer = new BufferedWriter(store, {
      spillDir,
      batchEvents: 500,
      flushIntervalMs: 10,
      retryMinMs: 50,
      onError: () => undefined,
    });
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
