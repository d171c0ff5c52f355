import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParseError } from '../../src/base/errors.js';
import { SeededRandom, randomChunks } from '../../src/base/random.js';
import {
  MemtraceDecoder,
  decodeMemtrace,
  detectMemtrace,
  type MemtraceVisitor,
} from '../../src/parsers/memtrace/index.js';
import { PUBLIC_TRACES, readPublicTrace, withoutPublicTraces } from './public-traces.js';
import { TraceEncoder } from './trace-encoder.js';

/** Records every event as a line, to compare decodings. */
class Recorder implements MemtraceVisitor {
  lines: string[] = [];
  allocated = new Set<number>();
  promoted = new Set<number>();
  collected = new Set<number>();
  orphans = 0;
  doubles = 0;
  alloc(id: number, t: number, len: number, n: number, src: number, stack: number, dom: number): void {
    this.lines.push(`a ${id} ${t} ${len} ${n} ${src} ${stack} ${dom}`);
    if (this.allocated.has(id)) this.doubles++;
    this.allocated.add(id);
  }
  promote(id: number, t: number): void {
    this.lines.push(`p ${id} ${t}`);
    if (!this.allocated.has(id) || this.collected.has(id)) this.orphans++;
    if (this.promoted.has(id)) this.doubles++;
    this.promoted.add(id);
  }
  collect(id: number, t: number): void {
    this.lines.push(`c ${id} ${t}`);
    if (!this.allocated.has(id)) this.orphans++;
    if (this.collected.has(id)) this.doubles++;
    this.collected.add(id);
  }
}

/** Independent of the decoder: walks packet headers only and sums alloc_id_end - alloc_id_begin. */
function allocationsFromHeaders(bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let total = 0;
  while (at + 30 <= bytes.length) {
    const size = v.getUint32(at + 4, true) / 8;
    const version = v.getUint16(at + 28, true);
    const hdr = version >= 3 ? 68 : 66;
    total += Number(v.getBigUint64(at + hdr - 8, true) - v.getBigUint64(at + hdr - 16, true));
    at += size;
  }
  return total;
}

for (const t of PUBLIC_TRACES) {
  test(`public trace ${t.name}: every integrity check passes, counts match`, { skip: withoutPublicTraces }, () => {
    const bytes = readPublicTrace(t.name);
    const r = new Recorder();
    const d = decodeMemtrace(bytes, r, t.name);
    assert.equal(d.info?.formatVersion, t.version);
    const i = d.integrity;
    assert.deepEqual(i.warnings, []);
    assert.equal(i.cacheVerifierFailures, 0);
    assert.equal(i.allocIdMismatches, 0);
    assert.equal(i.corruptPackets, 0);
    assert.equal(i.locationErrors, 0);
    assert.equal(i.inconsistentLocations, 0);
    assert.equal(i.nonMonotoneTimes, 0);
    assert.equal(i.truncated, false);
    assert.equal(i.wrongPidPackets, 0);
    // Every events packet was id-checked (all packets but the trace_info one).
    assert.equal(i.allocIdChecks, i.packets - 1);
    assert.equal(d.counts.allocations, allocationsFromHeaders(bytes));
    if (t.statedAllocations !== undefined) assert.equal(d.counts.allocations, t.statedAllocations);
    // Every promotion and collection names an earlier allocation, at most once.
    assert.equal(r.orphans, 0);
    assert.equal(r.doubles, 0);
    assert.equal(r.allocated.size, d.counts.allocations);
    assert.equal(r.promoted.size, d.counts.promotions);
    assert.equal(r.collected.size, d.counts.collections);
    assert.ok(d.counts.collections <= d.counts.allocations);
    // Backtraces resolve to locations: the allocation points have source locations.
    assert.ok(d.locations.size > 0);
  });

  test(`public trace ${t.name}: hostile chunk boundaries decode identically`, { skip: withoutPublicTraces }, () => {
    const bytes = readPublicTrace(t.name);
    const whole = new Recorder();
    decodeMemtrace(bytes, whole);
    for (const seed of [1, 2, 3]) {
      const rng = new SeededRandom(seed * 7919 + t.version);
      const r = new Recorder();
      const d = new MemtraceDecoder(r);
      for (const c of randomChunks(bytes, rng, seed === 1 ? 7 : 5000)) d.push(c);
      d.end();
      assert.deepEqual(r.lines, whole.lines, `seed ${seed}`);
      assert.deepEqual(d.integrity.warnings, []);
    }
  });
}

