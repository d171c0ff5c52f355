// The ring-buffer decoder against real pages captured from this kernel (fixtures/tracefs/), checked
// record by record against the kernel's own text rendering of the same buffer, plus hand-made pages
// for the record types a short capture does not contain.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom, randomChunks } from '../../src/base/random.js';
import { lostInStats, parseCpuStats } from '../../src/parsers/tracefs/cpu-stats.js';
import { parseEventFormat, parseFieldLines } from '../../src/parsers/tracefs/event-format.js';
import {
  DEFAULT_ENTRY_TYPES,
  parseEntryHeader,
  parsePageLayout,
  type PageLayout,
} from '../../src/parsers/tracefs/page-layout.js';
import { PageStream } from '../../src/parsers/tracefs/page-stream.js';
import { RecordDecoder } from '../../src/parsers/tracefs/record-decoder.js';
import { decodePage } from '../../src/parsers/tracefs/ring-buffer-page.js';
import type { RawTraceRecord } from '../../src/parsers/tracefs/trace-records.js';
import { fixtureDirs, loadFixture, type TracefsFixture } from './fixture-loader.js';

function decodeAll(
  fx: TracefsFixture,
  chunking?: SeededRandom,
): { records: RawTraceRecord[]; missed: number; streams: PageStream[] } {
  const decoder = new RecordDecoder(fx.formats, true);
  const records: RawTraceRecord[] = [];
  let missed = 0;
  const streams = fx.cpus.map((bytes) => {
    const s = new PageStream(
      fx.layout,
      fx.types,
      (ts, view, at, length) => {
        const r = decoder.decode(ts, view, at, length);
        if (r) records.push(r);
      },
      (m) => (missed += m),
    );
    for (const chunk of chunking ? randomChunks(bytes, chunking, 5000) : [bytes]) s.push(chunk);
    return s;
  });
  records.sort((a, b) => (a.ktimeNs < b.ktimeNs ? -1 : a.ktimeNs > b.ktimeNs ? 1 : 0));
  return { records, missed, streams };
}

/** One line of the kernel's text `trace` output: "comm-TID [CPU] flags SECONDS: what". */
function textLines(text: string): { tid: number; usec: bigint; what: string }[] {
  const out: { tid: number; usec: bigint; what: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /-(\d+)\s+\[\d+\]\s+\S+\s+(\d+)\.(\d{6}): (.*)$/.exec(line);
    if (m?.[1] && m[2] && m[3] && m[4] !== undefined)
      out.push({ tid: Number(m[1]), usec: BigInt(m[2]) * 1_000_000n + BigInt(m[3]), what: m[4] });
  }
  return out;
}

const hex = (v: bigint) => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** Renders a decoded record the way the kernel's print fmt does, to compare with trace.txt. */
function render(r: RawTraceRecord): string {
  switch (r.kind) {
    case 'enter':
      if (r.call === 'mmap') return `sys_mmap(addr: ${r.addr === 0n ? '0' : hex(r.addr)}, len: ${hex(r.lengthBytes)}, `;
      if (r.call === 'munmap') return `sys_munmap(addr: ${hex(r.addr)}, len: ${hex(r.lengthBytes)})`;
      if (r.call === 'brk') return `sys_brk(brk: ${r.addr === 0n ? '0' : r.addr === 1n ? '1' : hex(r.addr)})`;
      return `sys_mremap(addr: ${hex(r.addr)}, old_len: ${hex(r.lengthBytes)}, new_len: ${hex(r.newLengthBytes ?? 0n)}, flags: ${r.flags}, `;
    case 'exit':
      return `sys_${r.call} -> ${hex(r.ret)}`;
    case 'newtask':
      return `task_newtask: pid=${r.tid} comm=${r.comm} clone_flags=${r.cloneFlags.toString(16)} `;
    case 'rename':
      return `task_rename: pid=${r.tid} oldcomm=${r.oldComm} newcomm=${r.newComm} `;
    case 'exec':
      return `sched_process_exec: filename=${r.filename} pid=${r.pid} old_pid=${r.oldPid}`;
    case 'task-exit':
      return `sched_process_exit: comm=${r.comm} pid=${r.tid} prio=`;
  }
}

