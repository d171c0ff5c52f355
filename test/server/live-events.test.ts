// The newest events the live state keeps for the pages that follow calls: none while no page
// follows them (they are only counted), and after a reader's position only what it has not read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveState } from '../../src/server/live-state.js';
import { eventFixture } from './fixtures.js';

describe('LiveState keeps the newest events only for live readers', () => {
  test('without a reader an event is counted, not kept; a reader gets every event after its start', () => {
    const state = new LiveState({ host: 'testhost', recentEvents: 1000 });
    state.addEvents([eventFixture(1), eventFixture(2)]);
    assert.equal(state.newestSeq, 2);
    // Nobody could have read them: one asking afterwards is told it missed both.
    assert.deepEqual(state.eventsAfter(0), { events: [], gap: 2 });
    // A reader from now on.
    const from = state.newestSeq;
    state.retainEventsAfter(from);
    state.addEvents([eventFixture(3), eventFixture(4), eventFixture(5)]);
    const got = state.eventsAfter(from);
    assert.deepEqual(
      got.events.map((e) => e.seq),
      [5, 4, 3],
    );
    assert.equal(got.gap, 0);
    // The reader has read up to 4: what it has read goes, the rest stays.
    state.retainEventsAfter(4);
    assert.deepEqual(
      state.eventsAfter(4).events.map((e) => e.seq),
      [5],
    );
    // The reader left.
    state.retainEventsAfter(null);
    state.addEvents([eventFixture(6)]);
    assert.deepEqual(state.eventsAfter(6), { events: [], gap: 0 });
    assert.deepEqual(state.eventsAfter(4), { events: [], gap: 2 });
    assert.equal(state.eventCountsByCall.get('mmap'), 6);
  });

  test('a reader further behind than the ring holds is told how many it missed', () => {
    const state = new LiveState({ host: 'testhost', recentEvents: 10 });
    state.retainEventsAfter(0);
    state.addEvents(Array.from({ length: 25 }, (_, i) => eventFixture(i)));
    const got = state.eventsAfter(0);
    assert.equal(got.events.length, 10);
    assert.equal(got.gap, 15);
  });
});
