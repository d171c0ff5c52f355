// Packs (the stored bodies of event_packs) and their grouping: every call comes back with its id,
// and a block's packs are one per process, their columns agreeing with their calls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { decodePack, encodePack, packIds } from '../../src/store/event-pack-codec.js';
import { callBit, packBlock } from '../../src/store/packs.js';
import { event, randomEvents } from './events-fixture.js';

test('a pack gives back its calls with their ids, times in whole milliseconds', () => {
  const events = [event({ timeMs: 1_763_900_000_123.75 }), event({ call: 'munmap', ktimeNs: 5n, error: 'EINVAL' })];
  // The body is read from inside a larger buffer, as a database driver may hand it over.
  const body = encodePack(events, [0, 7]);
  const inside = new Uint8Array(body.length + 9);
  inside.set(body, 5);
  const back = decodePack(inside.subarray(5, 5 + body.length), 100);
  assert.deepEqual(
    back.map((e) => [e.id, e.timeMs, e.call, e.error]),
    [
      [100, 1_763_900_000_123, 'mmap', null],
      [107, 1_763_900_000_000, 'munmap', 'EINVAL'],
    ],
  );
  assert.deepEqual(packIds(body, 100), [100, 107]);
  assert.throws(() => decodePack(body.subarray(0, 10), 1), /unknown layout|truncated/);
});

test('a block is packed per process; ids follow the batch order; overlong names are cut', () => {
  const events = randomEvents(new SeededRandom(3), 2000, 1_000n, ['h']);
  events.push(event({ host: 'h', pid: 99, name: 'n'.repeat(300), ktimeNs: 1n << 40n }));
  const rows = packBlock(events, (i) => 1000 + i, 1000);
  assert.equal(
    rows.reduce((n, r) => n + r.event_count, 0),
    events.length,
  );
  const byId = new Map<number, { pid: number; name: string }>();
  for (const r of rows) {
    const calls = decodePack(r.body, r.first_id);
    assert.equal(calls.length, r.event_count);
    assert.equal(calls[0]?.id, r.first_id);
    assert.equal(calls.at(-1)?.id, r.last_id);
    assert.equal(r.base_id, 1000);
    for (const c of calls) {
      assert.equal(c.pid, r.pid);
      assert.equal(c.name, r.name);
      assert.ok((r.calls & callBit(c.call)) !== 0);
      assert.ok(c.timeMs >= r.min_time_ms && c.timeMs <= r.max_time_ms);
      byId.set(c.id, { pid: c.pid, name: c.name });
    }
  }
  events.forEach((e, i) => {
    assert.deepEqual(byId.get(1000 + i), { pid: e.pid, name: e.name.slice(0, 255) });
  });
  for (let k = 1; k < rows.length; k++) assert.ok((rows[k - 1]?.last_id ?? 0) < (rows[k]?.last_id ?? 0));
});
