// What tracing reads from /proc (TraceProc, startTime) comes through a ProcSource: a fixture tree
// and a capture archive of the same files stand in for /proc, and both give the same answers.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { parseArchive } from '../../src/parsers/archive.js';
import { parseComm } from '../../src/parsers/proc/comm.js';
import { archiveSource } from '../../src/sources/archive.js';
import type { ProcSource } from '../../src/sources/proc-source.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { startTime, TraceProc } from '../../src/sources/trace-proc.js';
import { writeArchive, type TestRecord } from '../capture/archive-writer.js';
import { MEMLOAD_CHILDREN, MEMLOAD_PARENT, readFixtureBytes, vmDir } from '../proc/fixtures.js';

// The captured tree has no task/ directories: each process gets one thread, itself, as a
// single-threaded process has.
const tree = mkdtempSync(join(tmpdir(), 'memlens-trace-proc-'));
after(() => rmSync(tree, { recursive: true, force: true }));
cpSync(vmDir, tree, { recursive: true });
const pids = readdirSync(tree).filter((n) => /^\d+$/.test(n));
for (const pid of pids) {
  mkdirSync(join(tree, pid, 'task', pid), { recursive: true });
  cpSync(join(tree, pid, 'comm'), join(tree, pid, 'task', pid, 'comm'));
}

function archiveOf(dir: string): ProcSource {
  const records: TestRecord[] = [
    { kind: 'M', name: 'time', payload: '2026-11-23T10:00:00Z\n' },
    { kind: 'M', name: 'pagesize', payload: '4096\n' },
  ];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else records.push({ kind: 'F', name: `proc/${relative(dir, p)}`, payload: readFileSync(p) });
    }
  };
  walk(dir);
  const archive = parseArchive(writeArchive(records));
  assert.ok(archive, 'the hand-made archive parses');
  return archiveSource(archive, 'trace-proc.snap');
}

const sources: [string, ProcSource][] = [
  ['a fixture tree', openLiveProcSource(tree)],
  ['an archive', archiveOf(tree)],
];

async function answers(source: ProcSource) {
  const proc = new TraceProc(source);
  const child = MEMLOAD_CHILDREN[0] ?? 0;
  return {
    tasks: (await proc.listTasks()).sort((a, b) => a.tid - b.tid),
    child: proc.resolveThread(child),
    unknown: proc.resolveThread(999999),
    descendants: [...(await proc.descendantsOf(MEMLOAD_PARENT))].sort((a, b) => a - b),
    seed: await proc.readProcessSeed(child),
    totalVirtualBytes: await proc.totalVirtualBytes(),
    pageSizeBytes: await proc.pageSizeBytes(),
    startTime: startTime(child, source),
  };
}

for (const [what, source] of sources) {
  test(`TraceProc reads ${what} in place of /proc`, async () => {
    const a = await answers(source);
    const child = MEMLOAD_CHILDREN[0] ?? 0;
    const comm = parseComm(readFixtureBytes('vm-6.18', String(child), 'comm'));
    assert.equal(a.tasks.length, pids.length);
    assert.deepEqual(
      a.tasks.find((t) => t.tid === child),
      { tid: child, tgid: child, comm },
    );
    assert.deepEqual(a.child, { tid: child, tgid: child, comm });
    assert.equal(a.unknown, undefined, 'a thread that is not there');
    assert.deepEqual(
      a.descendants,
      [MEMLOAD_PARENT, ...MEMLOAD_CHILDREN].sort((x, y) => x - y),
    );
    assert.ok(a.seed, 'the process has a seed');
    assert.equal(a.seed.name, comm);
    assert.ok(a.seed.ranges.length > 0, 'the seed has the mapped ranges of maps');
    assert.ok(a.totalVirtualBytes > 0n);
    assert.equal(a.pageSizeBytes, 4096n);
    // Field 22 of the fixture's 5052/stat.
    assert.equal(a.startTime, '108993');
  });
}

test('a fixture tree and an archive of it give tracing the same answers', async () => {
  const [tree0, archive0] = sources;
  assert.ok(tree0 && archive0);
  assert.deepEqual(await answers(archive0[1]), await answers(tree0[1]));
});
