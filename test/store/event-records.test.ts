// The store's worker reads batches in place (EventRecords): joined at any boundary they give back
// the same calls; damaged bytes fail at reading, never later; packs and per-process totals made
// from the bytes agree with the calls as objects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/random.js';
import { CorruptEventBatch, EventRecords, encodeEventBatch } from '../../src/store/event-batch-codec.js';
import { decodePack } from '../../src/store/event-pack-codec.js';
import { packBatch } from '../../src/store/packs.js';
import { NAME_WIDTH, clip } from '../../src/store/rows.js';
import { foldRecords, keyOf, type ProcessStart } from '../../src/store/totals.js';
import type { MemEvent } from '../../src/wire/events.js';
import { event, randomEvents } from './events-fixture.js';

test('the accessors read what was encoded', () => {
  const events = randomEvents(new SeededRandom(11), 3000, 77n, ['a', 'b', 'c']);
  const r = EventRecords.of(events);
  assert.equal(r.length, events.length);
  events.forEach((e, i) => {
    assert.equal(r.timeMs(i), e.timeMs);
    assert.equal(r.ktimeNs(i), e.ktimeNs);
    assert.equal(r.pid(i), e.pid);
    assert.equal(r.strings[r.host(i)], e.host);
    assert.equal(r.strings[r.name(i)], e.name);
    assert.equal(r.failed(i), e.error !== null);
    assert.equal(r.lengthBytes(i), e.lengthBytes);
    const small = r.smallLength(i);
    assert.ok(small === -1 ? e.lengthBytes >= 1n << 48n : BigInt(small) === e.lengthBytes);
  });
  assert.deepEqual(r.toEvents(), events);
});

test('batches joined at hostile boundaries give back the same calls, one string table', () => {
  const rng = new SeededRandom(12);
  for (let round = 0; round < 20; round++) {
    // Each part with its own string table, its strings in another order than the others'.
    const parts: MemEvent[][] = [];
    for (let k = rng.int(1, 6); k > 0; k--)
      parts.push(randomEvents(rng, rng.int(0, 300), 1n, k % 2 === 0 ? ['x', 'y'] : ['y', 'z', '😀 host']));
    const records = parts.map((p) => EventRecords.of(p));
    const take: { records: EventRecords; from: number; to: number }[] = [];
    const want: MemEvent[] = [];
    records.forEach((r, k) => {
      const from = rng.int(0, r.length);
      const to = rng.int(from, r.length);
      take.push({ records: r, from, to });
      want.push(...(parts[k] ?? []).slice(from, to));
    });
    const joined = EventRecords.concat(take);
    assert.deepEqual(joined.toEvents(), want);
    assert.equal(new Set(joined.strings).size, joined.strings.length);
    // The joined bytes are a batch like any other.
    assert.deepEqual(EventRecords.read(joined.bytes.slice()).toEvents(), want);
  }
  const whole = EventRecords.of([event()]);
  assert.equal(EventRecords.concat([{ records: whole, from: 0, to: 1 }]), whole, 'a whole part is not copied');
});