test('public v1 trace: inlined locations are kept in caller-first order', { skip: withoutPublicTraces }, () => {
  const d = decodeMemtrace(readPublicTrace('synthetic-v2.ctf'), new Recorder());
  const inlined = [...d.locations.values()].find((l) => l.length > 1);
  assert.ok(inlined);
  // generate_test_data.ml: main (line 86) inlines the call at line 96; the caller comes first.
  assert.deepEqual(
    inlined.map((l) => l.line),
    [96, 86],
  );
});

test('encoder round trip (v1, v2, v3): stacks, locations, sizes, ids and the verifier', () => {
  for (const version of [1, 2, 3] as const) {
    const rng = new SeededRandom(100 + version);
    const codes = Array.from({ length: 60 }, (_, i) => 0x400000 + i * 24);
    const enc = new TraceEncoder({ version, sampleRate: 0.01, context: version >= 2 ? 'ctx' : undefined });
    const expected: { stack: number[]; len: number; samples: number; src: number }[] = [];
    let now = 1_700_000_000_000_000;
    const live: number[] = [];
    for (let k = 0; k < 3000; k++) {
      now += rng.int(0, 20_000);
      const depth = rng.int(0, 12);
      const stack = Array.from(
        { length: depth },
        (_, j) => codes[(j * 3 + (j > 6 ? rng.int(0, 5) : 0)) % codes.length] ?? 0,
      );
      const len = rng.int(1, 40);
      const samples = rng.int(1, 3);
      const src = rng.int(0, 2) as 0 | 1 | 2;
      live.push(enc.alloc(now, { lengthWords: len, samples, source: src, stack }));
      expected.push({ stack, len, samples, src });
      if (live.length > 5 && rng.next() < 0.5) {
        const id = live.splice(rng.int(0, live.length - 1), 1)[0] ?? 0;
        if (rng.next() < 0.3) enc.promote(now, id);
        enc.collect(now, id);
      }
    }
    const bytes = enc.finish();
    const got: { stack: number[]; len: number; samples: number; src: number }[] = [];
    const r = new Recorder();
    const d: MemtraceDecoder = new MemtraceDecoder({
      alloc: (id, t, len, samples, src, stack, dom) => {
        r.alloc(id, t, len, samples, src, stack, dom);
        got.push({ stack: d.trie.backtrace(stack), len, samples, src });
      },
      promote: (id, t) => r.promote(id, t),
      collect: (id, t) => r.collect(id, t),
    });
    d.push(bytes);
    d.end();
    assert.deepEqual(got, expected, `v${version}`);
    assert.deepEqual(d.integrity.warnings, []);
    assert.ok(d.integrity.cacheVerifierChecks > 0);
    assert.equal(d.integrity.cacheVerifierFailures, 0);
    assert.equal(d.integrity.allocIdMismatches, 0);
    assert.equal(d.counts.allocations, enc.written.allocations);
    assert.equal(d.counts.collections, enc.written.collections);
    assert.equal(d.counts.promotions, enc.written.promotions);
    assert.equal(r.orphans, 0);
    assert.equal(d.info?.context, version >= 2 ? 'ctx' : undefined);
    for (const c of codes) assert.ok(d.locations.has(c) || !expected.some((e) => e.stack.includes(c)));
  }
});

test('codes beyond 2^53 keep their identity', () => {
  const big = 2 ** 60 + 2 ** 10; // exact as a double, beyond 2^53
  const enc = new TraceEncoder({
    locations: new Map([[big, [{ filename: 'big.ml', line: 1, startChar: 0, endChar: 3, defname: 'Big.f' }]]]),
  });
  let node = -1;
  const d = decodeMemtrace(
    enc.finishWith((e) => e.alloc(1_700_000_000_000_010, { lengthWords: 2, stack: [big, 0x1000] })),
    {
      alloc: (_id, _t, _l, _n, _s, stack) => (node = stack),
      promote: () => undefined,
      collect: () => undefined,
    },
  );
  const [k] = d.trie.backtrace(node);
  assert.ok(k !== undefined && k < 0);
  assert.equal(d.keys.code(k), BigInt(big));
});

