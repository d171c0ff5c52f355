// The SystemTap line parser on lines in exactly memlens.stp's format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParseError } from '../../src/base/errors.js';
import { SeededRandom, randomChunks } from '../../src/base/random.js';
import { detectStapHeader, StapOutputParser, unescapeStapName } from '../../src/parsers/stap.js';
import type { TracerLineRecord } from '../../src/parsers/trace-records.js';
import { callsOf, fixture, knownReport, lifecycleOf } from './fixtures.js';
import { betweenMarkers, expectedCalls, PROCESS_NAME, shape, WORKER_NAME } from './known-workload.js';

function parseAll(bytes: Uint8Array, chunks?: Uint8Array[]): { records: TracerLineRecord[]; malformed: number } {
  const p = new StapOutputParser('host-a');
  const records: TracerLineRecord[] = [];
  for (const c of chunks ?? [bytes]) records.push(...p.push(c));
  records.push(...p.end());
  return { records, malformed: p.malformed };
}

test('stap parser: the known workload, exact calls with pid vs tid and process vs thread names', () => {
  const { records, malformed } = parseAll(fixture('stap', 'known-workload.txt'));
  assert.equal(malformed, 0);
  const r = knownReport();
  const calls = betweenMarkers(callsOf(records), r);
  assert.deepEqual(calls.map(shape), expectedCalls(r));
  const first = callsOf(records)[0];
  assert.ok(first);
  assert.equal(first.host, 'host-a');
  assert.equal(first.ktimeNs, 2254858293720n);
  // wall 1795434000123584820 ns since the epoch, to the millisecond
  assert.equal(first.timeMs, 1795434000123);
  const life = lifecycleOf(records);
  assert.ok(
    life.some(
      (l) => l.kind === 'rename' && l.tid === r.worker && l.oldName === PROCESS_NAME && l.newName === WORKER_NAME,
    ),
  );
  assert.ok(life.some((l) => l.kind === 'fork' && l.parentPid === r.pid && l.childPid === r.child && !l.isThread));
  assert.ok(
    life.some(
      (l) =>
        l.kind === 'fork' && l.parentPid === r.pid && l.childPid === r.pid && l.childTid === r.worker && l.isThread,
    ),
  );
  assert.deepEqual(
    records.filter((x) => x.kind === 'unpaired'),
    [{ kind: 'unpaired', count: 0 }],
  );
  assert.deepEqual(records[0], { kind: 'started' });
});

test('stap parser: the same records whatever the chunk boundaries', () => {
  for (const name of ['known-workload.txt', 'edge-cases.txt']) {
    const bytes = fixture('stap', name);
    const whole = parseAll(bytes);
    for (let seed = 1; seed <= 30; seed++) {
      const rng = new SeededRandom(seed);
      const split = parseAll(bytes, randomChunks(bytes, rng, 1 + (seed % 7) * 9));
      assert.deepEqual(split.records, whole.records, `${name} seed ${seed}`);
      assert.equal(split.malformed, whole.malformed);
    }
  }
});

test('stap parser: edge cases, malformed lines skipped and counted', () => {
  const { records, malformed } = parseAll(fixture('stap', 'edge-cases.txt'));
  assert.equal(malformed, 6);
  const calls = callsOf(records);
  assert.equal(calls.length, 6);
  const [big, empty, brk, mremap, enomem, crlf] = calls;
  assert.ok(big && empty && brk && mremap && enomem && crlf);
  assert.equal(big.name, 'Web Content');
  assert.equal(big.thread, 'Isolated Web Co');
  assert.equal(big.pid, 4242);
  assert.equal(big.tid, 4243);
  assert.equal(big.lengthBytes, 4294967296n, 'sizes past 32 bits');
  assert.equal(big.fd, -1);
  assert.equal(big.error, null);
  assert.equal(empty.name, '');
  assert.equal(empty.thread, '');
  assert.equal(empty.addr, 0xfffffffffffff000n);
  assert.equal(empty.result, -22n);
  assert.equal(empty.error, 'EINVAL');
  assert.equal(brk.name, 'kworker/u8:2');
  assert.equal(brk.error, 'ENOMEM', 'brk returning the old break failed');
  assert.equal(mremap.name, 'a\\b');
  assert.equal(mremap.newLengthBytes, 0x2000n);
  assert.equal(mremap.newAddr, 0x9000n, 'MREMAP_FIXED carries the new address');
  assert.equal(mremap.flags, 3);
  assert.equal(enomem.fd, 3);
  assert.equal(enomem.error, 'ENOMEM');
  assert.equal(crlf.call, 'munmap');
  assert.equal(crlf.result, 0n);
  assert.deepEqual(lifecycleOf(records), [
    { kind: 'rename', ktimeNs: 1011n, pid: 4242, tid: 4243, oldName: 'Isolated Web Co', newName: 'DOM Worker' },
    { kind: 'exec', ktimeNs: 1012n, pid: 4244, tid: 4245, name: '日本', filename: '/usr/bin/日本' },
    {
      kind: 'fork',
      ktimeNs: 1013n,
      parentPid: 4242,
      childPid: 4242,
      childTid: 4246,
      isThread: true,
      name: 'Web Content',
    },
    { kind: 'exit', ktimeNs: 1014n, pid: 4242, tid: 4242, name: 'Web Content' },
  ]);
  assert.deepEqual(records.at(-1), { kind: 'unpaired', count: 7 });
});

