// /metrics: the exact Content-Type Prometheus 3 requires, and output that obeys the text
// exposition format (checked line by line by a small parser of the format's rules).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { programGroups } from '../../src/server/aggregate.js';
import type { ProcessRow } from '../../src/wire/messages.js';
import { parseExposition } from './exposition.js';
import { makeHarness } from './harness.js';

describe('/metrics', async () => {
  const h = await makeHarness('127.0.0.1', null);
  after(() => h.server.close());

  test('Content-Type is exactly the text format 0.0.4', async () => {
    const r = await h.server.app.inject({ url: '/metrics', headers: { host: '127.0.0.1' } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  });

  test('ledger gauges, per-program memory without pids, tracer counters', async () => {
    h.state.addEvents([]);
    const text = (await h.server.app.inject({ url: '/metrics', headers: { host: '127.0.0.1' } })).body;
    const f = parseExposition(text);
    const mem = f.get('memlens_memory_bytes');
    assert.equal(mem?.type, 'gauge');
    assert.deepEqual(mem.samples.map((s) => s.labels.category).sort(), ['free', 'kernel', 'page cache', 'processes']);
    // The categories partition MemTotal: their sum is MemTotal.
    assert.equal(
      mem.samples.reduce((s, x) => s + x.value, 0),
      f.get('memlens_mem_total_bytes')?.samples[0]?.value,
    );
    const prog = f.get('memlens_program_memory_bytes');
    assert.equal(prog?.type, 'gauge');
    for (const s of prog.samples) {
      assert.deepEqual(Object.keys(s.labels).sort(), ['memtype', 'program']);
      assert.ok(['resident', 'proportional_resident', 'swapped', 'requested'].includes(s.labels.memtype ?? ''));
    }
    // The hostile process name is a label value, escaped by the format, not a broken line.
    assert.ok(prog.samples.some((s) => s.labels.program === '<i id=pwn>x'));
    const calls = f.get('memlens_traced_calls_total');
    assert.equal(calls?.type, 'counter');
    assert.deepEqual(calls.samples.map((s) => s.labels.call).sort(), ['brk', 'mmap', 'mprotect', 'mremap', 'munmap']);
    assert.equal(f.get('memlens_trace_lost_events_total')?.type, 'counter');
    assert.equal(f.get('memlens_tracing_up')?.samples[0]?.value, 1);
    for (const name of f.keys()) {
      assert.match(name, /^memlens_[a-z0-9_]+$/);
      assert.ok(!/_(kb|mb|ms|percent)(_|$)/.test(name), `${name}: base units only`);
    }
    assert.ok(!/\bpid="/.test(text), 'no pid label');
  });

  test('counters count what the tracer delivered', async () => {
    h.state.addEvents([1, 2, 3].map((i) => ({ ...eventLike(i), call: 'munmap' as const })));
    const f = parseExposition((await h.server.app.inject({ url: '/metrics', headers: { host: '127.0.0.1' } })).body);
    assert.equal(f.get('memlens_traced_calls_total')?.samples.find((s) => s.labels.call === 'munmap')?.value, 3);
  });
});

function eventLike(i: number) {
  return {
    timeMs: i,
    ktimeNs: BigInt(i),
    host: 'testhost',
    pid: 1,
    tid: 1,
    name: 'x',
    thread: 'x',
    call: 'mmap' as const,
    addr: 0n,
    lengthBytes: 4096n,
    prot: null,
    flags: null,
    fd: null,
    result: 0n,
    error: null,
    newLengthBytes: null,
    newAddr: null,
  };
}

describe('program groups for /metrics', () => {
  const row = (pid: number, name: string, rss: number, pss: number | null): ProcessRow => ({
    pid,
    name,
    cmdline: null,
    requestedBytes: null,
    reservedBytes: null,
    requestedRatio: null,
    mappedNowBytes: null,
    rssBytes: rss,
    pssBytes: pss,
    ussBytes: null,
    swapBytes: 0,
    sampledAtMs: 0,
    pssAtMs: 0,
    calls: null,
    alive: true,
    unavailable: {},
  });

  test('top N by RSS plus "other": a partition whose sum is the whole', () => {
    const rows = [
      row(1, 'a', 50, 10),
      row(2, 'a', 50, 10),
      row(3, 'b', 70, null),
      row(4, 'c', 5, 1),
      row(5, 'd', 1, 1),
      row(6, 'other', 2, 2),
    ];
    const groups = programGroups(rows, 2);
    assert.deepEqual(
      groups.map((g) => [g.program, g.processes, g.rssBytes, g.pssBytes]),
      [
        ['a', 2, 100, 20],
        ['b', 1, 70, null],
        ['other', 3, 8, 4],
      ],
    );
    assert.equal(
      groups.reduce((s, g) => s + g.rssBytes, 0),
      rows.reduce((s, r) => s + (r.rssBytes ?? 0), 0),
    );
  });
});

test('before the first /proc sample, figures not known yet have no sample (never a 0)', async () => {
  const h = await makeHarness('127.0.0.1', null, { sampled: false });
  try {
    const f = parseExposition((await h.server.app.inject({ url: '/metrics', headers: { host: '127.0.0.1' } })).body);
    for (const name of [
      'memlens_mem_total_bytes',
      'memlens_swap_total_bytes',
      'memlens_sample_age_seconds',
      'memlens_sample_cpu_seconds',
      'memlens_memory_bytes',
    ]) {
      assert.deepEqual(f.get(name)?.samples ?? [], [], name);
    }
    // Known figures are still there.
    assert.equal(f.get('memlens_sample_interval_seconds')?.samples[0]?.value, 2);
  } finally {
    await h.server.close();
  }
});