test('header_page and header_event of this kernel give the documented layout', () => {
  for (const name of fixtureDirs()) {
    const fx = loadFixture(name);
    assert.deepEqual(fx.layout, {
      timestampOffset: 0,
      commitOffset: 8,
      commitSize: 8,
      dataOffset: 16,
      pageSize: 4096,
      littleEndian: true,
    });
    assert.deepEqual(fx.types, DEFAULT_ENTRY_TYPES);
    const mmap = fx.formats.get('syscalls/sys_enter_mmap');
    assert.ok(mmap);
    assert.deepEqual(
      mmap.fields.map((f) => [f.name, f.offset, f.size, f.signed]),
      [
        ['__syscall_nr', 8, 4, true],
        ['addr', 16, 8, false],
        ['len', 24, 8, false],
        ['prot', 32, 8, false],
        ['flags', 40, 8, false],
        ['fd', 48, 8, false],
        ['off', 56, 8, false],
      ],
    );
    assert.deepEqual(
      mmap.commonFields.map((f) => f.name),
      ['common_type', 'common_flags', 'common_preempt_count', 'common_pid'],
    );
    const exec = fx.formats.get('sched/sched_process_exec');
    assert.equal(exec?.fields.find((f) => f.name === 'filename')?.dataLoc, true);
    assert.equal(fx.formats.get('task/task_newtask')?.fields.find((f) => f.name === 'comm')?.arrayLength, 16);
  }
});

test('every record of the captured pages matches the kernel text rendering of the same buffer', () => {
  for (const name of fixtureDirs()) {
    const fx = loadFixture(name);
    const { records, streams } = decodeAll(fx);
    const lines = textLines(fx.text);
    // The text `trace` file was read before the raw pages were consumed: same buffer, same order.
    assert.equal(records.length, lines.length, `${name}: record count`);
    assert.ok(records.length > 50, `${name}: the capture has records`);
    records.forEach((r, i) => {
      const line = lines[i];
      assert.ok(line);
      // kernel/trace/trace.h ns2usecs() rounds to the nearest microsecond.
      assert.equal((r.ktimeNs + 500n) / 1000n, line.usec, `${name} #${i}: timestamp`);
      const tid = r.kind === 'newtask' ? r.parentTid : r.kind === 'exec' ? r.pid : r.tid;
      if (r.kind !== 'rename' && r.kind !== 'task-exit') assert.equal(tid, line.tid, `${name} #${i}: pid column`);
      assert.ok(line.what.startsWith(render(r)), `${name} #${i}: "${line.what}" vs "${render(r)}"`);
    });
    for (const s of streams) assert.equal(s.totals.malformedPages, 0);
  }
});

test('the known workload fixture: errno, thread, fork and exec records decode to their values', () => {
  const fx = loadFixture(fixtureDirs().find((d) => d.endsWith('-known')) ?? '');
  const { records, streams } = decodeAll(fx);
  const failed = records.find((r) => r.kind === 'exit' && r.call === 'mmap' && r.ret < 0n);
  assert.equal(failed?.kind === 'exit' ? failed.ret : undefined, -9n); // EBADF
  const badFd = records.find((r) => r.kind === 'enter' && r.call === 'mmap' && r.lengthBytes === 0xb000n);
  assert.equal(badFd?.kind === 'enter' ? badFd.fd : undefined, 12345);
  const anon = records.find((r) => r.kind === 'enter' && r.call === 'mmap' && r.lengthBytes === 0x5000n);
  assert.equal(anon?.kind === 'enter' ? anon.fd : undefined, -1);
  const threads = records.flatMap((r) => (r.kind === 'newtask' ? [r] : []));
  assert.deepEqual(
    threads.map((r) => (r.cloneFlags & 0x10000n) !== 0n),
    [true, false],
  );
  // The 300 ms pause before the exit events crosses 2^27 ns inside a page: a time extend record.
  assert.ok(streams.reduce((n, s) => n + s.totals.timeExtends, 0) >= 1);
  assert.equal(
    streams.reduce((n, s) => n + s.totals.records, 0),
    records.length,
  );
  const exits = records.flatMap((r) => (r.kind === 'task-exit' ? [r] : []));
  assert.deepEqual(
    exits.map((r) => [r.comm, r.groupDead]),
    [
      ['mlworker', false],
      ['mlexec', true],
      ['mmap-known', true],
    ],
  );
});

