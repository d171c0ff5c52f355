// The capture archive parser: hand-made archives (from an independent writer), a real capture,
// hostile chunk boundaries, every truncation and random corruption.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ParseError } from '../../src/base/errors.js';
import { SeededRandom, randomChunks } from '../../src/base/random.js';
import { archiveHostname, archivePageSize, archiveStats, archiveTime } from '../../src/parsers/archive-meta.js';
import { ArchiveReader, parseArchive, type CaptureArchive } from '../../src/parsers/archive.js';
import { fixturesDir } from '../helpers/paths.js';
import { writeArchive, type TestRecord } from './archive-writer.js';

const FIXTURE = join(fixturesDir, 'capture', 'busybox-1.35-linux-6.18.44.snap');
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

const binary = Uint8Array.from([0x62, 0x61, 0x73, 0x68, 0, 0x2d, 0x63, 0, 0xff, 0xfe, 0x0a, 0]);
const RECORDS: TestRecord[] = [
  { kind: 'M', name: 'time', payload: '2026-11-23T10:00:00Z\n' },
  { kind: 'M', name: 'pagesize', payload: '4096\n' },
  { kind: 'F', name: 'proc/meminfo', payload: 'MemTotal:       24684084 kB\n' },
  { kind: 'F', name: 'proc/7/cmdline', payload: binary },
  // A payload that itself looks like headers and an end marker must stay payload.
  { kind: 'F', name: 'proc/7/comm', payload: 'x\nend 0\nF 3 y\n' },
  { kind: 'F', name: 'proc/7/smaps', payload: '' },
  { kind: 'L', name: 'proc/7/exe', payload: '/usr/bin/we ird (deleted)\n' },
  {
    kind: 'E',
    name: 'proc/7/smaps_rollup',
    payload: "permission cat: can't open '/proc/7/smaps_rollup': Permission denied\n",
  },
  { kind: 'E', name: 'proc/8/status', payload: 'missing cat: No such file or directory\n' },
];

function summary(a: CaptureArchive | undefined): unknown {
  if (!a) return undefined;
  return {
    version: a.version,
    records: a.recordCount,
    meta: [...a.meta],
    entries: [...a.entries.values()].map((e) => (e.kind === 'file' ? { ...e, data: [...e.data] } : e)),
  };
}

