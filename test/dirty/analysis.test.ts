import assert from 'node:assert/strict';
import { test } from 'node:test';
import { address } from '../../src/base/units.js';
import { planIntervals, scannableAreas } from '../../src/analyses/dirty/areas.js';
import { DEFAULT_RULE, isSteady, judge, parseTolerance, relativeChange } from '../../src/analyses/dirty/convergence.js';
import { classify, type IntervalResult } from '../../src/analyses/dirty/snapshot.js';
import { sparkline } from '../../src/render/sparkline.js';
import { largestInAddressOrder, pagesByMapping } from '../../src/analyses/dirty/wire.js';
import type { VmaHeader } from '../../src/parsers/proc/maps.js';

const area = (start: number, end: number, name = '', perms = 'rw-p'): VmaHeader => ({
  start: address(BigInt(start)),
  end: address(BigInt(end)),
  perms,
  offset: 0n,
  dev: '00:00',
  inode: 0,
  name,
});
const plain = (p: ReturnType<typeof planIntervals>) => p.map((i) => [i.area, Number(i.start), Number(i.end), i.isNew]);

test('planIntervals: without a previous round everything is old', () => {
  assert.deepEqual(plain(planIntervals([area(0x1000, 0x5000), area(0x8000, 0x9000)], undefined)), [
    [0, 0x1000, 0x5000, false],
    [1, 0x8000, 0x9000, false],
  ]);
});

test('planIntervals: new areas, areas grown up or down, and areas merged over a gap', () => {
  const previous = [area(0x1000, 0x3000), area(0x5000, 0x6000), area(0x8000, 0x9000), area(0xa000, 0xb000)];
  const current = [
    area(0x1000, 0x4000), // grown upwards (brk)
    area(0x4800, 0x6000), // grown downwards (stack)
    area(0x7000, 0x7800), // new
    area(0x8000, 0xb000), // merged: 0x8000-0x9000, a new gap, 0xa000-0xb000
  ];
  assert.deepEqual(plain(planIntervals(current, previous)), [
    [0, 0x1000, 0x3000, false],
    [0, 0x3000, 0x4000, true],
    [1, 0x4800, 0x5000, true],
    [1, 0x5000, 0x6000, false],
    [2, 0x7000, 0x7800, true],
    [3, 0x8000, 0x9000, false],
    [3, 0x9000, 0xa000, true],
    [3, 0xa000, 0xb000, false],
  ]);
  // Shrunk or split areas stay old; vanished previous areas are simply gone.
  assert.deepEqual(plain(planIntervals([area(0x1000, 0x2000), area(0x2000, 0x3000)], [area(0x0, 0x4000)])), [
    [0, 0x1000, 0x2000, false],
    [1, 0x2000, 0x3000, false],
  ]);
});

test('scannableAreas leaves out PROT_NONE reservations and [vsyscall]', () => {
  const got = scannableAreas([
    area(0x1000, 0x2000),
    area(0x2000, 0x9000, '', '---p'),
    area(0x9000, 0xa000, '/lib/x.so', 'r--p'),
    area(0xffff0000, 0xffff1000, '[vsyscall]', '--xp'),
  ]);
  assert.deepEqual(
    got.map((a) => a.name || a.perms),
    ['rw-p', '/lib/x.so'],
  );
});

function result(ranges: [number, number][], softDirty: number, holes = 0): IntervalResult {
  return {
    ranges: ranges.map(([s, e]) => ({ start: address(BigInt(s)), end: address(BigInt(e)), pages: (e - s) / 0x1000 })),
    tally: { softDirty, softDirtyHoles: holes, present: softDirty, swapped: 0, pages: softDirty + holes },
  };
}