test('a packet of another pid (a fork) is skipped and counted', () => {
  const enc = new TraceEncoder();
  enc.alloc(1_700_000_000_000_100, { lengthWords: 3, stack: [0x10] });
  enc.foreignPidPacket(1_700_000_000_000_200);
  enc.alloc(1_700_000_000_000_300, { lengthWords: 3, stack: [0x10] });
  const d = decodeMemtrace(enc.finish(), new Recorder());
  assert.equal(d.integrity.wrongPidPackets, 1);
  assert.equal(d.counts.allocations, 2);
  assert.equal(d.integrity.allocIdMismatches, 0);
});

test('memtrace <= 0.2.3 column clamping degrades to unknown locations with a warning', () => {
  const locs = new Map([
    [0x100, [{ filename: 'a.ml', line: 1, startChar: 2, endChar: 3, defname: 'A.f' }]],
    // A long line: end_char 2000 spills into the filename code of a known file (a.ml, index 0).
    [0x200, [{ filename: 'a.ml', line: 2, startChar: 4, endChar: 2000, defname: 'B.g' }]],
    [0x300, [{ filename: 'c.ml', line: 3, startChar: 1, endChar: 2, defname: 'C.h' }]],
  ]);
  const enc = new TraceEncoder({ clampBug: true, locations: locs });
  let t = 1_700_000_000_000_000;
  for (let i = 0; i < 50; i++) enc.alloc((t += 100), { lengthWords: 4, stack: [0x100, 0x200, 0x300] });
  const r = new Recorder();
  const d = decodeMemtrace(enc.finish(), r);
  assert.equal(d.counts.allocations, 50);
  assert.ok(d.integrity.locationErrors > 0);
  assert.ok(d.integrity.warnings.some((w) => /location table corrupt/.test(w) && /0\.2\.3/.test(w)));
  assert.ok(!d.locations.has(0x300), 'codes after the corruption stay unknown');
  assert.equal(d.locations.get(0x100)?.[0]?.defname, 'A.f');
});

test(
  'foreign CTF with the same magic is refused by name; other bytes are not mine',
  { skip: withoutPublicTraces },
  () => {
    const magic = [0xc1, 0x1f, 0xfc, 0xc1];
    const eventlog = new Uint8Array([...magic, 1, 0, 0, 0, ...new Array<number>(80).fill(0)]);
    assert.throws(
      () => detectMemtrace(eventlog),
      (e: unknown) => e instanceof ParseError && /OCaml runtime eventlog/.test(e.message),
    );
    const uuid = [0x05, 0x88, 0x3b, 0x8d, 0x52, 0x1a, 0x48, 0x7b, 0xb3, 0x97, 0x45, 0x6a, 0xb1, 0x50, 0x68, 0x0c];
    const mirage = new Uint8Array([...magic, ...uuid, 0, 0, 1, 0, ...new Array<number>(60).fill(0)]);
    assert.throws(
      () => detectMemtrace(mirage),
      (e: unknown) => e instanceof ParseError && /mirage-profile/.test(e.message),
    );
    assert.throws(() => decodeMemtrace(mirage, new Recorder()), /mirage-profile/);
    assert.equal(detectMemtrace(new TextEncoder().encode('hello, not a trace at all')), undefined);
    assert.equal(detectMemtrace(new Uint8Array(0)), undefined);
    const v4 = new TraceEncoder().finish();
    new DataView(v4.buffer).setUint16(28, 4, true);
    assert.throws(() => detectMemtrace(v4), /newer than this reader/);
    const other = new Uint8Array([...magic, 0, 4, 0, 0, ...new Array<number>(80).fill(7)]);
    assert.throws(() => detectMemtrace(other), /not a memtrace trace/);
    assert.equal(detectMemtrace(readPublicTrace('ocamlopt-v3.ctf')), true);
  },
);

