// CPU per committed batch of few events: what the store spends on each batch whatever its size
// (its id checked and recorded, the per-process and per-host totals upserted, the transaction),
// which is most of a tracer's store work at a low call rate (`memlens serve` tracing an idle machine
// commits a small batch every 200 ms). 500 batches of N events through EventStore.appendEvents,
// three rounds, into a SQLite file and into MariaDB at 127.0.0.1:3306 (database
// memlens_bench_batch, created and dropped here; skipped when the server does not answer).
//
//   npm run build && node dist/bench/store/per-batch.js [events per batch, default 1]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { openStore, type EventStore } from '../../src/store/index.js';
import type { MemEvent } from '../../src/wire/events.js';

const perBatch = Number(process.argv[2] ?? '1');
const BATCHES = 500;
let k = 0;

function batch(): MemEvent[] {
  const out: MemEvent[] = [];
  for (let i = 0; i < perBatch; i++) {
    k++;
    const pid = 1000 + (k % 7);
    out.push({
      timeMs: Date.now(),
      ktimeNs: BigInt(k) * 1000n,
      host: 'bench',
      pid,
      tid: pid,
      name: `proc-${pid}`,
      thread: `proc-${pid}`,
      call: 'mmap',
      addr: 0n,
      lengthBytes: 4096n,
      prot: 3,
      flags: 0x22,
      fd: -1,
      result: 0x7f00_0000_0000n + BigInt(k) * 4096n,
      error: null,
      newLengthBytes: null,
      newAddr: null,
    });
  }
  return out;
}

async function rounds(what: string, store: EventStore): Promise<void> {
  const figures: string[] = [];
  for (let r = 0; r < 3; r++) {
    const before = process.cpuUsage();
    for (let b = 0; b < BATCHES; b++) await store.appendEvents(batch());
    const used = process.cpuUsage(before);
    figures.push(((used.user + used.system) / BATCHES).toFixed(0));
  }
  console.log(`| ${what} | ${perBatch} | ${figures.join(', ')} µs |`);
}

console.log('| database | events per batch | memlens CPU per batch, rounds 1, 2, 3 |');
console.log('|---|---:|---:|');
const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-batch-'));
const sqlite = await openStore(join(dir, 'batch.sqlite'));
await rounds('SQLite (WAL, synchronous=NORMAL)', sqlite);
await sqlite.close();
rmSync(dir, { recursive: true, force: true });

const url = 'mysql://root@127.0.0.1:3306/memlens_bench_batch';
let mysql: EventStore | undefined;
try {
  mysql = await openStore(url);
} catch (e) {
  console.log(`(MariaDB skipped: ${e instanceof Error ? e.message : String(e)})`);
}
if (mysql) {
  await rounds('MariaDB 127.0.0.1:3306 (client side only)', mysql);
  await mysql.close();
  const c = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  await c.query('DROP DATABASE IF EXISTS memlens_bench_batch');
  await c.end();
}
