// The per-process summary at the end of `memlens trace`: its definitions, and a warning exactly
// when the kernel dropped events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summaryText } from '../../src/render/trace-text.js';
import { palette } from '../../src/render/text.js';
import type { AccountRow } from '../../src/analyses/trace/process-accounts.js';

const GIB = 2n ** 30n;
const row: AccountRow = {
  pid: 42,
  name: 'worker',
  calls: 5,
  failedCalls: 1,
  reservedBytes: 64n * GIB,
  requestedBytes: 3n * GIB,
  requestedPercent: 12.5,
  mappedNowBytes: 2n * GIB,
  mappedNowPercent: 8.33,
  modelComplete: false,
  exited: false,
};

test('summary: rows, definitions, and the drop warning only when events were dropped', () => {
  const plain = palette(false);
  const clean = summaryText([row], 24n * GIB, { lostEvents: 0, unpaired: 0, malformed: 0 }, 25, plain);
  assert.match(clean, /^\s*42\s+worker\s+5\s+1\s+3\.00 GiB\s+12\.50%\s+64\.0 GiB\s+≥2\.00 GiB$/m);
  assert.match(clean, /RESERVED = mapped with PROT_NONE/);
  assert.match(clean, /MemTotal \+ SwapTotal = 24\.0 GiB/);
  assert.match(clean, /lost events: 0 {3}unpaired calls: 0 {3}malformed records: 0/);
  assert.doesNotMatch(clean, /dropped/);
  const lossy = summaryText([row], 24n * GIB, { lostEvents: 7, unpaired: 2, malformed: 0 }, 25, plain);
  assert.match(lossy, /lost events: 7 {3}unpaired calls: 2/);
  assert.match(lossy, /^The kernel dropped events: the figures above miss the calls they held\.$/m);
});