test('truncated traces are analysed up to where they end, with a warning', { skip: withoutPublicTraces }, () => {
  const bytes = readPublicTrace('ocamlopt-v3.ctf');
  const full = decodeMemtrace(bytes, new Recorder());
  const rng = new SeededRandom(77);
  for (let k = 0; k < 40; k++) {
    const cut = rng.int(1, bytes.length - 1);
    const r = new Recorder();
    let d: MemtraceDecoder;
    try {
      d = decodeMemtrace(bytes.subarray(0, cut), r);
    } catch (e) {
      // Only a cut inside the first (trace_info) packet may refuse the file.
      assert.ok(e instanceof ParseError, String(e));
      assert.ok(cut < 300, `cut at ${cut}`);
      continue;
    }
    assert.ok(d.counts.allocations <= full.counts.allocations);
    assert.equal(r.orphans, 0);
    if (d.integrity.truncated) assert.ok(d.integrity.warnings.some((w) => /ends inside a packet/.test(w)));
  }
  // A cut in the middle of the last events packet keeps that packet's complete events.
  const d = decodeMemtrace(bytes.subarray(0, bytes.length - 10), new Recorder());
  assert.equal(d.integrity.truncated, true);
  assert.ok(d.counts.allocations + d.counts.collections + d.counts.promotions > 0);
});

test('fuzz: corrupted traces never crash or hang, only refuse or warn', { skip: withoutPublicTraces }, () => {
  const inputs = PUBLIC_TRACES.map((t) => readPublicTrace(t.name));
  const rng = new SeededRandom(2024);
  for (let k = 0; k < 300; k++) {
    const src = inputs[k % inputs.length] ?? new Uint8Array();
    const bytes = src.slice();
    const flips = rng.int(1, 20);
    for (let f = 0; f < flips; f++) {
      // Mostly past the trace_info packet, so decoding goes on and meets the damage.
      const at =
        rng.next() < 0.9 ? rng.int(Math.min(300, bytes.length - 1), bytes.length - 1) : rng.int(0, bytes.length - 1);
      bytes[at] = rng.int(0, 255);
    }
    if (rng.next() < 0.2) bytes.copyWithin(rng.int(0, bytes.length - 1), rng.int(0, bytes.length - 1));
    const r = new Recorder();
    try {
      const d = new MemtraceDecoder(r);
      for (const c of randomChunks(bytes, rng, 40_000)) d.push(c);
      d.end();
      assert.ok(d.integrity.warnings.length <= 50);
    } catch (e) {
      assert.ok(e instanceof ParseError, `case ${k}: ${String(e)}`);
    }
  }
});

test('streaming keeps the undecoded buffer to about a packet, whatever the trace size', () => {
  const enc = new TraceEncoder({ sampleRate: 0.01 });
  let t = 1_700_000_000_000_000;
  const live: number[] = [];
  for (let k = 0; k < 200_000; k++) {
    t += 50;
    live.push(enc.alloc(t, { lengthWords: 5, stack: [0x10, 0x20 + (k % 50) * 8, 0x900 + (k % 7) * 8] }));
    if (live.length > 100) enc.collect(t, live.shift() ?? 0);
  }
  const bytes = enc.finish();
  assert.ok(bytes.length > 2_000_000);
  const d = new MemtraceDecoder({ alloc: () => undefined, promote: () => undefined, collect: () => undefined });
  for (let at = 0; at < bytes.length; at += 65536) d.push(bytes.subarray(at, at + 65536));
  d.end();
  assert.equal(d.counts.allocations, 200_000);
  assert.deepEqual(d.integrity.warnings, []);
  assert.ok(d.bufferCapacity <= 4 * 65536, `buffer grew to ${d.bufferCapacity}`);
});

test('not CTF at all: the decoder refuses with one clear message', () => {
  assert.throws(
    () => decodeMemtrace(new TextEncoder().encode('x'.repeat(200)), new Recorder()),
    /not a memtrace trace \(no CTF magic\)/,
  );
});

