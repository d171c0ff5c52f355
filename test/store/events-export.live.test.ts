// `memlens events --all` (--json, --csv) as a user runs it: every stored event comes out once, in
// id order, in bounded memory; CSV quoting gives back names with commas, quotes and newlines; a
// listing cut by its limit says so.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { openStore } from '../../src/store/index.js';
import type { MemEvent, StoredEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import { mariadbBackend, sqliteBackend, type Backend } from './backends.js';
import { event } from './events-fixture.js';

const scratch = mkdtempSync(join(tmpdir(), 'memlens-export-'));
const big = sqliteBackend();
const small = sqliteBackend();
const mid = sqliteBackend();
let maria: Backend;
after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await big.drop();
  await small.drop();
  await mid.drop();
  await maria.drop();
});

/** Names a process may give itself, chosen to break a careless CSV writer (or reader). */
const HOSTILE = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', ',"\n', ' lead and trail ', 'é 日本', ''];

/** Event k (1-based) of a generated store: its ktime is k, so the order and the count can be checked. */
function nth(k: number): MemEvent {
  const name = HOSTILE[k % HOSTILE.length] ?? '';
  const failed = k % 7 === 0;
  return event({
    timeMs: 1_763_900_000_000 + k,
    ktimeNs: BigInt(k),
    host: k % 3 === 0 ? 'beta' : 'alpha',
    pid: 100 + (k % 50),
    tid: 100 + (k % 50),
    name,
    thread: HOSTILE[(k + 4) % HOSTILE.length] ?? '',
    lengthBytes: BigInt(k) * 4096n,
    result: failed ? -9n : 0x7f00_0000_0000n + BigInt(k) * 4096n,
    error: failed ? 'EBADF' : null,
  });
}

async function fill(url: string, n: number): Promise<void> {
  const store = await openStore(url);
  try {
    for (let at = 1; at <= n; at += 10_000) {
      const batch: MemEvent[] = [];
      for (let k = at; k < Math.min(at + 10_000, n + 1); k++) batch.push(nth(k));
      await store.appendEvents(batch);
    }
  } finally {
    await store.close();
  }
}

const BIG_N = 300_000;
const MID_N = 100_000;
const MARIA_N = 23_456;

before(async () => {
  maria = await mariadbBackend('memlens_test_events_export');
  await fill(big.url, BIG_N);
  await fill(small.url, 2000);
  await fill(mid.url, MID_N);
  await fill(maria.url, MARIA_N);
});

/** Runs memlens with stdout into a file, reading its peak RSS (VmHWM) until it exits. */
async function runToFile(
  args: string[],
  out: string,
): Promise<{ code: number | null; stderr: string; peakRssKib: number }> {
  const fd = openSync(out, 'w');
  try {
    // The heap is capped, so that a run which held its rows would die of it instead of merely
    // peaking higher. Left to itself, V8 lets a long run's heap grow with its allocation rate even
    // when nothing is kept: on Node 24.22, 100,000 events peaked at 167 MiB and 300,000 at 193-204
    // (900,000: 203-221), with the young generation already pinned below. With the old space capped
    // at 32 MiB, 900,000 events still export (peak 140-150 MiB on Node 20 and 24), while the
    // 300,000 events' NDJSON alone is over 70 MiB. The young generation is pinned at Node 20's size
    // (16 MiB semi-spaces): Node 24 grows its new space to 128 MiB by default.
    const child = spawn(process.execPath, ['--max-semi-space-size=16', '--max-old-space-size=32', cliPath, ...args], {
      stdio: ['ignore', fd, 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    assert.ok(child.stderr);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let peakRssKib = 0;
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let done = false;
    void exited.then(() => (done = true));
    const code = await waitingFor(`memlens ${args.join(' ')} to end`, async () => {
      // VmHWM is the peak so far: the last reading before the exit is (close to) the run's peak.
      while (!done) {
        try {
          const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m?.[1] !== undefined) peakRssKib = Math.max(peakRssKib, Number(m[1]));
        } catch {
          // exited between the check and the read
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return exited;
    });
    return { code, stderr, peakRssKib };
  } finally {
    closeSync(fd);
  }
}

async function* lines(file: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const l of rl) yield l;
}

/**
 * A reader of RFC 4180 written for the test, independent of the writer: records separated by CRLF,
 * fields by commas, a quoted field may hold commas, CR, LF and doubled quotes.
 */
function* csvRecords(text: string): Generator<string[]> {
  let i = 0;
  while (i < text.length) {
    const record: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          assert.ok(q >= 0, 'unterminated quoted field');
          field += text.slice(i, q);
          i = q + 1;
          if (text[i] === '"') {
            field += '"';
            i++;
          } else break;
        }
      } else {
        const m = /[,\r]/g;
        m.lastIndex = i;
        const hit = m.exec(text);
        const end = hit === null ? text.length : hit.index;
        field = text.slice(i, end);
        assert.ok(
          !field.includes('"') && !field.includes('\n'),
          `an unquoted field holds a quote or LF: ${JSON.stringify(field)}`,
        );
        i = end;
      }
      record.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      assert.equal(text.slice(i, i + 2), '\r\n', `record ends with CRLF at ${i}`);
      i += 2;
      break;
    }
    yield record;
  }
}

