// Attribution rules of the process table and the enter/exit pairing, on hand-made record sequences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errnoName } from '../../src/base/errno-names.js';
import { memCallError } from '../../src/parsers/mem-call-result.js';
import { PidSelection } from '../../src/parsers/trace/pid-selection.js';
import { ProcessTable } from '../../src/parsers/trace/process-table.js';
import { TraceAssembler } from '../../src/parsers/trace/trace-assembler.js';
import type { EnterRecord, RawTraceRecord } from '../../src/parsers/tracefs/trace-records.js';
import type { TraceBatch } from '../../src/wire/events.js';

let clock = 0n;
const t = () => (clock += 1000n);
const enter = (tid: number, call: EnterRecord['call'] = 'mmap', len = 4096n): RawTraceRecord => ({
  kind: 'enter',
  ktimeNs: t(),
  tid,
  call,
  addr: 0n,
  lengthBytes: len,
  prot: 3,
  flags: 0x22,
  fd: -1,
  newLengthBytes: null,
  newAddr: null,
});
const exit = (tid: number, ret: bigint, call: EnterRecord['call'] = 'mmap'): RawTraceRecord => ({
  kind: 'exit',
  ktimeNs: t(),
  tid,
  call,
  ret,
});

function run(
  table: ProcessTable,
  records: RawTraceRecord[],
  pids?: number[],
  follow = false,
): { batch: TraceBatch; assembler: TraceAssembler } {
  const assembler = new TraceAssembler(table, {
    host: 'h',
    wallClockMs: () => 0,
    ...(pids ? { pids: new PidSelection(pids, follow) } : {}),
  });
  const batch: TraceBatch = { events: [], lifecycle: [] };
  for (const r of records) assembler.push(r, batch);
  return { batch, assembler };
}

test('a thread is attributed to its process; names come from the leader and the thread', () => {
  const table = new ProcessTable();
  table.seed([
    { tid: 100, tgid: 100, comm: 'server' },
    { tid: 101, tgid: 100, comm: 'worker 1' },
  ]);
  const { batch } = run(table, [
    enter(101),
    exit(101, 0x7000n),
    { kind: 'newtask', ktimeNs: t(), parentTid: 101, tid: 102, comm: 'worker 1', cloneFlags: 0x3d0f00n },
    enter(102),
    exit(102, 0x8000n),
  ]);
  assert.deepEqual(
    batch.events.map((e) => [e.pid, e.tid, e.name, e.thread]),
    [
      [100, 101, 'server', 'worker 1'],
      [100, 102, 'server', 'worker 1'],
    ],
  );
  assert.deepEqual(batch.lifecycle[0], {
    kind: 'fork',
    ktimeNs: batch.lifecycle[0]?.ktimeNs,
    parentPid: 100,
    childPid: 100,
    childTid: 102,
    isThread: true,
    name: 'server',
  });
});

test('renames: a thread rename leaves the process name; the leader rename changes it', () => {
  const table = new ProcessTable();
  table.seed([
    { tid: 200, tgid: 200, comm: 'app' },
    { tid: 201, tgid: 200, comm: 'app' },
  ]);
  const { batch } = run(table, [
    { kind: 'rename', ktimeNs: t(), tid: 201, oldComm: 'app', newComm: 'io' },
    enter(201),
    exit(201, 0x1000n),
    { kind: 'rename', ktimeNs: t(), tid: 200, oldComm: 'app', newComm: 'app-main' },
    enter(201),
    exit(201, 0x2000n),
  ]);
  assert.deepEqual(
    batch.events.map((e) => [e.name, e.thread]),
    [
      ['app', 'io'],
      ['app-main', 'io'],
    ],
  );
});

test('exec by a non-leader thread: it takes over the pid; the other threads are gone', () => {
  const table = new ProcessTable();
  table.seed([
    { tid: 300, tgid: 300, comm: 'old' },
    { tid: 301, tgid: 300, comm: 'old-t' },
  ]);
  const { batch } = run(table, [
    { kind: 'rename', ktimeNs: t(), tid: 300, oldComm: 'old-t', newComm: 'new' },
    { kind: 'exec', ktimeNs: t(), pid: 300, oldPid: 301, filename: '/usr/bin/new' },
    enter(300),
    exit(300, 0x3000n),
  ]);
  assert.deepEqual(
    batch.events.map((e) => [e.pid, e.tid, e.name, e.thread]),
    [[300, 300, 'new', 'new']],
  );
  assert.equal(batch.lifecycle.find((l) => l.kind === 'exec')?.name, 'new');
});

test('without task_rename the exec name is the basename cut to 15 bytes', () => {
  const table = new ProcessTable(undefined, false);
  table.seed([{ tid: 400, tgid: 400, comm: 'sh' }]);
  const { batch } = run(table, [
    { kind: 'exec', ktimeNs: t(), pid: 400, oldPid: 400, filename: '/opt/a-very-long-program-name' },
    enter(400),
    exit(400, 0x4000n),
  ]);
  assert.equal(batch.events[0]?.name, 'a-very-long-pro');
});