test('move-to-front tables past 31 entries: evicted file and function names come back as new', () => {
  const locations = new Map<
    number,
    { filename: string; line: number; startChar: number; endChar: number; defname: string }[]
  >();
  const codes: number[] = [];
  for (let f = 0; f < 40; f++) {
    for (let g = 0; g < 40; g++) {
      const code = 0x100000 + (f * 40 + g) * 16;
      codes.push(code);
      // Two inlined locations per code, in two different files.
      locations.set(code, [
        { filename: `dir/file${f}.ml`, line: g + 1, startChar: g, endChar: 900 + g, defname: `File${f}.fn${g}` },
        {
          filename: `dir/file${(f * 7) % 40}.ml`,
          line: 1000 + g,
          startChar: 3,
          endChar: 4,
          defname: `File${(f * 7) % 40}.inl${g % 35}`,
        },
      ]);
    }
  }
  const enc = new TraceEncoder({ locations });
  const rng = new SeededRandom(5);
  let t = 1_700_000_000_000_000;
  for (let k = 0; k < 4000; k++)
    enc.alloc((t += 10), {
      lengthWords: 3,
      stack: [codes[rng.int(0, codes.length - 1)] ?? 0, codes[rng.int(0, codes.length - 1)] ?? 0],
    });
  const d = decodeMemtrace(enc.finish(), new Recorder());
  assert.deepEqual(d.integrity.warnings, []);
  let checked = 0;
  for (const [code, locs] of d.locations) {
    assert.deepEqual(locs, locations.get(code));
    checked++;
  }
  assert.ok(checked > 1000, `${checked} codes checked`);
});

test('format v3 with two domains: separate caches, tables and clocks per domain', () => {
  const start = 1_700_000_000_000_000;
  const packets: { domain: number; bytes: Uint8Array }[] = [];
  const locations = new Map<
    number,
    { filename: string; line: number; startChar: number; endChar: number; defname: string }[]
  >();
  for (let c = 0; c < 40; c++)
    locations.set(0x5000 + c * 8, [
      { filename: `d${c % 3}.ml`, line: c, startChar: 1, endChar: 2, defname: `D${c % 3}.f${c}` },
    ]);
  const sink = (domain: number) => (p: Uint8Array) => packets.push({ domain, bytes: p });
  const d0 = new TraceEncoder({ version: 3, startUs: start, locations, sink: sink(0) });
  const d1 = new TraceEncoder({
    version: 3,
    startUs: start,
    locations,
    domain: 1,
    firstAllocId: 1_000_000,
    writeInfo: false,
    sink: sink(1),
  });
  const rng = new SeededRandom(17);
  const expected = new Map<number, number[]>();
  let t = start;
  const live: [TraceEncoder, number][] = [];
  for (let k = 0; k < 6000; k++) {
    t += rng.int(1, 3000);
    const enc = rng.next() < 0.5 ? d0 : d1;
    // The two domains use the same codes in different cache buckets and table orders.
    const stack = Array.from({ length: rng.int(1, 6) }, () => 0x5000 + rng.int(0, 39) * 8);
    const id = enc.alloc(t, { lengthWords: 3, stack });
    expected.set(id, stack);
    live.push([enc, id]);
    if (live.length > 50) {
      const [e, old] = live.splice(rng.int(0, live.length - 1), 1)[0] ?? [d0, 0];
      // A domain collects only its own objects here.
      e.collect(t, old);
    }
    if (k % 500 === 0) {
      // Whole packets interleave in the file, each domain's in its own time order.
      d0.flushAt(t);
      d1.flushAt(t);
    }
  }
  d0.finish();
  d1.finish();
  const bytes = new Uint8Array(packets.reduce((n, p) => n + p.bytes.length, 0));
  let at = 0;
  for (const p of packets) {
    bytes.set(p.bytes, at);
    at += p.bytes.length;
  }
  const got = new Map<number, number[]>();
  const dec: MemtraceDecoder = new MemtraceDecoder({
    alloc: (id, _t, _l, _n, _s, node) => got.set(id, dec.trie.backtrace(node)),
    promote: () => undefined,
    collect: () => undefined,
  });
  dec.push(bytes);
  dec.end();
  assert.deepEqual(dec.integrity.warnings, []);
  assert.ok(dec.integrity.cacheVerifierChecks > 10);
  assert.equal(dec.integrity.cacheVerifierFailures, 0);
  assert.equal(dec.integrity.nonMonotoneTimes, 0);
  assert.deepEqual(got, expected);
  for (const [code, locs] of dec.locations) assert.deepEqual(locs, locations.get(code));
});
