// Hostile archive inputs: endless garbage, endless zeros, gzip bombs and records claiming more
// than the bounds (ARCHIVE_LIMITS). Each must fail after reading a bounded number of bytes, which
// the tests count on the input side: memory is bounded by construction, not by timing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { createGzip, gzipSync } from 'node:zlib';
import { ParseError, UserError } from '../../src/base/errors.js';
import { SeededRandom, randomChunks } from '../../src/base/random.js';
import { ARCHIVE_LIMITS, ArchiveReader, type ArchiveLimits } from '../../src/parsers/archive.js';
import { readArchiveStream } from '../../src/sources/archive.js';
import { cliPath } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { writeArchive, type TestRecord } from './archive-writer.js';

const CHUNK = 64 * 1024;

/** An endless stream of `pattern`, counting the bytes anyone pulled from it. */
function endless(pattern: Buffer): { stream: Readable; pulled: () => number } {
  const block = Buffer.alloc(CHUNK);
  for (let k = 0; k < CHUNK; k++) block[k] = pattern[k % pattern.length] as number;
  let pulled = 0;
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      pulled += block.length;
      this.push(block);
    },
  });
  return { stream, pulled: () => pulled };
}

/** Counts the bytes pulled through a stream. */
function counted(source: Readable): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const stream = Readable.from(
    (async function* () {
      for await (const chunk of source) {
        pulled += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    })(),
  );
  return { stream, pulled: () => pulled };
}

async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('endless zeros (/dev/zero) and endless "y\\n" (yes) are refused after the first chunk', async () => {
  for (const pattern of [Buffer.from([0]), Buffer.from('y\n')]) {
    const input = endless(pattern);
    await rejectsWith(readArchiveStream(input.stream, 'input'), /input is not a memlens capture archive/);
    assert.ok(input.pulled() <= 4 * CHUNK, `${input.pulled()} bytes read`);
  }
});

test('a gzip bomb of zeros is refused after its first decompressed bytes', async () => {
  const zeros = endless(Buffer.from([0]));
  const gz = counted(zeros.stream.pipe(createGzip()));
  await rejectsWith(readArchiveStream(gz.stream, 'bomb.gz'), /bomb\.gz is not a memlens capture archive/);
  // zlib compresses zeros about 1000:1: a few chunks of gzip hold megabytes; what is bounded is
  // the compressed input read, a few chunks of it (not the endless rest).
  assert.ok(gz.pulled() <= 4 * CHUNK, `${gz.pulled()} bytes of gzip read`);
});

test('a gzip bomb that is an archive fails at the record bound, not after inflating it', async () => {
  // A header claiming just over the bound, then zeros as its payload: gzip makes 129 MiB about 128 KiB.
  const claim = ARCHIVE_LIMITS.maxRecordBytes + 1;
  const header = Buffer.from(`memlens-capture 1\nF ${claim} proc/meminfo\n`);
  const payload = endless(Buffer.from([0])).stream;
  const plain = Readable.from(
    (async function* () {
      yield header;
      for await (const chunk of payload) yield chunk as Buffer;
    })(),
  );
  const gz = counted(plain.pipe(createGzip()));
  await rejectsWith(
    readArchiveStream(gz.stream, 'big.gz'),
    new RegExp(`record proc/meminfo claims ${claim} bytes, more than the limit of ${ARCHIVE_LIMITS.maxRecordBytes}`),
  );
  assert.ok(gz.pulled() <= 4 * CHUNK, `${gz.pulled()} bytes of gzip read`);
  // And one whole small gzip archive still reads.
  const ok = gzipSync(writeArchive([{ kind: 'M', name: 'time', payload: '2026-11-23T10:00:00Z\n' }]));
  assert.equal((await readArchiveStream(Readable.from([ok]), 'ok.gz')).recordCount, 1);
});

const SMALL: ArchiveLimits = { maxRecordBytes: 100, maxArchiveBytes: 1000, maxRecords: 8, maxSnapshots: 4 };
const record = (n: number, bytes: number): TestRecord => ({
  kind: 'F',
  name: `proc/${n}/status`,
  payload: 'x'.repeat(bytes),
});