function parseError(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ParseError, `expected a ParseError, got ${String(e)}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test('hand-made archive: files (binary), links, unreadable files and metadata', () => {
  const a = parseArchive(writeArchive(RECORDS));
  assert.ok(a);
  assert.equal(a.version, 1);
  assert.equal(a.recordCount, RECORDS.length);
  assert.equal(a.meta.get('time'), '2026-11-23T10:00:00Z');
  assert.equal(a.meta.get('pagesize'), '4096');
  const cmdline = a.entries.get('proc/7/cmdline');
  assert.ok(cmdline?.kind === 'file');
  assert.deepEqual([...cmdline.data], [...binary]);
  const comm = a.entries.get('proc/7/comm');
  assert.ok(comm?.kind === 'file');
  assert.equal(decode(comm.data), 'x\nend 0\nF 3 y\n');
  const smaps = a.entries.get('proc/7/smaps');
  assert.ok(smaps?.kind === 'file');
  assert.equal(smaps.data.length, 0);
  assert.deepEqual(a.entries.get('proc/7/exe'), {
    kind: 'link',
    name: 'proc/7/exe',
    target: '/usr/bin/we ird (deleted)',
  });
  assert.deepEqual(a.entries.get('proc/7/smaps_rollup'), {
    kind: 'unreadable',
    name: 'proc/7/smaps_rollup',
    reason: 'permission',
    message: "cat: can't open '/proc/7/smaps_rollup': Permission denied",
  });
  const status = a.entries.get('proc/8/status');
  assert.ok(status?.kind === 'unreadable');
  assert.equal(status.reason, 'missing');
  assert.equal(archivePageSize(a), 4096);
  assert.equal(archiveTime(a)?.toISOString(), '2026-11-23T10:00:00.000Z');
});

test('not an archive: undefined, not an error', () => {
  const enc = new TextEncoder();
  for (const text of ['', 'MemTotal:       24684084 kB\n', 'memlens\n', 'memlens-capturX 1\n', '{"schema": 1}']) {
    assert.equal(parseArchive(enc.encode(text)), undefined, JSON.stringify(text));
  }
  // A tar header (smemcap's output) and gzip bytes are someone else's formats.
  const tar = new Uint8Array(512);
  tar.set(enc.encode('proc/meminfo'));
  assert.equal(parseArchive(tar), undefined);
  assert.equal(parseArchive(gzipSync(writeArchive(RECORDS))), undefined);
});

test('every chunking of an archive gives the same result as one read', () => {
  const bytes = writeArchive(RECORDS);
  const whole = summary(parseArchive(bytes));
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new SeededRandom(seed);
    const reader = new ArchiveReader();
    for (const chunk of randomChunks(bytes, rng, 1 + (seed % 40))) reader.push(chunk);
    assert.deepEqual(summary(reader.end()), whole, `seed ${seed}`);
  }
  // Byte by byte as well: every boundary at once.
  const reader = new ArchiveReader();
  for (let k = 0; k < bytes.length; k++) reader.push(bytes.subarray(k, k + 1));
  assert.deepEqual(summary(reader.end()), whole);
});

test('truncation at every byte is one clear ParseError', () => {
  const bytes = writeArchive(RECORDS);
  for (let cut = 1; cut < bytes.length; cut++) {
    parseError(() => parseArchive(bytes.subarray(0, cut)), /truncated/);
  }
});

test('specific corruptions are named', () => {
  const enc = new TextEncoder();
  // Text-only records, so that string edits cannot disturb binary payloads.
  const textRecords = RECORDS.filter((r) => typeof r.payload === 'string');
  const good = decode(writeArchive(textRecords));
  const cases: [string, RegExp][] = [
    [good.replace('memlens-capture 1', 'memlens-capture 4'), /version 4 is not supported/],
    [good.replace('memlens-capture 1', 'memlens-capture one'), /bad first line/],
    // One byte short: the payload's own final newline passes as the separator, and the real
    // separator then reads as an empty header.
    [good.replace('F 28 proc/meminfo', 'F 27 proc/meminfo'), /bad record header ""/],
    [good.replace('F 28 proc/meminfo', 'F 29 proc/meminfo'), /proc\/meminfo is not followed by a newline/],
    [good.replace('F 28 proc/meminfo', 'X 28 proc/meminfo'), /bad record header/],
    [good.replace('F 28 proc/meminfo', 'F 28 proc/mem info'), /bad record header/],
    [good.replace(`end ${textRecords.length}`, 'end 3'), /end marker counts 3 records but the archive holds 8/],
    [`${good}F 1 x\n`, /data after the end marker/],
    [good.replace('\npermission cat', '\npermissio! cat'), /unknown reason "permissio!"/],
    [good.replace('proc/7/comm', 'proc/7/smaps'), /proc\/7\/smaps appears twice/],
  ];
  for (const [text, pattern] of cases) {
    assert.notEqual(text, good, `the edit for ${String(pattern)} applies`);
    parseError(() => parseArchive(enc.encode(text)), pattern);
  }
  // A length claim far beyond the data is a truncation, not a giant allocation.
  parseError(
    () => parseArchive(enc.encode('memlens-capture 1\nF 99999999 proc/meminfo\nMemTotal')),
    /truncated inside record proc\/meminfo \(8 of 99999999 bytes\)/,
  );
  // A claim over the record bound (ARCHIVE_LIMITS) is refused at its header.
  parseError(
    () => parseArchive(enc.encode('memlens-capture 1\nF 1999999999 proc/meminfo\nMemTotal')),
    /claims 1999999999 bytes, more than the limit of 134217728 \(at byte 18\)/,
  );
  parseError(
    () => parseArchive(enc.encode('memlens-capture 1\nF 999999999999 proc/meminfo\nMemTotal')),
    /claims 999999999999 bytes/,
  );
  parseError(() => parseArchive(enc.encode(`memlens-capture 1\n${'F'.repeat(10_000)}`)), /header line longer/);
  parseError(
    () => parseArchive(Uint8Array.from([...enc.encode('memlens-capture 1\nF 1 \xff'), 0xff, 0x0a])),
    /bad record header|not text/,
  );
});

test('random corruption never crashes: a parse or one ParseError', () => {
  const bytes = writeArchive(RECORDS);
  const rng = new SeededRandom(20261123);
  let parsed = 0;
  let rejected = 0;
  for (let round = 0; round < 3000; round++) {
    const copy = bytes.slice();
    const flips = rng.int(1, 4);
    for (let f = 0; f < flips; f++) copy[rng.int(0, copy.length - 1)] = rng.int(0, 255);
    try {
      const a = parseArchive(copy);
      if (a) parsed++;
    } catch (e) {
      assert.ok(e instanceof ParseError, `round ${round}: ${String(e)}`);
      rejected++;
    }
  }
  // Flips inside payloads leave a valid archive; flips in framing must be caught.
  assert.ok(parsed > 0 && rejected > 0, `parsed ${parsed}, rejected ${rejected}`);
});

test('real capture by BusyBox sh as nobody: contents, permission and kernel-thread records', () => {
  const a = parseArchive(readFileSync(FIXTURE), FIXTURE);
  assert.ok(a);
  assert.equal(a.meta.get('uid'), '65534');
  assert.equal(a.meta.get('pagesize'), '4096');
  assert.equal(archivePageSize(a), 4096);
  assert.equal(archiveHostname(a), 'vm');
  assert.equal(archiveTime(a)?.toISOString(), '2026-11-23T12:03:28.000Z');
  const meminfo = a.entries.get('proc/meminfo');
  assert.ok(meminfo?.kind === 'file');
  assert.match(decode(meminfo.data), /^MemTotal: +24684084 kB$/m);
  assert.equal(a.entries.get('proc/slabinfo')?.kind, 'unreadable');
  const shell = a.meta.get('shell-pid');
  assert.ok(shell);
  assert.equal(a.entries.get(`proc/${shell}/exe`)?.kind, 'link');
  // The kernel thread: empty files, no mm (ESRCH on smaps_rollup, recorded as missing).
  const kthreadCmdline = a.entries.get('proc/2/cmdline');
  assert.ok(kthreadCmdline?.kind === 'file' && kthreadCmdline.data.length === 0);
  const kthreadRollup = a.entries.get('proc/2/smaps_rollup');
  assert.ok(kthreadRollup?.kind === 'unreadable' && kthreadRollup.reason === 'missing');
  // The root-owned sleep with a hostile argv[0] and comm.
  const sleeper = [...a.entries.values()].find(
    (e) => e.kind === 'file' && e.name.endsWith('/comm') && decode(e.data) === 'we ird) (x\n',
  );
  assert.ok(sleeper, 'the sleeper is in the archive');
  const pid = sleeper.name.split('/')[1] ?? '';
  const cmdline = a.entries.get(`proc/${pid}/cmdline`);
  assert.ok(cmdline?.kind === 'file');
  assert.deepEqual(
    [...cmdline.data],
    [...new TextEncoder().encode('we ird) (\nx'), 0xff, 0, ...new TextEncoder().encode('300'), 0],
  );
  for (const file of ['smaps_rollup', 'smaps', 'maps', 'exe']) {
    const e = a.entries.get(`proc/${pid}/${file}`);
    assert.ok(e?.kind === 'unreadable' && e.reason === 'permission', file);
  }
  assert.deepEqual(archiveStats(a), { processes: 3, partlyDenied: 2, payloadBytes: archiveStats(a).payloadBytes });
});

test('page size without getconf: KernelPageSize of a captured smaps', () => {
  const real = parseArchive(readFileSync(FIXTURE));
  assert.ok(real);
  const shell = real.meta.get('shell-pid') ?? '';
  const smaps = real.entries.get(`proc/${shell}/smaps`);
  assert.ok(smaps?.kind === 'file');
  const a = parseArchive(writeArchive([{ kind: 'F', name: 'proc/99/smaps', payload: smaps.data }]));
  assert.ok(a);
  assert.equal(archivePageSize(a), 4096);
  const none = parseArchive(writeArchive([{ kind: 'F', name: 'proc/99/smaps', payload: '' }]));
  assert.ok(none);
  parseError(() => archivePageSize(none), /page size is not recorded/);
});

test('capture time without date: btime plus uptime', () => {
  const a = parseArchive(
    writeArchive([
      { kind: 'F', name: 'proc/stat', payload: 'cpu  1 2 3\nbtime 1795428000\nprocesses 9\n' },
      { kind: 'F', name: 'proc/uptime', payload: '3600.25 7000.00\n' },
    ]),
  );
  assert.ok(a);
  assert.equal(archiveTime(a)?.toISOString(), '2026-11-23T11:00:00.250Z');
});
