// The bpftrace JSON-lines parser on real bpftrace 0.17 output and on hand-made edge cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParseError } from '../../src/base/errors.js';
import { SeededRandom, randomChunks } from '../../src/base/random.js';
import { BpftraceOutputParser } from '../../src/parsers/bpftrace.js';
import { parseLosslessJson } from '../../src/parsers/lossless-json.js';
import type { TracerLineRecord } from '../../src/parsers/trace-records.js';
import { callsOf, fixture, knownReport, lifecycleOf } from './fixtures.js';
import { betweenMarkers, expectedCalls, PROCESS_NAME, shape, WORKER_NAME } from './known-workload.js';

function parseAll(bytes: Uint8Array, chunks?: Uint8Array[]): { records: TracerLineRecord[]; malformed: number } {
  const p = new BpftraceOutputParser({ host: 'host-b', wallOffsetNs: 1_700_000_000_000_000_000n });
  const records: TracerLineRecord[] = [];
  for (const c of chunks ?? [bytes]) records.push(...p.push(c));
  records.push(...p.end());
  return { records, malformed: p.malformed };
}

test('bpftrace parser: captured output of the known workload gives its exact calls and names', () => {
  const { records, malformed } = parseAll(fixture('bpftrace', 'known-workload.ndjson'));
  assert.equal(malformed, 0);
  const r = knownReport();
  assert.deepEqual(betweenMarkers(callsOf(records), r).map(shape), expectedCalls(r));
  const life = lifecycleOf(records);
  assert.ok(
    life.some(
      (l) =>
        l.kind === 'rename' &&
        l.pid === r.pid &&
        l.tid === r.worker &&
        l.oldName === PROCESS_NAME &&
        l.newName === WORKER_NAME,
    ),
  );
  assert.ok(life.some((l) => l.kind === 'exit' && l.pid === r.child));
  const first = callsOf(records)[0];
  assert.ok(first);
  // kernel time 2254858293720 ns + the wall offset, in ms
  assert.equal(first.timeMs, 1_700_002_254_858);
  assert.deepEqual(
    records.filter((x) => x.kind === 'unpaired'),
    [{ kind: 'unpaired', count: 114 }],
  );
});

test('bpftrace parser: the same records whatever the chunk boundaries', () => {
  for (const name of ['known-workload.ndjson', 'edge-cases.ndjson']) {
    const bytes = fixture('bpftrace', name);
    const whole = parseAll(bytes);
    for (let seed = 1; seed <= 30; seed++) {
      const split = parseAll(bytes, randomChunks(bytes, new SeededRandom(seed), 1 + (seed % 5) * 13));
      assert.deepEqual(split.records, whole.records, `${name} seed ${seed}`);
      assert.equal(split.malformed, whole.malformed);
    }
  }
});

test('bpftrace parser: edge cases', () => {
  const { records, malformed } = parseAll(fixture('bpftrace', 'edge-cases.ndjson'));
  assert.equal(malformed, 6);
  assert.deepEqual(records[0], { kind: 'heartbeat', ktimeNs: 500n });
  const [munmap, brk, mremap, big, late] = callsOf(records);
  assert.ok(munmap && brk && mremap && big && late);
  assert.equal(munmap.addr, 0xfffffffffffff000n, 'past 2^53, exact');
  assert.equal(munmap.name, 'Web Content');
  assert.equal(munmap.thread, '\u0001x\ufffd', 'a control character and a byte that is not UTF-8');
  assert.equal(munmap.error, 'EINVAL');
  assert.equal(brk.error, 'ENOMEM');
  assert.equal(mremap.newAddr, 36864n);
  assert.equal(big.lengthBytes, 4294967296n);
  assert.equal(late.ktimeNs, 9007199254740993n, 'kernel time past 2^53, exact');
  assert.equal(late.error, 'ENOMEM');
  assert.deepEqual(
    records.filter((x) => x.kind === 'lost'),
    [{ kind: 'lost', count: 17 }],
  );
  assert.deepEqual(lifecycleOf(records), [
    { kind: 'rename', ktimeNs: 1005n, pid: 4242, tid: 4243, oldName: '\u{1f600} x', newName: '/\b\f\n\r\t' },
    {
      kind: 'fork',
      ktimeNs: 1006n,
      parentPid: 4242,
      childPid: 4247,
      childTid: 4247,
      isThread: false,
      name: 'Web Content',
    },
  ]);
  // @unpaired 3, and 2 entries still pending when bpftrace stopped
  assert.deepEqual(
    records.filter((x) => x.kind === 'unpaired'),
    [
      { kind: 'unpaired', count: 3 },
      { kind: 'unpaired', count: 2 },
    ],
  );
});

test('lossless JSON: integers stay exact, bad input is a ParseError', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  assert.deepEqual(
    parseLosslessJson(enc('[18446744073709551615, -9223372036854775808, 1.5, true, null, {"a": "b"}]'), 't'),
    [18446744073709551615n, -9223372036854775808n, 1.5, true, null, { a: 'b' }],
  );
  assert.equal(parseLosslessJson(enc('"\\uffffffc3\\uffffffa9"'), 't'), 'é');
  assert.equal(parseLosslessJson(enc('"\\u00e9\\ud83d\\ude00"'), 't'), 'é\u{1f600}');
  for (const bad of ['[1,', '{"a" 1}', '"\\q"', '[1] x', '', '-', '"\\u12"'])
    assert.throws(() => parseLosslessJson(enc(bad), 't'), ParseError, bad);
});

test('bpftrace parser: mprotect tuples, a success and a failure; a short one is skipped and counted', () => {
  const lines = [
    '{"type": "value", "data": ["C", "mprotect", 1000, 42, 43, "v8", "v8:worker", 138538481876992, 8388608, 3, 0]}',
    '{"type": "value", "data": ["C", "mprotect", 1001, 42, 43, "v8", "v8:worker", 138538488168448, 2097152, 0, -12]}',
    '{"type": "value", "data": ["C", "mprotect", 1002, 42, 43, "v8", "v8:worker", 138538488168448, 2097152, 0]}',
    '',
  ].join('\n');
  const { records, malformed } = parseAll(new TextEncoder().encode(lines));
  assert.equal(malformed, 1);
  assert.deepEqual(
    callsOf(records).map((e) => [e.call, e.addr, e.lengthBytes, e.prot, e.flags, e.fd, e.result, e.error]),
    [
      ['mprotect', 0x7e0001000000n, 0x800000n, 3, null, null, 0n, null],
      ['mprotect', 0x7e0001600000n, 0x200000n, 0, null, null, -12n, 'ENOMEM'],
    ],
  );
});