test('classify: writes versus new mapping, ranges never span two areas', () => {
  const areas = [area(0x1000, 0x4000), area(0x4000, 0x6000), area(0x6000, 0x8000, '/data')];
  const plan = [
    { area: 0, start: 0x1000n, end: 0x3000n, isNew: false },
    { area: 0, start: 0x3000n, end: 0x4000n, isNew: true },
    { area: 1, start: 0x4000n, end: 0x6000n, isNew: false },
    { area: 2, start: 0x6000n, end: 0x8000n, isNew: false },
  ];
  const results = [
    result([[0x2000, 0x3000]], 1),
    result([[0x3000, 0x4000]], 1),
    result([[0x4000, 0x6000]], 2),
    result([[0x6000, 0x7000]], 1, 1),
  ];
  const snap = classify(areas, plan, results, { afterClear: true });
  // Area 0: one write, one new page. Area 1: two writes, contiguous with area 0's but a range of its own.
  // Area 2 has a soft-dirty hole: the kernel marked it as a whole, so its page is new mapping.
  assert.deepEqual(
    snap.ranges.map((r) => [Number(r.start), Number(r.end), r.pages, r.mapping]),
    [
      [0x2000, 0x3000, 1, '[anon]'],
      [0x4000, 0x6000, 2, '[anon]'],
    ],
  );
  assert.deepEqual(
    snap.newMappingRanges.map((r) => [Number(r.start), Number(r.end), r.mapping]),
    [
      [0x3000, 0x4000, '[anon]'],
      [0x6000, 0x7000, '/data'],
    ],
  );
  assert.equal(snap.writtenPages, 3);
  assert.equal(snap.newMappingPages, 2);
  assert.equal(snap.areas[2]?.wholeAreaMarked, true);
  // Without a clear (plain `memlens dirty PID`), nothing is new mapping: bits mean "since mapped".
  const once = classify(areas, plan, results, { afterClear: false });
  assert.equal(once.writtenPages, 5);
  assert.equal(once.newMappingPages, 0);
  // Within one area, an old and a new part's ranges join when contiguous.
  assert.deepEqual(
    once.ranges.map((r) => [Number(r.start), Number(r.end)]),
    [
      [0x2000, 0x4000],
      [0x4000, 0x6000],
      [0x6000, 0x7000],
    ],
  );
  // Areas smaps flags with "sd" after a merge are new mapping as a whole.
  const marked = classify(areas, plan, results, { afterClear: true, markedAreas: new Set([0x4000n]) });
  const merged = marked.areas[1];
  assert.ok(merged);
  assert.equal(merged.writtenPages, 0);
  assert.equal(merged.newMappingPages, 2);
});

test('convergence: the stated rule, round by round', () => {
  assert.equal(relativeChange(0, 0), 0);
  assert.equal(relativeChange(100, 110), 10 / 110);
  assert.equal(relativeChange(110, 100), 10 / 110);
  assert.ok(isSteady(1000, 1049, DEFAULT_RULE));
  assert.ok(!isSteady(1000, 1060, DEFAULT_RULE));
  assert.ok(isSteady(3, 11, DEFAULT_RULE), 'within the 8-page noise floor');
  assert.ok(!isSteady(3, 12, DEFAULT_RULE));
  const rule = { ...DEFAULT_RULE, maxRounds: 8 };
  // Three steady rounds after the first: converged at round 4, working set the mean of the plateau.
  assert.deepEqual(judge([300, 302, 299, 301], rule), { state: 'converged', workingSetPages: 301, rounds: 4 });
  assert.deepEqual(judge([300, 302, 299], rule), { state: 'running', steadyRun: 2 });
  // Slow drift: every step within 5 %, but the four counts spread over 11 %: not a plateau.
  assert.deepEqual(judge([1000, 1040, 1080, 1120], rule), { state: 'running', steadyRun: 3 });
  assert.equal(judge([1000, 1040, 1080, 1120, 1160, 1200, 1240, 1280], rule).state, 'gave-up');
  // Slower drift, inside the band of a 10 % tolerance, but rising at every round: still not a plateau.
  assert.deepEqual(judge([1000, 1020, 1040, 1060], { ...rule, tolerance: 0.1 }), { state: 'running', steadyRun: 3 });
  // A plateau wobbles both ways and converges.
  assert.deepEqual(judge([1000, 1030, 1010, 1025], rule), { state: 'converged', workingSetPages: 1016, rounds: 4 });
  // A jump resets the count.
  assert.deepEqual(judge([300, 302, 600, 601, 602], rule), { state: 'running', steadyRun: 2 });
  // Never before minRounds, even with a longer stable run required to be short.
  assert.equal(judge([5, 5], { ...rule, stableRounds: 1, minRounds: 4 }).state, 'running');
  // A growing set never converges and gives up at the cap.
  const growing = [400, 800, 1200, 1600, 2000, 2400, 2800, 3200];
  assert.deepEqual(judge(growing, rule), { state: 'gave-up', rounds: 8 });
  assert.equal(parseTolerance('5%'), 0.05);
  assert.equal(parseTolerance(' 12.5 % '), 0.125);
  assert.equal(parseTolerance('0.1'), 0.1);
  assert.equal(parseTolerance('150%'), undefined);
  assert.equal(parseTolerance('five'), undefined);
});

