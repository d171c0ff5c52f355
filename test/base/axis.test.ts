// Axes that choose their unit from their range (src/base/axis.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { axisText, byteAxis, niceStep, secondsAxis, secondsText } from '../../src/base/axis.js';

const MiB = 2 ** 20;

test('a 13 ms trace gets a millisecond axis, not "0.00 s, 0.00 s, 0.01 s"', () => {
  const a = secondsAxis(0.012893);
  assert.equal(a.unit, 'ms');
  assert.deepEqual(
    a.ticks.map((t) => axisText(t, a)),
    ['0 ms', '5 ms', '10 ms', '15 ms'],
  );
});

test('time axes: µs, s, min and h by range, round steps, end at or above the data', () => {
  assert.equal(secondsAxis(0.0004).unit, 'µs');
  const s = secondsAxis(40);
  assert.deepEqual(
    s.ticks.map((t) => axisText(t, s)),
    ['0 s', '10 s', '20 s', '30 s', '40 s'],
  );
  assert.equal(secondsAxis(600).unit, 'min');
  assert.equal(secondsAxis(86_400).unit, 'h');
  for (const max of [0.0031, 0.77, 3.3, 59, 119, 1234]) assert.ok(secondsAxis(max).max >= max, String(max));
});

test('a byte axis keeps one unit and its labels whole: 11.5 MiB reads in MiB with its decimals', () => {
  const a = byteAxis(11.5 * MiB);
  assert.equal(a.unit, 'MiB');
  assert.deepEqual(
    a.ticks.map((t) => axisText(t, a)),
    ['0 B', '5 MiB', '10 MiB', '15 MiB'],
  );
  const small = byteAxis(1.2 * MiB, 4);
  assert.deepEqual(
    small.ticks.map((t) => axisText(t, small)),
    ['0 B', '0.5 MiB', '1.0 MiB', '1.5 MiB'],
  );
  assert.equal(byteAxis(100).unit, 'B');
  assert.equal(byteAxis(0).max, 1);
});

test('a step of 2.5: the 0 tick reads "0 B", the others one decimal', () => {
  const a = byteAxis(9.3 * 2 ** 30, 4);
  assert.deepEqual(
    a.ticks.map((t) => axisText(t, a)),
    ['0 B', '2.5 GiB', '5.0 GiB', '7.5 GiB', '10.0 GiB'],
  );
});

test('niceStep gives 1, 2, 2.5 or 5 times a power of ten', () => {
  assert.equal(niceStep(10, 5), 2);
  assert.equal(niceStep(10, 4), 2.5);
  assert.equal(niceStep(0.013, 5), 0.005);
  assert.equal(niceStep(0, 5), 1);
});

test('secondsText picks the unit of the value', () => {
  assert.equal(secondsText(0.0129), '12.9 ms');
  assert.equal(secondsText(2.5), '2.50 s');
  assert.equal(secondsText(0), '0 s');
});
