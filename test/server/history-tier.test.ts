// Which history tier a Timeline window reads (HistoryRecorder.chooseTier): the points asked for
// pick the finest tier that fits, and a window never reads more than a few thousand buckets of one
// series, so that a 7-day window reads the hour tier rather than 10,080 minute rows per series.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HistoryRecorder, MAX_BUCKETS_PER_SERIES } from '../../src/server/history-recorder.js';
import { DEFAULT_HISTORY_RETENTION } from '../../src/store/history.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = Date.UTC(2026, 11, 6, 12);
const tier = (spanMs: number, points = 800): number =>
  HistoryRecorder.chooseTier(now - spanMs, now, points, DEFAULT_HISTORY_RETENTION, now);

test('short windows read every sample, a day the minute tier', () => {
  assert.equal(tier(HOUR), 0);
  assert.equal(tier(DAY), 1);
  assert.equal(tier(2 * DAY), 1, '2,880 minute buckets is within the bound');
});

test('multi-day windows read the hour tier: at most a few thousand buckets per series', () => {
  assert.equal(tier(7 * DAY), 2);
  assert.equal(tier(3 * DAY), 2, `${(3 * DAY) / 60_000} minute buckets is over ${MAX_BUCKETS_PER_SERIES}`);
  for (const days of [1, 2, 3, 5, 7, 30, 90]) {
    const t = tier(days * DAY);
    const bucketMs = t === 1 ? 60_000 : t === 2 ? HOUR : 0;
    if (bucketMs > 0) assert.ok((days * DAY) / bucketMs <= MAX_BUCKETS_PER_SERIES, `${days} days on tier ${t}`);
  }
});

test('a window older than the minute tier keeps, reads the hour tier whatever the points', () => {
  assert.equal(HistoryRecorder.chooseTier(now - 40 * DAY, now - 39 * DAY, 10_000, DEFAULT_HISTORY_RETENTION, now), 2);
});