test('convergence on the newest rounds only (a long-lived watch): the same verdict as on the whole series', () => {
  const rule = { ...DEFAULT_RULE, maxRounds: Number.POSITIVE_INFINITY };
  const series = [120, 121, 120, 122, 121, 400, 410, 405, 404, 406, 403, 120, 500, 90, 260, 262, 261, 263];
  // The dashboard's worker keeps 16 rounds; the rule never looks further back than stableRounds + 1.
  for (const keep of [DEFAULT_RULE.stableRounds + 1, 6, 16]) {
    for (let n = 1; n <= series.length; n++) {
      const whole = judge(series.slice(0, n), rule);
      const tail = judge(series.slice(Math.max(0, n - keep), n), rule, n);
      if (whole.state === 'running' && tail.state === 'running')
        assert.equal(tail.steadyRun, Math.min(whole.steadyRun, keep - 1), `round ${n}, keeping ${keep}`);
      else assert.deepEqual(tail, whole, `round ${n}, keeping ${keep}`);
    }
  }
  // The round count, not the kept window, decides minRounds and maxRounds.
  assert.equal(judge([300, 300, 300, 300], { ...DEFAULT_RULE, maxRounds: 40 }, 40).state, 'converged');
  assert.deepEqual(judge([300, 600, 300, 600], { ...DEFAULT_RULE, maxRounds: 40 }, 40), {
    state: 'gave-up',
    rounds: 40,
  });
  assert.deepEqual(judge([300, 300, 300, 300], DEFAULT_RULE, 4), {
    state: 'converged',
    workingSetPages: 300,
    rounds: 4,
  });
});

test('a bounded view of a round: the ranges holding the most pages, in address order', () => {
  const ranges = Array.from({ length: 1000 }, (_, i) => ({ start: BigInt(0x1000 * (1000 - i)), pages: i % 7 }));
  const kept = largestInAddressOrder(ranges, 500);
  assert.equal(kept.length, 500);
  // Sorted by address, and nothing left out holds more pages than anything kept.
  for (let i = 1; i < kept.length; i++) assert.ok((kept[i - 1]?.start ?? 0n) < (kept[i]?.start ?? 0n));
  const smallestKept = Math.min(...kept.map((r) => r.pages));
  const left = ranges.filter((r) => !kept.includes(r));
  assert.ok(left.every((r) => r.pages <= smallestKept));
  // Ties at the edge go to the lower addresses.
  const edge = left.filter((r) => r.pages === smallestKept);
  assert.ok(edge.every((r) => kept.filter((k) => k.pages === smallestKept).every((k) => k.start < r.start)));
  // Fewer than the limit: all of them, in address order.
  assert.deepEqual(
    largestInAddressOrder(ranges.slice(0, 3), 500).map((r) => r.start),
    [0x3e6000n, 0x3e7000n, 0x3e8000n],
  );
});

test('a round by mapping: areas of one name summed, new mapping apart and never added', () => {
  const dirtyArea = (mapping: string, writtenPages: number, newMappingPages: number) => ({
    area: area(0, 0x1000),
    mapping,
    writtenPages,
    newMappingPages,
    presentPages: 0,
    swappedPages: 0,
    wholeAreaMarked: false,
  });
  const reading = {
    pages: 0,
    newMappingPages: 0,
    dirty: {
      ranges: [],
      newMappingRanges: [],
      scannedPages: 0,
      writtenPages: 0,
      newMappingPages: 0,
      areas: [
        dirtyArea('[anon]', 10, 0),
        dirtyArea('/usr/lib/libc.so.6', 2, 0),
        dirtyArea('[anon]', 5, 100),
        dirtyArea('[stack]', 0, 0),
        dirtyArea('[heap]', 0, 30),
      ],
    },
  };
  assert.deepEqual(pagesByMapping(reading), [
    { mapping: '[anon]', pages: 15, newMappingPages: 100 },
    { mapping: '/usr/lib/libc.so.6', pages: 2, newMappingPages: 0 },
    { mapping: '[heap]', pages: 0, newMappingPages: 30 },
  ]);
});

test('sparkline: flat is flat, the peak is the full block', () => {
  assert.equal(sparkline([]), '');
  assert.equal(sparkline([0, 0, 0]), '▁▁▁');
  assert.equal(sparkline([5, 5, 5]), '███');
  assert.equal(sparkline([0, 7, 14]), '▁▅█');
});