test('lost events: the overrun fixture reports in its page header exactly what per_cpu stats counted', () => {
  const fx = loadFixture(fixtureDirs().find((d) => d.endsWith('-overrun')) ?? '');
  const { missed } = decodeAll(fx);
  const overrun = fx.stats.reduce((n, s) => n + Number(/^overrun: (\d+)/m.exec(s)?.[1] ?? 'NaN'), 0);
  assert.ok(overrun > 0);
  assert.equal(missed, overrun);
  // What memlens reads from per_cpu/cpuN/stats says the same.
  assert.equal(
    fx.stats.reduce((n, s) => n + lostInStats(parseCpuStats(s)), 0),
    overrun,
  );
  assert.deepEqual(parseCpuStats(fx.stats[1] ?? ''), {
    entries: 252,
    overrun: 11755,
    commitOverrun: 0,
    droppedEvents: 0,
    readEvents: 0,
  });
});

test('streaming at hostile chunk boundaries gives the same records as whole pages', () => {
  for (const name of fixtureDirs()) {
    const fx = loadFixture(name);
    const whole = decodeAll(fx).records;
    for (let seed = 1; seed <= 20; seed++) {
      const chunked = decodeAll(fx, new SeededRandom(seed)).records;
      assert.deepEqual(chunked, whole, `${name} seed ${seed}`);
    }
  }
});

// ---- hand-made pages -------------------------------------------------------------------------

const LAYOUT: PageLayout = {
  timestampOffset: 0,
  commitOffset: 8,
  commitSize: 8,
  dataOffset: 16,
  pageSize: 128,
  littleEndian: true,
};

class PageBuilder {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  at: number;
  constructor(
    readonly layout: PageLayout,
    ts: bigint,
  ) {
    this.bytes = new Uint8Array(layout.pageSize);
    this.view = new DataView(this.bytes.buffer);
    this.view.setBigUint64(0, ts, layout.littleEndian);
    this.at = layout.dataOffset;
  }
  header(typeLen: number, delta: number): void {
    const word = this.layout.littleEndian ? (typeLen | (delta << 5)) >>> 0 : ((typeLen << 27) | delta) >>> 0;
    this.view.setUint32(this.at, word, this.layout.littleEndian);
    this.at += 4;
  }
  u32(v: number): void {
    this.view.setUint32(this.at, v, this.layout.littleEndian);
    this.at += 4;
  }
  data(delta: number, payload: number[]): void {
    this.header(payload.length, delta);
    for (const v of payload) this.u32(v);
  }
  commit(flags = 0, missed?: number): Uint8Array {
    const commit = this.at - this.layout.dataOffset;
    this.view.setBigUint64(8, BigInt(commit | flags) & 0xffffffffn, this.layout.littleEndian);
    if (missed !== undefined) this.view.setBigUint64(this.at, BigInt(missed), this.layout.littleEndian);
    return this.bytes;
  }
}

function collect(
  bytes: Uint8Array,
  layout: PageLayout,
): { ts: bigint[]; payloads: number[][]; summary: ReturnType<typeof decodePage> } {
  const ts: bigint[] = [];
  const payloads: number[][] = [];
  const summary = decodePage(
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    0,
    layout,
    DEFAULT_ENTRY_TYPES,
    (t, v, at, len) => {
      ts.push(t);
      const words: number[] = [];
      for (let i = 0; i < len; i += 4) words.push(v.getUint32(at + i, layout.littleEndian));
      payloads.push(words);
    },
  );
  return { ts, payloads, summary };
}