test('a process forked by an excluded one is excluded too; --pid keeps only its processes', () => {
  const table = new ProcessTable();
  table.seed(
    [
      { tid: 500, tgid: 500, comm: 'memlens' },
      { tid: 600, tgid: 600, comm: 'other' },
    ],
    [500],
  );
  const { batch } = run(table, [
    { kind: 'newtask', ktimeNs: t(), parentTid: 500, tid: 501, comm: 'memlens', cloneFlags: 0x1200000n },
    enter(501),
    exit(501, 0x5000n),
    enter(600),
    exit(600, 0x6000n),
  ]);
  assert.deepEqual(
    batch.events.map((e) => e.pid),
    [600],
  );
  const only = run(new ProcessTable(), [enter(700), exit(700, 1n), enter(701), exit(701, 2n)], [701]);
  assert.deepEqual(
    only.batch.events.map((e) => e.pid),
    [701],
  );
});

test('pairing: errors named, brk failure, exits without entries and lost exits counted', () => {
  const table = new ProcessTable();
  table.seed([{ tid: 800, tgid: 800, comm: 'p' }]);
  const brkEnter: RawTraceRecord = {
    kind: 'enter',
    ktimeNs: t(),
    tid: 800,
    call: 'brk',
    addr: 0x1000n,
    lengthBytes: 0n,
    prot: null,
    flags: null,
    fd: null,
    newLengthBytes: null,
    newAddr: null,
  };
  const { batch, assembler } = run(table, [
    exit(800, 0n, 'munmap'), // in flight when tracing started
    enter(800),
    exit(800, -9n),
    brkEnter,
    exit(800, 0x5555000n, 'brk'),
    enter(800), // its exit was lost
    enter(800, 'munmap'),
    exit(800, 0n, 'munmap'),
    enter(800),
    { kind: 'task-exit', ktimeNs: t(), tid: 800, comm: 'p', groupDead: true },
  ]);
  assert.deepEqual(
    batch.events.map((e) => [e.call, e.result, e.error]),
    [
      ['mmap', -9n, 'EBADF'],
      ['brk', 0x5555000n, 'ENOMEM'],
      ['munmap', 0n, null],
    ],
  );
  assert.equal(assembler.unpaired, 3);
  assert.deepEqual(batch.lifecycle, [
    { kind: 'exit', ktimeNs: batch.lifecycle[0]?.ktimeNs, pid: 800, tid: 800, name: 'p' },
  ]);
  // An unknown thread that /proc cannot explain either is still counted, as its own process named "?".
  const lone = run(new ProcessTable(() => undefined), [enter(900), exit(900, 0x9000n)]);
  assert.deepEqual(
    lone.batch.events.map((e) => [e.pid, e.name]),
    [[900, '?']],
  );
});

test('errno names and the IS_ERR_VALUE range', () => {
  assert.equal(errnoName(9), 'EBADF');
  assert.equal(errnoName(12), 'ENOMEM');
  assert.equal(errnoName(4000), 'E4000');
  assert.equal(memCallError('mmap', 0n, -1n), 'EPERM');
  assert.equal(memCallError('mmap', 0n, -4095n), 'E4095');
  assert.equal(memCallError('mmap', 0n, -4096n), null); // an address in the top page range, not an error
  assert.equal(memCallError('mremap', 0n, 0x7f0000000000n), null);
  // brk never returns -errno: an unchanged break is its failure, brk(0) a query.
  assert.equal(memCallError('brk', 0x5000n, 0x4000n), 'ENOMEM');
  assert.equal(memCallError('brk', 0n, 0x4000n), null);
});

test('--pid with --follow: the forks of a selected process, and theirs, are kept; a reused pid is not', () => {
  // fork(2) as glibc calls clone: SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID, no CLONE_THREAD.
  const fork = (parentTid: number, tid: number): RawTraceRecord => ({
    kind: 'newtask',
    ktimeNs: t(),
    parentTid,
    tid,
    comm: 'sh',
    cloneFlags: 0x1200011n,
  });
  const gone = (tid: number): RawTraceRecord => ({ kind: 'task-exit', ktimeNs: t(), tid, comm: 'sh', groupDead: true });
  const records = (): RawTraceRecord[] => [
    enter(900),
    exit(900, 1n),
    fork(900, 901), // child
    enter(901),
    exit(901, 2n),
    fork(901, 902), // grandchild
    enter(902),
    exit(902, 3n),
    fork(950, 951), // an unrelated process's child
    enter(951),
    exit(951, 4n),
    gone(902),
    fork(950, 902), // pid 902 reused by an unrelated process
    enter(902),
    exit(902, 5n),
  ];
  const seeded = (): ProcessTable => {
    const table = new ProcessTable();
    table.seed([
      { tid: 900, tgid: 900, comm: 'sh' },
      { tid: 950, tgid: 950, comm: 'other' },
    ]);
    return table;
  };
  const followed = run(seeded(), records(), [900], true);
  assert.deepEqual(
    followed.batch.events.map((e) => [e.pid, e.result]),
    [
      [900, 1n],
      [901, 2n],
      [902, 3n],
    ],
  );
  assert.deepEqual(
    followed.batch.lifecycle.map((l) =>
      l.kind === 'fork' ? `fork ${l.parentPid}>${l.childPid}` : `${l.kind} ${l.pid}`,
    ),
    ['fork 900>901', 'fork 901>902', 'exit 902'],
  );
  // Without --follow only the given pid.
  const alone = run(seeded(), records(), [900]);
  assert.deepEqual(
    alone.batch.events.map((e) => [e.pid, e.result]),
    [[900, 1n]],
  );
});
