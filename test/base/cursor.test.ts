import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cursor, EndOfDataError } from '../../src/base/cursor.js';
import { formatBytes, kibToBytes } from '../../src/base/units.js';

test('cursor reads both endiannesses and 64-bit values beyond 2^53 exactly', () => {
  const buf = new Uint8Array([0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
  const le = new Cursor(buf, true);
  assert.equal(le.u16(), 0x0201);
  assert.equal(le.u64(), 0xfeffffffffffffffn);
  const be = new Cursor(buf, false);
  assert.equal(be.u16(), 0x0102);
  assert.equal(be.u64(), 0xfffffffffffffffen);
});

test('cursor fails loudly past the end instead of returning zeros', () => {
  const c = new Cursor(new Uint8Array(3), true);
  c.u16();
  assert.throws(() => c.u16(), EndOfDataError);
  assert.equal(c.offset, 2, 'a failed read does not move the cursor');
});

test('units: kB is KiB, binary formatting', () => {
  assert.equal(kibToBytes(4), 4096);
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(null), 'n/a');
  assert.equal(formatBytes(3 * 1024 ** 3), '3.00 GiB');
});