for (const littleEndian of [true, false]) {
  test(`hand-made page (${littleEndian ? 'little' : 'big'}-endian): long record, padding, time extend, absolute time stamp`, () => {
    const layout = { ...LAYOUT, littleEndian };
    const b = new PageBuilder(layout, 1000n);
    b.data(5, [0xaa]); // ts 1005
    b.header(30, 7); // time extend: + (2 << 27) + 7
    b.u32(2);
    b.data(3, [0xbb, 0xcc]); // ts 1005 + 2^28 + 7 + 3
    b.header(29, 4); // a discarded event: 12 bytes skipped after the header, its delta counted
    b.u32(12);
    b.u32(0xdead);
    b.u32(0xdead);
    b.header(0, 1); // a long record: array[0] = payload + 4
    b.u32(12);
    b.u32(0x11);
    b.u32(0x22);
    b.header(31, 9); // absolute: (1 << 27) + 9, the top 5 bits kept from before
    b.u32(1);
    b.data(2, [0xdd]);
    const { ts, payloads, summary } = collect(b.commit(), layout);
    const afterExtend = 1005n + (2n << 27n) + 7n + 3n;
    assert.deepEqual(ts, [1005n, afterExtend, afterExtend + 4n + 1n, (1n << 27n) + 9n + 2n]);
    assert.deepEqual(payloads, [[0xaa], [0xbb, 0xcc], [0x11, 0x22], [0xdd]]);
    assert.equal(summary.timeExtends, 1);
    assert.equal(summary.timeStamps, 1);
    assert.equal(summary.paddings, 1);
    assert.equal(summary.malformed, 0);
    assert.equal(summary.missedEvents, 0);
  });
}

test('hand-made pages: null padding ends the page, lost-event flags, broken commit and records', () => {
  const b = new PageBuilder(LAYOUT, 50n);
  b.data(1, [1]);
  b.header(29, 0); // null padding: nothing after this counts
  b.data(1, [2]);
  const end = collect(b.commit(), LAYOUT);
  assert.deepEqual(end.payloads, [[1]]);

  const stored = new PageBuilder(LAYOUT, 50n);
  stored.data(1, [1]);
  assert.equal(collect(stored.commit((1 << 31) | (1 << 30), 4242), LAYOUT).summary.missedEvents, 4242);
  const unknown = new PageBuilder(LAYOUT, 50n);
  unknown.data(1, [1]);
  assert.equal(collect(unknown.commit(1 << 31), LAYOUT).summary.missedEvents, -1);

  // A commit larger than the page: the page is malformed, no records.
  const big = new PageBuilder(LAYOUT, 50n);
  big.view.setBigUint64(8, 4000n, true);
  const broken = collect(big.bytes, LAYOUT);
  assert.equal(broken.summary.malformed, 1);
  assert.equal(broken.ts.length, 0);

  // A record that runs past the commit end: the records before it survive, the page counts as malformed.
  const runs = new PageBuilder(LAYOUT, 50n);
  runs.data(1, [7]);
  runs.data(1, [8, 9]);
  const bytes = runs.commit();
  runs.view.setBigUint64(8, BigInt(runs.at - 16 - 4), true);
  const cut = collect(bytes, LAYOUT);
  assert.deepEqual(cut.payloads, [[7]]);
  assert.equal(cut.summary.malformed, 1);
});

test('format parsing: declarations, arrays, data_loc; "not mine" and "mine but broken"', () => {
  const fields = parseFieldLines(
    '\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n',
    'x',
  );
  assert.deepEqual(fields, [
    {
      name: 'filename',
      type: '__data_loc char[]',
      offset: 8,
      size: 4,
      signed: false,
      dataLoc: true,
      arrayLength: undefined,
    },
    { name: 'comm', type: 'char[16]', offset: 12, size: 16, signed: false, dataLoc: false, arrayLength: 16 },
  ]);
  assert.equal(parseEventFormat('hello world\n', 'x'), undefined);
  assert.throws(
    () => parseEventFormat('name: x\nID: 12\nformat:\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n', 'x'),
    /no common_type/,
  );
  assert.throws(
    () => parseEventFormat('name: x\nID: 12\nformat:\n\tfield:int common_type; offset:zz;\n', 'x'),
    /malformed field/,
  );
  assert.throws(() => parsePageLayout('\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n', true), /no "commit"/);
  assert.throws(() => parseEntryHeader('type_len : 6 bits\n'), /type_len:5/);
});
