// What SQLite's page size does to the store's commits: batches of 5,000 calls of one process (as
// the tracer's store worker commits them at a high call rate) and batches of one call (as at an idle
// machine), into new SQLite files of 4, 16 and 64 KiB pages, alternated twice. CPU time of this
// process per call, and the size the WAL reaches (it is checkpointed every 1,000 pages).
//
//   node scripts/build.mjs && node dist/bench/store/page-size.js
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EventRecords } from '../../src/store/event-batch-codec.js';
import { newBatchId, openStore } from '../../src/store/index.js';
import type { MemEvent } from '../../src/wire/events.js';

const N = 5000;
let k = 0;
function calls(n: number): EventRecords {
  const out: MemEvent[] = [];
  for (let i = 0; i < n; i++) {
    k++;
    const map = k % 2 === 1;
    out.push({
      timeMs: Date.now() + k / 100,
      ktimeNs: BigInt(k) * 1000n,
      host: 'bench',
      pid: 4242,
      tid: 4242,
      name: 'mmap-rate',
      thread: 'mmap-rate',
      call: map ? 'mmap' : 'munmap',
      addr: 0x7f00_0000_0000n,
      lengthBytes: 4096n,
      prot: map ? 3 : null,
      flags: map ? 0x22 : null,
      fd: map ? -1 : null,
      result: map ? 0x7f00_0000_0000n : 0n,
      error: null,
      newLengthBytes: null,
      newAddr: null,
    });
  }
  return EventRecords.of(out);
}

const cpuUs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return u.user + u.system;
};

const batches = Array.from({ length: 40 }, () => calls(N));
const one = calls(1);
const dir = mkdtempSync(join(tmpdir(), 'memlens-page-size-'));
console.log('| page size | CPU per call, 5,000-call batches | CPU per batch of one call | WAL size |');
console.log('|---:|---:|---:|---:|');
for (const pageSize of [4096, 16384, 65536, 4096, 16384, 65536]) {
  const path = join(dir, `${pageSize}-${Date.now()}.sqlite`);
  // The page size of a new file, set before anything is created; openStore's own setting is then
  // a no-op (a file in WAL mode keeps its page size).
  const raw = new Database(path);
  raw.pragma(`page_size = ${pageSize}`);
  raw.pragma('journal_mode = WAL');
  raw.close();
  const store = await openStore(path);
  for (let i = 0; i < 40; i++) await store.commitBatch({ id: newBatchId(), events: batches[i % 40] ?? one }); // warm
  const big = process.cpuUsage();
  for (let i = 0; i < 100; i++) await store.commitBatch({ id: newBatchId(), events: batches[i % 40] ?? one });
  const perCall = cpuUs(big) / (100 * N);
  const small = process.cpuUsage();
  for (let i = 0; i < 300; i++) await store.commitBatch({ id: newBatchId(), events: one });
  const perBatch = cpuUs(small) / 300;
  const wal = statSync(`${path}-wal`).size;
  await store.close();
  console.log(
    `| ${pageSize} | ${perCall.toFixed(3)} µs | ${perBatch.toFixed(0)} µs | ${(wal / 1048576).toFixed(1)} MiB |`,
  );
}
rmSync(dir, { recursive: true, force: true });
