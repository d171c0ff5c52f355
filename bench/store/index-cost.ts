// What one events row costs SQLite, by index: the events table of schema.ts (its columns and
// indexes copied here, so that variants can leave some out), 500,000 rows of one busy process in
// transactions of 5,000, through one prepared statement run per row as the store does, with
// better-sqlite3 alone (no memlens code around it). Each variant runs `--rounds` times, interleaved,
// and the least CPU per row is kept: on a shared machine the least is the one least disturbed.
//
//   npm run build && node dist/bench/store/index-cost.js [--rounds 4]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const i = process.argv.indexOf('--rounds');
const rounds = i >= 0 ? Number(process.argv[i + 1] ?? '4') : 4;
const ROWS = 500_000;
const BATCH = 5000;

const COLUMNS =
  'time_ms, ktime_ns, host, pid, tid, name, thread, syscall, addr, length_bytes, prot, flags, fd, result, error, new_length_bytes, new_addr';

interface Variant {
  name: string;
  indexes: string[];
  /** Rows per INSERT statement. */
  rowsPerInsert: number;
}

const ALL = [
  'events_pid_id ON events(pid, id)',
  'events_name_id ON events(name, id)',
  'events_time ON events(time_ms)',
];
const variants: Variant[] = [
  { name: 'the three indexes of today (pid, id), (name, id), (time_ms)', indexes: ALL, rowsPerInsert: 1 },
  { name: 'the same, 50 rows per INSERT', indexes: ALL, rowsPerInsert: 50 },
  { name: 'without (time_ms)', indexes: ALL.slice(0, 2), rowsPerInsert: 1 },
  { name: 'without (name, id) and (time_ms)', indexes: ALL.slice(0, 1), rowsPerInsert: 1 },
  { name: 'no index (the rows alone)', indexes: [], rowsPerInsert: 1 },
];

function rows(): unknown[][] {
  const t0 = Date.now();
  const out: unknown[][] = [];
  for (let r = 0; r < ROWS; r++) {
    const pid = r % 50 < 45 ? 1007 : 1000 + (r % 23);
    const mmap = r % 2 === 0;
    out.push([
      t0 + Math.floor(r / 100),
      1_000_000_000_000n + BigInt(r) * 10_000n,
      'bench',
      pid,
      pid,
      'mmap-rate',
      'mmap-rate',
      mmap ? 'mmap' : 'munmap',
      mmap ? 0n : 0x7f00_0000_0000n + BigInt(r % 1000) * 4096n,
      4096n,
      mmap ? 3 : null,
      mmap ? 0x22 : null,
      mmap ? -1 : null,
      mmap ? 0x7f00_0000_0000n + BigInt(r % 1000) * 4096n : 0n,
      null,
      null,
      null,
    ]);
  }
  return out;
}

function run(v: Variant, data: unknown[][], dir: string): number {
  const path = join(dir, 'events.sqlite');
  for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.defaultSafeIntegers(true);
  db.exec(`CREATE TABLE events (id integer PRIMARY KEY AUTOINCREMENT, time_ms bigint NOT NULL,
    ktime_ns bigint NOT NULL, host varchar(255) NOT NULL, pid integer NOT NULL, tid integer NOT NULL,
    name varchar(255) NOT NULL, thread varchar(255) NOT NULL, syscall varchar(8) NOT NULL,
    addr bigint NOT NULL, length_bytes bigint NOT NULL, prot integer, flags bigint, fd integer,
    result bigint NOT NULL, error varchar(32), new_length_bytes bigint, new_addr bigint)`);
  for (const ix of v.indexes) db.exec(`CREATE INDEX ${ix}`);
  const one = `(${Array(17).fill('?').join(', ')})`;
  const insert = db.prepare(`INSERT INTO events (${COLUMNS}) VALUES ${Array(v.rowsPerInsert).fill(one).join(', ')}`);
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const params: unknown[] = [];
  const before = process.cpuUsage();
  for (let b = 0; b < ROWS; b += BATCH) {
    begin.run();
    for (let r = b; r < b + BATCH; r += v.rowsPerInsert) {
      params.length = 0;
      for (let k = r; k < r + v.rowsPerInsert; k++) for (const x of data[k] ?? []) params.push(x);
      insert.run(params);
    }
    commit.run();
  }
  const used = process.cpuUsage(before);
  db.close();
  return (used.user + used.system) / ROWS;
}

const data = rows();
const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-index-'));
const best = new Map<Variant, number[]>();
for (let r = 0; r < rounds; r++) for (const v of variants) best.set(v, [...(best.get(v) ?? []), run(v, data, dir)]);
rmSync(dir, { recursive: true, force: true });
console.log(`| events table | CPU per row, least of ${rounds} (all rounds) |`);
console.log('|---|---:|');
for (const v of variants) {
  const all = best.get(v) ?? [];
  console.log(`| ${v.name} | ${Math.min(...all).toFixed(2)} µs (${all.map((x) => x.toFixed(2)).join(', ')}) |`);
}