test('--all --json: 300,000 events, each once, oldest first, in bounded memory', async () => {
  const out = join(scratch, 'all.ndjson');
  // The reference is the higher of two runs of the 100,000: one run's peak once stayed at 133 MiB,
  // below where the heap settles, and the 300,000 (176 MiB) then passed the bound without any
  // row held. Two runs measure the settled peak; the bound above it stays 40 MiB.
  const midA = await runToFile(['events', '--db', mid.url, '--all', '--json'], join(scratch, 'mid.ndjson'));
  const midB = await runToFile(['events', '--db', mid.url, '--all', '--json'], join(scratch, 'mid.ndjson'));
  assert.equal(midA.code, 0, midA.stderr);
  assert.equal(midB.code, 0, midB.stderr);
  const midRun = midA.peakRssKib >= midB.peakRssKib ? midA : midB;
  const r = await runToFile(['events', '--db', big.url, '--all', '--json'], out);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  let n = 0;
  let lastId = 0;
  for await (const l of lines(out)) {
    const e = JSON.parse(l) as StoredEventJson;
    n++;
    assert.ok(e.id > lastId, `ids increase: ${e.id} after ${lastId}`);
    lastId = e.id;
    // Event k was written k-th: its ktime says which one this is.
    if (e.ktime !== String(n)) assert.fail(`line ${n} holds event ${e.ktime}`);
    const want = nth(n);
    if (e.name !== want.name || e.thread !== want.thread || e.length !== Number(want.lengthBytes))
      assert.fail(`line ${n}: ${l}`);
  }
  assert.equal(n, BIG_N, 'every event, none twice');
  // The 200,000 events more than the 100,000 run are about 54 MiB of NDJSON: holding the rows, or
  // letting stdout buffer them, would add at least that and overrun the capped heap. Under the cap
  // the peak of a bounded run does not grow with the count (about 130-140 MiB in all).
  const outMib = readFileSync(out).length / 2 ** 20;
  assert.ok(outMib > 70, `${outMib.toFixed(0)} MiB written`);
  assert.ok(r.peakRssKib > 0 && midRun.peakRssKib > 0);
  assert.ok(
    r.peakRssKib < midRun.peakRssKib + 40 * 1024,
    `peak RSS ${(r.peakRssKib / 1024).toFixed(0)} MiB for ${BIG_N} events against ${(midRun.peakRssKib / 1024).toFixed(0)} MiB for ${MID_N}`,
  );
});

