// The captured workload trace (fixtures/tracefs/*-known) through the whole user-space pipeline:
// decoder → CPU merge by timestamp → process table → pairing → events and per-process accounts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcessAccounts } from '../../src/analyses/trace/process-accounts.js';
import { ProcessTable } from '../../src/parsers/trace/process-table.js';
import { TraceAssembler } from '../../src/parsers/trace/trace-assembler.js';
import { PageStream } from '../../src/parsers/tracefs/page-stream.js';
import { RecordDecoder } from '../../src/parsers/tracefs/record-decoder.js';
import type { RawTraceRecord } from '../../src/parsers/tracefs/trace-records.js';
import type { TraceBatch } from '../../src/wire/events.js';
import { eventToJson } from '../../src/wire/events.js';
import { fixtureDirs, loadFixture } from './fixture-loader.js';
import { checkWorkloadEvents, parseDone } from './known-workload.js';

test('captured workload: events, names, errors and lifecycle come out exactly as the workload made them', () => {
  const name = fixtureDirs().find((d) => d.endsWith('-known'));
  assert.ok(name);
  const fx = loadFixture(name);
  const ids = parseDone(readFileSync(join(fx.dir, 'workload.txt'), 'utf8').split('\n')[1] ?? '');
  const decoder = new RecordDecoder(fx.formats, true);
  const records: RawTraceRecord[] = [];
  for (const bytes of fx.cpus) {
    const s = new PageStream(fx.layout, fx.types, (ts, v, at, len) => {
      const r = decoder.decode(ts, v, at, len);
      if (r) records.push(r);
    });
    s.push(bytes);
  }
  records.sort((a, b) => (a.ktimeNs < b.ktimeNs ? -1 : a.ktimeNs > b.ktimeNs ? 1 : 0));
  // The workload existed before tracing started: the live backend seeds it from /proc.
  const table = new ProcessTable();
  table.seed([{ tid: ids.pid, tgid: ids.pid, comm: 'mmap-known' }]);
  const assembler = new TraceAssembler(table, { host: 'test', wallClockMs: (ns) => Number(ns / 1_000_000n) });
  const batch: TraceBatch = { events: [], lifecycle: [] };
  for (const r of records) assembler.push(r, batch);
  assert.equal(assembler.unpaired, 0);
  assert.equal(table.unresolved, 0);
  checkWorkloadEvents(batch.events.map(eventToJson), ids);

  assert.deepEqual(
    batch.lifecycle.map((l) => [l.kind, 'pid' in l ? l.pid : l.childPid, 'name' in l ? l.name : l.newName]),
    [
      ['fork', ids.pid, 'mmap-known'],
      ['rename', ids.pid, 'mlworker'],
      ['fork', ids.childPid, 'mmap-known'],
      ['rename', ids.childPid, 'mlforked'],
      ['rename', ids.childPid, 'mlexec'],
      ['exec', ids.childPid, 'mlexec'],
      ['exit', ids.childPid, 'mlexec'],
      ['exit', ids.pid, 'mmap-known'],
    ],
  );

  const accounts = new ProcessAccounts(4096n);
  accounts.seed([{ pid: ids.pid, name: 'mmap-known', ranges: [], reserved: [], brk: undefined }]);
  accounts.apply(batch);
  const rows = accounts.rows(1n << 34n);
  const parent = rows.find((r) => r.pid === ids.pid);
  // At exit, from the model (seeded empty): b grown to 0xd000, what is left of c (0x2000 + 0x4000,
  // the MAP_FIXED page replacing one of its own), and the heap one page above its start.
  assert.equal(parent?.requestedBytes, 0xd000n + 0x6000n + 0x1000n);
  // The worker's stack: glibc maps it PROT_NONE (nptl allocate_stack) and then makes all but the
  // guard page read-write with mprotect, which this capture predates: all of it stays reserved.
  const stack = batch.events.find((e) => e.pid === ids.pid && e.call === 'mmap' && e.lengthBytes === 0x801000n);
  assert.equal(stack?.prot, 0);
  assert.equal(parent.reservedBytes, 0x801000n);
  assert.equal(parent.failedCalls, 2); // the EBADF mmap and brk(1)
  assert.equal(parent.exited, true);
  assert.equal(parent.mappedNowBytes, null);
  const child = rows.find((r) => r.pid === ids.childPid);
  assert.equal(child?.name, 'mlexec');
  assert.equal(child.exited, true);
});