/** Feeds `bytes` in random chunks; the error, and how many bytes were pushed when it came. */
function failAt(
  bytes: Uint8Array,
  limits: ArchiveLimits,
  rng: SeededRandom | undefined,
): { message: string; pushed: number } {
  const reader = new ArchiveReader('a', limits);
  let pushed = 0;
  try {
    for (const chunk of rng ? randomChunks(bytes, rng, 1 + rng.int(0, 60)) : [bytes]) {
      pushed += chunk.length;
      reader.push(chunk);
    }
    reader.end();
  } catch (e) {
    assert.ok(e instanceof ParseError, String(e));
    return { message: e.message, pushed };
  }
  assert.fail('no error');
}

test('each bound fails the same way at every chunking, as soon as the bytes cross it', () => {
  const cases: { name: string; bytes: Uint8Array; limits: ArchiveLimits; pattern: RegExp; within: number }[] = [
    // A record of 101 bytes: refused at its header, before its payload.
    {
      name: 'record',
      bytes: writeArchive([record(1, 50), record(2, 101)]),
      limits: SMALL,
      pattern: /record proc\/2\/status claims 101 bytes, more than the limit of 100 \(at byte 88\)/,
      within: 88 + 21,
    },
    // Twelve records of 10 bytes: the ninth header is refused.
    {
      name: 'count',
      bytes: writeArchive(Array.from({ length: 12 }, (_, k) => record(k, 10))),
      limits: SMALL,
      pattern: /more than the limit of 8 records/,
      within: 1000,
    },
    // Fourteen records of 90 bytes: more than 1000 bytes in all.
    {
      name: 'archive',
      bytes: writeArchive(Array.from({ length: 14 }, (_, k) => record(k, 90))),
      limits: { ...SMALL, maxRecords: 100 },
      pattern: /longer than the limit of 1000 bytes \(at byte 1000\)/,
      within: 1000,
    },
  ];
  for (const c of cases) {
    const whole = failAt(c.bytes, c.limits, undefined);
    assert.match(whole.message, c.pattern, c.name);
    for (let seed = 1; seed <= 200; seed++) {
      const r = failAt(c.bytes, c.limits, new SeededRandom(seed));
      assert.equal(r.message, whole.message, `${c.name}, seed ${seed}`);
      // The error came with the chunk that crossed the bound: at most 60 bytes later.
      assert.ok(r.pushed <= c.within + 61, `${c.name}, seed ${seed}: ${r.pushed} bytes pushed`);
    }
  }
  // Within every bound, the same archive reads whole.
  const fits = new ArchiveReader('a', SMALL);
  fits.push(writeArchive([record(1, 100), record(2, 100)]));
  assert.equal(fits.end()?.recordCount, 2);
});

test('memlens snapshot --from - stops reading a stdin of endless "y\\n" at once: exit 1, one line', async () => {
  const child = spawn(process.execPath, [cliPath, 'snapshot', '--from', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // Offer 64 MiB; count what the child's pipe took before it went away.
  const block = Buffer.from('y\n'.repeat(CHUNK / 2));
  const offer = 64 * 1024 * 1024;
  let accepted = 0;
  let open = true;
  child.stdin.on('error', () => (open = false));
  child.on('exit', () => (open = false));
  await waitingFor('memlens to stop reading an endless stdin, or 64 MiB to be written', async () => {
    while (open && accepted < offer) {
      const ok = await new Promise<boolean>((resolve) => child.stdin.write(block, (err) => resolve(err == null)));
      if (!ok) break;
      accepted += block.length;
    }
    child.stdin.end();
  });
  const code = await waitingFor('memlens snapshot --from - to exit', () => exited);
  assert.equal(code, 1, stderr);
  assert.equal(stderr, 'memlens: standard input is not a memlens capture archive (make one with: memlens capture)\n');
  // The pipe (64 KiB), the reader's buffer and one chunk: well under 4 MiB, far under the offer.
  assert.ok(accepted < 4 * 1024 * 1024, `memlens took ${accepted} bytes of stdin`);
});