test('damaged batches fail at reading, as CorruptEventBatch, whatever is damaged', () => {
  const rng = new SeededRandom(13);
  const bytes = new Uint8Array(encodeEventBatch(randomEvents(rng, 40, 1n)));
  let refused = 0;
  for (let round = 0; round < 3000; round++) {
    const b = bytes.slice(0, rng.next() < 0.3 ? rng.int(0, bytes.length) : bytes.length);
    for (let k = rng.int(0, 4); k > 0 && b.length > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
    let r: EventRecords;
    try {
      r = EventRecords.read(b);
    } catch (e) {
      assert.ok(e instanceof CorruptEventBatch, String(e));
      refused++;
      continue;
    }
    // What is accepted is whole: every call reads, every string index is in the table.
    for (const e of r.toEvents()) {
      assert.equal(typeof e.host, 'string');
      assert.ok(r.strings.includes(e.name) && r.strings.includes(e.thread));
    }
  }
  assert.ok(refused > 1000, `${refused} damaged batches refused`);
  assert.throws(() => EventRecords.read(new Uint8Array(3)), CorruptEventBatch);
  // A count that claims more records than the bytes hold is refused before anything is allocated.
  const huge = bytes.slice();
  new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
  assert.throws(() => EventRecords.read(huge), CorruptEventBatch);
});

test('packs cut from the bytes hold each call with its id; a slice of a batch packs alone', () => {
  const events = randomEvents(new SeededRandom(14), 3000, 1_000n, ['h', 'g']);
  events.push(
    event({ host: 'h', pid: 99, name: 'n'.repeat(300), thread: `${'t'.repeat(254)}😀`, error: 'E'.repeat(40) }),
  );
  const r = EventRecords.of(events);
  for (const [from, to] of [
    [0, events.length],
    [17, 1999],
  ] as const) {
    const rows = packBatch(r, from, to, 5000 + from, 5000 + from);
    assert.deepEqual(
      packBatch(
        r,
        from,
        to,
        events.map((_, i) => 5000 + i),
        5000 + from,
      ),
      rows,
      'ids given one by one or as the first of a run',
    );
    const back = new Map<number, MemEvent>();
    for (const row of rows) {
      const calls = decodePack(row.body, row.first_id);
      assert.equal(calls.length, row.event_count);
      for (const c of calls) {
        assert.equal(c.host, row.host);
        assert.equal(c.pid, row.pid);
        assert.equal(c.name, row.name);
        const { id, ...e } = c;
        back.set(id, e);
      }
    }
    assert.equal(back.size, to - from);
    for (let i = from; i < to; i++) {
      const e = events[i] as MemEvent;
      assert.deepEqual(back.get(5000 + i), {
        ...e,
        timeMs: Math.trunc(e.timeMs),
        host: clip(e.host, NAME_WIDTH),
        name: clip(e.name, NAME_WIDTH),
        thread: clip(e.thread, NAME_WIDTH),
        error: e.error === null ? null : clip(e.error, 32),
      });
    }
  }
});

test('totals folded from the bytes are the sums over the calls, reused pids split at their starts', () => {
  const events = randomEvents(new SeededRandom(15), 4000, 1_000n, ['h', 'g']);
  // Lengths whose sums pass 2^53, and one past 2^48 (read as a bigint).
  events.push(
    event({ host: 'h', pid: 3, lengthBytes: 1n << 50n }),
    event({ host: 'h', pid: 3, lengthBytes: 1n << 52n }),
  );
  events.push(event({ host: 'h', pid: 3, lengthBytes: (1n << 52n) + 1n, ktimeNs: 1n << 40n }));
  const mid = events[2000] as MemEvent;
  const starts: ProcessStart[] = [{ host: mid.host, pid: mid.pid, startNs: mid.ktimeNs, name: 'new', timeMs: 1 }];
  const known = new Map(['h', 'g'].map((host) => [keyOf(host, 4), 9n]));
  const deltas = foldRecords(EventRecords.of(events), starts, known);
  // The reference: every call's instance is the last start at or before it, else the known one.
  const want = new Map<string, { mmap: bigint; munmap: bigint; calls: number; failed: number }>();
  for (const [i, e] of events.entries()) {
    const started = i >= 2000 && e.host === mid.host && e.pid === mid.pid;
    const start = started ? mid.ktimeNs : e.pid === 4 ? 9n : 0n;
    const k = `${keyOf(e.host, e.pid)}/${start}`;
    const w = want.get(k) ?? { mmap: 0n, munmap: 0n, calls: 0, failed: 0 };
    w.calls++;
    if (e.error !== null) w.failed++;
    else if (e.call === 'mmap') w.mmap += e.lengthBytes;
    else if (e.call === 'munmap') w.munmap += e.lengthBytes;
    want.set(k, w);
  }
  const got = new Map(
    deltas.map((d) => [
      `${keyOf(d.host, d.pid)}/${d.startNs}`,
      {
        mmap: d.mmapBytes,
        munmap: d.munmapBytes,
        calls: d.mmapCalls + d.munmapCalls + d.brkCalls + d.mremapCalls + d.mprotectCalls,
        failed: d.failedCalls,
      },
    ]),
  );
  assert.deepEqual(got, want);
  const opened = deltas.filter((d) => d.opened).map((d) => `${d.host}/${d.pid}/${d.startNs}`);
  assert.ok(opened.includes(`${mid.host}/${mid.pid}/${mid.ktimeNs}`));
  assert.ok(!deltas.some((d) => d.pid === 4 && d.opened));
});