test('stap parser: a header of another format version is an error, not garbage', () => {
  const p = new StapOutputParser('h', 'trace.txt');
  assert.throws(
    () => p.push(new TextEncoder().encode('#memlens-stap 2\n')),
    (e: unknown) => e instanceof ParseError && /version "2"/.test(e.message) && /trace\.txt:1/.test(e.message),
  );
});

test('stap parser: input whose first line is not the header is not memlens.stp output: refused whole', () => {
  for (const first of [
    '# SystemTap output fixtures',
    'C 1000 1795434000000001000 42 43 a b munmap 0x0 0x1000 0',
    '',
    ' #memlens-stap 1',
    '#memlens-stapler 1',
  ]) {
    const p = new StapOutputParser('h', 'notes.md');
    assert.throws(
      () => p.push(new TextEncoder().encode(`${first}\n#memlens-stap 1\n`)),
      (e: unknown) =>
        e instanceof ParseError &&
        /^notes\.md:1: not memlens\.stp output: the first line is .*, not the header "#memlens-stap 1"$/.test(
          e.message,
        ),
      JSON.stringify(first),
    );
  }
  assert.equal(detectStapHeader('# a README'), undefined, 'not mine');
  assert.equal(detectStapHeader('#memlens-stap 1\r'), true);
  assert.throws(() => detectStapHeader('#memlens-stap 1.1', 'f'), /format version "1\.1"/, 'mine, but another version');
});

test('stap parser: name escapes', () => {
  assert.equal(unescapeStapName('""'), '');
  assert.equal(unescapeStapName('a\\x20b\\x5c\\x22'), 'a b\\"');
  assert.equal(unescapeStapName('\\xff\\xfe'), '\ufffd\ufffd', 'bytes that are not UTF-8');
  assert.throws(() => unescapeStapName('a\\x2'));
  assert.throws(() => unescapeStapName('a\\n'));
});

test('stap parser: mprotect lines, a success and a failure; a short one is skipped and counted', () => {
  const text = [
    '#memlens-stap 1',
    'C 1000 1795434000000001000 42 43 v8 v8:worker mprotect 0x7e0001000000 0x800000 0x3 0',
    'C 1001 1795434000000002000 42 43 v8 v8:worker mprotect 0x7e0001600000 0x200000 0x0 -12',
    'C 1002 1795434000000003000 42 43 v8 v8:worker mprotect 0x7e0001600000 0x200000 0',
    '',
  ].join('\n');
  const { records, malformed } = parseAll(new TextEncoder().encode(text));
  assert.equal(malformed, 1);
  assert.deepEqual(
    callsOf(records).map((e) => [e.call, e.addr, e.lengthBytes, e.prot, e.flags, e.fd, e.result, e.error]),
    [
      ['mprotect', 0x7e0001000000n, 0x800000n, 3, null, null, 0n, null],
      ['mprotect', 0x7e0001600000n, 0x200000n, 0, null, null, -12n, 'ENOMEM'],
    ],
  );
});

test("stap parser: the L line, SystemTap's own skipped probes and transport failures, is lost events", () => {
  const text = [
    '#memlens-stap 1',
    'U 1016 1795434000000001016 2',
    'L 1017 1795434000000001017 3 4',
    'L 1018 1795434000000001018 -1 0',
    'L 1019 1795434000000001019 5',
    '',
  ].join('\n');
  const { records, malformed } = parseAll(new TextEncoder().encode(text));
  // A negative count and a short line are not counts: skipped and counted as malformed.
  assert.equal(malformed, 2);
  assert.deepEqual(records, [{ kind: 'started' }, { kind: 'unpaired', count: 2 }, { kind: 'lost', count: 7 }]);
});
