// The trace sink on a temporary SQLite file (fast tier): its own tests, then those it shares with
// MariaDB (trace-sink-cases.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { openStore, openStoreSink } from '../../src/store/index.js';
import { waitingFor } from '../helpers/waiting.js';
import { sqliteBackend } from './backends.js';
import { randomEvents } from './events-fixture.js';
import { collector, reusedPidTests } from './trace-sink-cases.js';

test('the trace sink stores events and the run’s lost counts', async () => {
  const backend = sqliteBackend();
  try {
    const err = collector();
    const sink = await openStoreSink(backend.url, { host: 'sink', stderr: err.stream });
    assert.match(sink.description, /^stored in sqlite:/);
    const events = randomEvents(new SeededRandom(12), 500, 1n, ['sink']);
    sink.write(events);
    await sink.close({ lostEvents: 4, unpaired: 0, malformed: 1 });
    assert.equal(err.said(), '');
    const store = await openStore(backend.url);
    try {
      assert.equal(await store.countEvents({ host: 'sink' }), events.length);
      assert.deepEqual((await store.hosts())[0]?.lost, { lostEvents: 4, unpaired: 0, malformed: 1 });
    } finally {
      await store.close();
    }
  } finally {
    await backend.drop();
  }
});

reusedPidTests('sqlite');

test('retention runs while tracing: --max-rows keeps the newest events', async () => {
  const backend = sqliteBackend();
  try {
    const old = randomEvents(new SeededRandom(3), 300, 1n, ['r']);
    const before = await openStore(backend.url);
    await before.appendEvents(old);
    await before.close();
    const err = collector();
    // The first pass runs when the sink opens; the interval then repeats it.
    const sink = await openStoreSink(backend.url, {
      host: 'r',
      retention: { maxRows: 100 },
      retentionEveryMs: 50,
      stderr: err.stream,
    });
    const fresh = randomEvents(new SeededRandom(4), 50, 1_000_000_000n, ['r']);
    sink.write(fresh);
    const store = await openStore(backend.url);
    try {
      // Wait for the first pass to have deleted the 200 oldest rows, then for the fresh events.
      await waitingFor('the first retention pass to leave at most 150 events of host r', async (signal) => {
        while (!signal.aborted && (await store.countEvents({ host: 'r' })) > 150)
          await new Promise((r) => setTimeout(r, 20));
      });
      await sink.close({ lostEvents: 0, unpaired: 0, malformed: 0 });
      assert.match(err.said(), /retention deleted 200 stored events/);
      const page = await store.queryEvents({ host: 'r', limit: 10_000 });
      const ktimes = page.map((e) => e.ktimeNs);
      // All 50 fresh events are kept, and what is left of the old ones is their newest part.
      for (const e of fresh) assert.ok(ktimes.includes(e.ktimeNs));
      assert.ok(page.length <= 150);
    } finally {
      await store.close();
    }
  } finally {
    await backend.drop();
  }
});