test('--all --csv: the same rows as --json, names with commas, quotes and newlines given back exactly', async () => {
  for (const [b, n] of [
    [small, 2000],
    [maria, MARIA_N],
  ] as const) {
    const json = await runToFile(['events', '--db', b.url, '--all', '--json'], join(scratch, `${b.name}.ndjson`));
    const csv = await runToFile(['events', '--db', b.url, '--all', '--csv'], join(scratch, `${b.name}.csv`));
    assert.equal(json.code, 0, json.stderr);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = readFileSync(join(scratch, `${b.name}.ndjson`), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as StoredEventJson);
    assert.equal(rows.length, n, b.name);
    assert.deepEqual(
      rows.map((e) => Number(e.ktime)),
      Array.from({ length: n }, (_, i) => i + 1),
      `${b.name}: every event once, in order`,
    );
    const [header, ...records] = [...csvRecords(readFileSync(join(scratch, `${b.name}.csv`), 'utf8'))];
    assert.ok(header);
    assert.deepEqual(header, Object.keys(rows[0] ?? {}), 'the CSV columns are the --json fields, in order');
    assert.equal(records.length, n);
    records.forEach((rec, i) => {
      const want = Object.values(rows[i] ?? {}).map((v) => (v === null ? '' : String(v)));
      if (JSON.stringify(rec) !== JSON.stringify(want)) assert.deepEqual(rec, want, `${b.name} row ${i + 1}`);
    });
    assert.deepEqual(
      new Set(records.map((r) => r[header.indexOf('name')])),
      new Set(HOSTILE),
      'every hostile name came back',
    );
  }
});

test('--all keeps the filters and --before; it needs --json or --csv and takes no --limit', async () => {
  const r = await runCli([
    'events',
    '--db',
    small.url,
    '--all',
    '--json',
    '--host',
    'alpha',
    '--name',
    'a,b',
    '--before',
    '1000',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const got = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StoredEventJson);
  const want = Array.from({ length: 999 }, (_, i) => i + 1).filter(
    (k) => k % 3 !== 0 && HOSTILE[k % HOSTILE.length] === 'a,b',
  );
  assert.deepEqual(
    got.map((e) => Number(e.ktime)),
    want,
  );
  for (const [args, why] of [
    [['--all'], /--all needs --json or --csv/],
    [['--all', '--json', '--limit', '10'], /--all and --limit cannot be used together/],
    [['--json', '--csv'], /--json and --csv cannot be used together/],
  ] as const) {
    const bad = await runCli(['events', '--db', small.url, ...args]);
    assert.equal(bad.code, 2, args.join(' '));
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, why);
  }
  const none = await runCli(['events', '--db', small.url, '--all', '--csv', '--pid', '4000000']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(
    none.stdout,
    'time,ktime,host,pid,tid,name,thread,call,addr,length,prot,flags,fd,result,error,new_length,new_addr,id\r\n',
    'no rows: the header alone',
  );
});

test('a listing cut by its limit says so on stderr; a whole one says nothing', async () => {
  const cut = await runCli(['events', '--db', small.url, '--json', '--pid', '100']);
  assert.equal(cut.code, 0, cut.stderr);
  assert.equal(cut.stdout.trim().split('\n').length, 40, 'pid 100 has 40 events: all shown');
  assert.equal(cut.stderr, '');
  const def = await runCli(['events', '--db', small.url, '--json']);
  assert.equal(def.stdout.trim().split('\n').length, 50);
  const oldest = (JSON.parse(def.stdout.split('\n')[0] ?? '') as StoredEventJson).id;
  assert.equal(
    def.stderr,
    `memlens: showing the newest 50 matching events; more match (--limit up to 10000, --before ${oldest} for the page before, or --all --json/--csv for every one)\n`,
  );
  const table = await runCli(['events', '--db', small.url, '--limit', '3']);
  assert.equal(table.stdout.trim().split('\n').length, 4);
  assert.match(table.stderr, /^memlens: showing the newest 3 matching events; more match/);
  const exact = await runCli(['events', '--db', small.url, '--limit', '2000', '--csv']);
  assert.equal(exact.stderr, '', 'exactly the limit: nothing cut');
  assert.equal([...csvRecords(exact.stdout)].length, 2001);
});
