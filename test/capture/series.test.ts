// A capture series (format versions 2 and 3): the BusyBox-made fixture read back snapshot by snapshot,
// series cut short at every byte (a board that lost power), corruption inside a later snapshot,
// and `memlens snapshot --from SERIES`, the change between the first and the last snapshot.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ParseError } from '../../src/base/errors.js';
import { SeriesClock, archivePageSize } from '../../src/parsers/archive-meta.js';
import {
  ARCHIVE_LIMITS,
  ARCHIVE_VERSION,
  ArchiveReader,
  SINGLE_CAPTURE_VERSION,
  parseArchive,
  parseArchiveSeries,
} from '../../src/parsers/archive.js';
import type { SeriesDiffJson } from '../../src/wire/series.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { fixturesDir, repoRoot } from '../helpers/paths.js';
import { writeArchive, writeSeries, type TestRecord } from './archive-writer.js';

const FIXTURE = join(fixturesDir, 'capture', 'series-busybox-1.35-linux-6.18.44.snap.gz');
const bytes = gunzipSync(readFileSync(FIXTURE));
const scratch = mkdtempSync(join(tmpdir(), 'memlens-series-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function parseError(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof ParseError && pattern.test(e.message));
}

test('the format version is named once: the script writes the version the reader calls current', () => {
  const script = readFileSync(join(repoRoot, 'scripts', 'capture.sh'), 'utf8');
  const written = [...script.matchAll(/printf 'memlens-capture (\d+)\\n'/g)].map((m) => Number(m[1]));
  assert.deepEqual(written, [ARCHIVE_VERSION, SINGLE_CAPTURE_VERSION]);
});

test('the BusyBox series reads as 4 snapshots, each complete, in time order', () => {
  const series = parseArchiveSeries(bytes, 'fixture');
  assert.ok(series);
  assert.deepEqual(series.summary, { version: 2, snapshots: 4, truncated: 0, truncatedReason: null });
  const clock = new SeriesClock();
  const times = series.snapshots.map((s) => clock.timeMs(s));
  series.snapshots.forEach((s, k) => {
    assert.equal(s.index, k);
    // What only the first snapshot holds is carried into the others.
    for (const name of ['proc/version', 'proc/sys/kernel/osrelease', 'etc/passwd'])
      assert.deepEqual(s.entries.get(name), series.snapshots[0]?.entries.get(name), `${name} in snapshot ${k}`);
    assert.equal(s.meta.get('every-ms'), '1000');
    assert.equal(s.entries.get('proc/meminfo')?.kind, 'file');
    // No getconf and no smaps: the page size from VmRSS over statm.
    assert.equal(s.meta.get('pagesize'), undefined);
    assert.equal(archivePageSize(s), 4096);
  });
  for (let k = 1; k < times.length; k++) assert.ok((times[k] ?? 0) > (times[k - 1] ?? Infinity), `time ${k}`);
  // The snapshots differ (each its own round), and the last one's own epoch is its own.
  assert.notDeepEqual(
    series.snapshots[0]?.entries.get('proc/meminfo'),
    series.snapshots[3]?.entries.get('proc/meminfo'),
  );
  assert.notEqual(series.snapshots[0]?.meta.get('epoch'), undefined);
  // parseArchive gives the newest snapshot.
  assert.equal(parseArchive(bytes)?.index, 3);
});

test('a series cut at any byte keeps its complete snapshots and counts the partial one', () => {
  const ends: number[] = [];
  for (let k = bytes.indexOf('\nend '); k >= 0; k = bytes.indexOf('\nend ', k + 1))
    ends.push(bytes.indexOf(0x0a, k + 1) + 1);
  assert.equal(ends.length, 4);
  const firstEnd = ends[0] as number;
  // Every byte would be 250,000 parses of up to 250 KB: every 97th, and each side of each boundary.
  const cuts = new Set<number>();
  for (let cut = 1; cut < bytes.length; cut += 97) cuts.add(cut);
  for (const e of ends) for (const d of [-2, -1, 0, 1, 2]) if (e + d > 0 && e + d <= bytes.length) cuts.add(e + d);
  for (const cut of cuts) {
    const part = bytes.subarray(0, cut);
    if (cut < firstEnd) {
      parseError(() => parseArchiveSeries(part), /truncated/);
      continue;
    }
    const r = parseArchiveSeries(part);
    assert.ok(r, `cut ${cut}`);
    const complete = ends.filter((e) => e <= cut).length;
    assert.equal(r.summary.snapshots, complete, `cut ${cut}`);
    assert.equal(r.summary.truncated, ends.includes(cut) ? 0 : 1, `cut ${cut}`);
    assert.equal(r.snapshots.length, complete);
  }
});

const small = (k: number): TestRecord[] => [
  { kind: 'M', name: 'epoch', payload: `${1_800_000_000 + k}\n` },
  { kind: 'F', name: 'proc/meminfo', payload: `MemTotal: 1000 kB\nMemFree: ${500 - k} kB\n` },
  { kind: 'F', name: `proc/${7 + k}/comm`, payload: 'x\n' },
];

test('hand-made: a series cut at every byte, incremental or whole, agrees', () => {
  const series = writeSeries([small(0), small(1), small(2)]);
  for (let cut = 1; cut <= series.length; cut++) {
    const part = series.subarray(0, cut);
    let whole: ReturnType<typeof parseArchiveSeries> | Error;
    try {
      whole = parseArchiveSeries(part);
    } catch (e) {
      whole = e as Error;
    }
    // The same bytes one at a time.
    const got: number[] = [];
    const reader = new ArchiveReader('a', ARCHIVE_LIMITS, (s) => got.push(s.index));
    let byByte: ReturnType<ArchiveReader['finish']> | Error;
    try {
      for (let k = 0; k < part.length; k++) reader.push(part.subarray(k, k + 1));
      byByte = reader.finish();
    } catch (e) {
      byByte = e as Error;
    }
    if (whole instanceof Error) {
      assert.ok(whole instanceof ParseError && /truncated/.test(whole.message), `cut ${cut}: ${whole.message}`);
      assert.ok(byByte instanceof ParseError, `cut ${cut}`);
      continue;
    }
    assert.ok(whole !== undefined && !(byByte instanceof Error) && byByte !== undefined, `cut ${cut}`);
    assert.deepEqual(byByte, whole.summary, `cut ${cut}`);
    assert.deepEqual(
      got,
      whole.snapshots.map((s) => s.index),
    );
  }
});

test('version 3: cmdline and exe carried from the snapshot before while the start time is the same', () => {
  // stat: "pid (comm) state ppid ..." with the start time as field 22.
  const stat = (pid: number, comm: string, start: number): string =>
    `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 ${start} 1000 50 18446744073709551615\n`;
  const first: TestRecord[] = [
    { kind: 'F', name: 'proc/42/stat', payload: stat(42, 'a b) c', 500) },
    { kind: 'F', name: 'proc/42/cmdline', payload: 'server\0--port\0' },
    { kind: 'L', name: 'proc/42/exe', payload: '/usr/bin/server\n' },
    { kind: 'F', name: 'proc/43/stat', payload: stat(43, 'job', 600) },
    { kind: 'F', name: 'proc/43/cmdline', payload: 'job\0' },
    { kind: 'L', name: 'proc/43/exe', payload: '/usr/bin/job\n' },
  ];
  const second: TestRecord[] = [
    { kind: 'F', name: 'proc/42/stat', payload: stat(42, 'a b) c', 500) }, // same process
    { kind: 'F', name: 'proc/43/stat', payload: stat(43, 'job', 777) }, // pid 43 reused
  ];
  const third: TestRecord[] = [{ kind: 'F', name: 'proc/42/stat', payload: stat(42, 'a b) c', 500) }];
  const v3 = parseArchiveSeries(writeSeries([first, second, third], { version: '3' }));
  assert.ok(v3);
  const [, two, three] = v3.snapshots;
  assert.ok(two && three);
  assert.deepEqual(two.entries.get('proc/42/cmdline'), v3.snapshots[0]?.entries.get('proc/42/cmdline'));
  assert.deepEqual(two.entries.get('proc/42/exe'), { kind: 'link', name: 'proc/42/exe', target: '/usr/bin/server' });
  // Carried again from the snapshot that carried it.
  assert.deepEqual(three.entries.get('proc/42/exe'), two.entries.get('proc/42/exe'));
  // Another process under a reused pid: nothing of the old one.
  assert.equal(two.entries.get('proc/43/cmdline'), undefined);
  assert.equal(two.entries.get('proc/43/exe'), undefined);
  // Version 2 never carried them.
  const v2 = parseArchiveSeries(writeSeries([first, second], { version: '2' }));
  assert.equal(v2?.snapshots[1]?.entries.get('proc/42/cmdline'), undefined);
});

test('hand-made: corruption inside a later snapshot is an error, not a truncation', () => {
  parseError(
    () => parseArchiveSeries(writeSeries([small(0), small(1)], { endCounts: [3, 2] })),
    /end marker counts 2 records but the snapshot holds 3/,
  );
  const text = new TextDecoder().decode(writeSeries([small(0), small(1)]));
  const cases: [string, RegExp][] = [
    [text.replace(/F 2 proc\/8\/comm/, 'F 2 proc/8/com m'), /bad record header/],
    [text.replace(/(end 3\n[^]*)proc\/8\/comm/, '$1proc/meminfo'), /proc\/meminfo appears twice/],
    [`${text}X 1 y\n`, /bad record header/],
  ];
  for (const [edited, pattern] of cases) {
    assert.notEqual(edited, text, String(pattern));
    parseError(() => parseArchiveSeries(new TextEncoder().encode(edited)), pattern);
  }
  // A version 1 archive is one snapshot: data after its end marker is corruption, as before.
  parseError(
    () => parseArchiveSeries(new Uint8Array([...writeArchive(small(0)), ...new TextEncoder().encode('F 1 x\n')])),
    /data after the end marker/,
  );
  // Not an archive at all: undefined, whatever the version.
  assert.equal(parseArchiveSeries(new TextEncoder().encode('memlens-captura 2\n')), undefined);
});

test('hand-made: the bounds apply per snapshot, and to the number of snapshots', () => {
  const limits = { ...ARCHIVE_LIMITS, maxSnapshots: 2 };
  parseError(
    () => parseArchiveSeries(writeSeries([small(0), small(1), small(2)]), 'a', limits),
    /more than the limit of 2 snapshots/,
  );
  const one = writeSeries([small(0)]).length;
  // Each snapshot fits a bound the whole series is over.
  const perSnapshot = { ...ARCHIVE_LIMITS, maxArchiveBytes: one };
  assert.equal(parseArchiveSeries(writeSeries([small(0), small(0), small(0)]), 'a', perSnapshot)?.summary.snapshots, 3);
  parseError(
    () =>
      parseArchiveSeries(
        writeSeries([small(0), [...small(0), { kind: 'F', name: 'proc/1/x', payload: 'y'.repeat(200) }]]),
        'a',
        perSnapshot,
      ),
    /snapshot longer than the limit/,
  );
});

test('snapshot --from SERIES --json: who grew, who started and exited, the ledger change', async () => {
  const path = join(scratch, 'series.snap.gz');
  writeFileSync(path, readFileSync(FIXTURE));
  const r = await runCliInProcess(['snapshot', '--from', path, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as SeriesDiffJson;
  assert.equal(d.kind, 'series-diff');
  assert.equal(d.schema, 1);
  assert.equal(d.snapshots, 4);
  assert.equal(d.truncated, 0);
  assert.deepEqual([d.first.index, d.last.index], [0, 3]);
  assert.ok(d.spanMs > 2000 && d.spanMs < 10_000, `span ${d.spanMs}`);
  // The growing shell is the first row, by about 1 MiB (64 KiB every 0.2 s for 3 s).
  const top = d.processes[0];
  assert.equal(top?.pid, 2);
  assert.ok((top.pss.changeBytes ?? 0) > 512 * 1024, `pss change ${top.pss.changeBytes}`);
  assert.equal(top.pss.changeBytes, (top.pss.lastBytes ?? 0) - (top.pss.firstBytes ?? 0));
  assert.ok(
    d.started.some((p) => p.name === 'sleep'),
    'the sleep 30 started during the series',
  );
  assert.ok(
    d.exited.some((p) => p.pid === 3 && p.name === 'sleep'),
    'the sleep 1.5 exited',
  );
  for (const p of [...d.processes]) assert.ok(!d.started.some((s) => s.pid === p.pid && s.startTicks === p.startTicks));
  // The ledger's items, in both snapshots, each change last − first.
  assert.ok(d.ledger.length > 5);
  for (const l of d.ledger) assert.equal(l.changeBytes, (l.lastBytes ?? 0) - (l.firstBytes ?? 0), l.key);
  assert.equal(d.memTotalBytes.changeBytes, 0);

  const text = await runCliInProcess(['snapshot', '--from', path]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /4 snapshots over 3\.\d+s/);
  assert.match(text.stdout, /Started during the series .*: 1/);
  assert.match(text.stdout, /^\s+2 +busybox +\S+ \S+ +\S+ \S+ +\+/m);
  assert.equal((await runCliInProcess(['snapshot', '--from', path, '--csv'])).code, 2);
});

test('snapshot --from a series cut short: the complete snapshots, and a note', async () => {
  const cutAt = bytes.lastIndexOf('\nend ') - 100;
  const path = join(scratch, 'cut.snap');
  writeFileSync(path, bytes.subarray(0, cutAt));
  const r = await runCliInProcess(['snapshot', '--from', path, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as SeriesDiffJson;
  assert.equal(d.snapshots, 3);
  assert.equal(d.truncated, 1);
  assert.equal(d.last.index, 2);
  const text = await runCliInProcess(['snapshot', '--from', path]);
  assert.match(text.stdout, /cut short\): 1 skipped/);
  // Cut inside the first snapshot: an error, as for one snapshot.
  writeFileSync(path, bytes.subarray(0, 2000));
  const bad = await runCliInProcess(['snapshot', '--from', path]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /truncated/);
});
