// How a call's raw fields read in the dashboard's calls table (src/wire/events-text.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MemEventJson } from '../../src/wire/events.js';
import { addressText, flagsText, protText, resultText } from '../../src/wire/events-text.js';

const base: MemEventJson = {
  time: '2026-01-01T00:00:00.000Z',
  ktime: '1',
  host: 'h',
  pid: 1,
  tid: 1,
  name: 'p',
  thread: 'p',
  call: 'mmap',
  addr: '0x0',
  length: 4096,
  prot: 3,
  flags: 0x22,
  fd: -1,
  result: '0x7f0000000000',
  error: null,
  new_length: null,
  new_addr: null,
};

test('result: mmap the address, munmap ok, brk the new break, failures their errno name', () => {
  assert.equal(resultText(base), '0x7f0000000000');
  assert.equal(
    resultText({ ...base, call: 'munmap', addr: '0x7f0000000000', result: '0x0', prot: null, flags: null, fd: null }),
    'ok',
  );
  assert.equal(resultText({ ...base, call: 'munmap', result: '-22', error: 'EINVAL' }), 'EINVAL');
  assert.equal(resultText({ ...base, call: 'mprotect', result: '0x0' }), 'ok');
  assert.equal(resultText({ ...base, call: 'brk', addr: '0x0', length: 0, result: '0x5555556000' }), '0x5555556000');
  assert.equal(
    resultText({ ...base, call: 'brk', addr: '0x5555577000', length: 0, result: '0x5555577000' }),
    '0x5555577000',
  );
  // brk that could not move returns the old break (mm/mmap.c).
  assert.equal(
    resultText({ ...base, call: 'brk', addr: '0x9999999000', length: 0, result: '0x5555577000' }),
    '0x5555577000 (not moved)',
  );
});

test('address: brk 0 is a query, an mmap without a hint is "any"', () => {
  assert.equal(addressText({ ...base, call: 'brk' }), 'query');
  assert.equal(addressText(base), 'any');
  assert.equal(addressText({ ...base, addr: '0x10000' }), '0x10000');
});

test('prot as rwx and flags in words, unknown bits kept in hex', () => {
  assert.equal(protText(3), 'rw-');
  assert.equal(protText(0), '---');
  assert.equal(protText(null), '');
  assert.equal(flagsText('mmap', 0x22), 'private anon');
  assert.equal(flagsText('mmap', 0x01 | 0x10 | 0x4000), 'shared fixed noreserve');
  // MAP_HUGETLB | MAP_HUGE_2MB (21 << 26) | MAP_PRIVATE | MAP_ANONYMOUS
  assert.equal(flagsText('mmap', 0x40000 | (21 << 26) | 0x22), 'private huge 2 MiB anon hugetlb');
  assert.equal(flagsText('mmap', 0x2 | 0x200), 'private 0x200');
  assert.equal(flagsText('mremap', 1), 'maymove');
  assert.equal(flagsText('munmap', null), '');
});
