// tracefs and bpftrace trace the same workload at the same time: the two backends must agree on
// every call (arguments, results, errors, pid vs tid, names) and on the process lifecycle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBpftraceBackend } from '../../src/sources/bpftrace.js';
import { createTracefsBackend } from '../../src/sources/tracefs.js';
import type { LifecycleEvent } from '../../src/wire/events.js';
import { withTraceLock } from '../helpers/trace-lock.js';
import {
  betweenMarkers,
  buildKnownWorkload,
  collect,
  expectedCalls,
  shape,
  spawnKnownWorkload,
} from './known-workload.js';

/** A lifecycle event without its timestamp (the two backends stamp at different instants). */
function life(l: LifecycleEvent): string {
  const { ktimeNs: _t, ...rest } = l;
  return JSON.stringify(rest);
}

// A starting tracefs backend removes instances left by killed runs: hold the machine's tracing lock
// so as not to disturb the test of that.
test('tracefs and bpftrace, run together on the known workload, give the same events', () =>
  withTraceLock(async () => {
    const bin = await buildKnownWorkload();
    const held = spawnKnownWorkload(bin);
    const tracefs = createTracefsBackend({ host: 'h', excludeSelf: false, pids: [held.pid] });
    const bpftrace = createBpftraceBackend({ host: 'h', excludeSelf: false, pids: [held.pid] });
    await tracefs.start();
    try {
      await bpftrace.start();
      const fromTracefs = collect(tracefs);
      const fromBpftrace = collect(bpftrace);
      const r = await held.go();
      await Promise.all([tracefs.stop(), bpftrace.stop()]);
      const a = await fromTracefs;
      const b = await fromBpftrace;

      const callsA = betweenMarkers(a.events, r).map(shape);
      const callsB = betweenMarkers(b.events, r).map(shape);
      // Both against the truth, then against each other over the whole run of the process
      // (including the dynamic loader's calls before the first marker).
      const truth = expectedCalls(r).filter((c) => c.pid === r.pid);
      assert.deepEqual(callsA, truth, 'tracefs');
      assert.deepEqual(callsB, truth, 'bpftrace');
      assert.deepEqual(b.events.map(shape), a.events.map(shape), 'every call of the process, in order');
      for (const [x, y] of a.events.map((e, i) => [e, b.events[i]] as const)) {
        assert.ok(
          y !== undefined && Math.abs(x.timeMs - y.timeMs) <= 2,
          `wall times ${x.timeMs} and ${y?.timeMs ?? 'none'}`,
        );
      }
      assert.deepEqual(b.lifecycle.map(life), a.lifecycle.map(life), 'lifecycle');
      assert.deepEqual(
        a.lifecycle.map((l) => l.kind).sort(),
        ['exec', 'exit', 'fork', 'fork', 'rename', 'rename', 'rename'],
        'exec (and its rename), the process rename, the thread, the child, the end',
      );
    } finally {
      await Promise.all([tracefs.stop(), bpftrace.stop()]);
    }
  }));
