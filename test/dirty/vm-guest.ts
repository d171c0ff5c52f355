// The program the soft-dirty virtual machine runs (see vm.ts and vm-softdirty.live.test.ts): several
// checks in one boot, each printed as `MEMLENS-VM-RESULT <name> <json>` on the serial console for
// the host test to judge. It runs under the guest kernel, with this checkout shared read-only.
import { spawn } from 'node:child_process';
import { openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { runCli } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';
import type { DirtyBody, ServerMessage } from '../../src/wire/messages.js';
import { SoftDirtyMeter } from '../../src/analyses/dirty/meters.js';
import { ProcessPages } from '../../src/sources/pagemap.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { hexAddress } from '../../src/wire/dirty.js';
import { startWorkload } from './workload.js';

function report(name: string, value: unknown): void {
  process.stdout.write(
    `MEMLENS-VM-RESULT ${name} ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? hexAddress(v) : v))}\n`,
  );
}

async function check(name: string, body: () => Promise<unknown>): Promise<void> {
  try {
    report(name, await body());
  } catch (e) {
    report(name, { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
}

function parseJson(stdout: string): unknown {
  return stdout.trim() === '' ? null : (JSON.parse(stdout) as unknown);
}

report('release', release());

// Never cleared: the whole area the workload touched at start is soft-dirty.
await check('untouched', async () => {
  const w = await startWorkload(['64', 'once']);
  try {
    const r = await runCli(['dirty', String(w.pid), '--json']);
    return { address: w.address, pages: w.pages, code: r.code, stderr: r.stderr, doc: parseJson(r.stdout) };
  } finally {
    await w.stop();
  }
});

// After a clear, exactly the pages written: 50 single pages 10, 17, …, 353 and the run 1500..1529.
await check('exact', async () => {
  const w = await startWorkload(['2000', 'once']);
  try {
    writeFileSync(`/proc/${w.pid}/clear_refs`, '4');
    await w.command('w 10 50 7');
    await w.command('w 1500 30 1');
    const r = await runCli(['dirty', String(w.pid), '--json']);
    const human = await runCli(['dirty', String(w.pid)]);
    // The raw pagemap entries of the area, kept as a fixture of a soft-dirty kernel.
    const fd = openSync(`/proc/${w.pid}/pagemap`, 'r');
    const raw = Buffer.alloc(w.pages * 8);
    readSync(fd, raw, 0, raw.length, Number((w.address / BigInt(w.pageSize)) * 8n));
    closeSync(fd);
    return {
      address: w.address,
      pages: w.pages,
      pageSize: w.pageSize,
      code: r.code,
      stderr: r.stderr,
      doc: parseJson(r.stdout),
      human: human.stdout,
      humanCode: human.code,
      pagemapBase64: raw.toString('base64'),
    };
  } finally {
    await w.stop();
  }
});

// A round in which the workload writes 10 old pages and maps (and touches) 100 new ones.
await check('new-mapping', async () => {
  const w = await startWorkload(['2000', 'once']);
  const meter = new SoftDirtyMeter(new ProcessPages(openLiveProcSource(), w.pid, w.pageSize));
  try {
    await meter.begin();
    await w.command('w 0 10 1');
    const fresh = await w.command('m 100');
    const reading = await meter.measure();
    const inOld =
      reading.dirty?.ranges.filter((x) => x.start >= w.address && x.end <= w.address + BigInt(w.pages * w.pageSize)) ??
      [];
    return {
      address: w.address,
      fresh: `0x${fresh}`,
      pages: reading.pages,
      newMappingPages: reading.newMappingPages,
      writtenInOld: inOld,
      newRanges: reading.dirty?.newMappingRanges,
    };
  } finally {
    meter.close();
    await w.stop();
  }
});

// The heap grows during the round: the kernel gives the whole grown [heap] VM_SOFTDIRTY
// (mm/mmap.c do_brk_flags), so its old pages read soft-dirty too; memlens must not call them writes.
await check('heap-grown', async () => {
  const w = await startWorkload(['2000', 'once']);
  const meter = new SoftDirtyMeter(new ProcessPages(openLiveProcSource(), w.pid, w.pageSize));
  try {
    await w.command('b 200');
    await meter.begin();
    await w.command('w 0 10 1');
    await w.command('b 50');
    const reading = await meter.measure();
    const heap = reading.dirty?.areas.find((a) => a.mapping === '[heap]');
    return {
      pages: reading.pages,
      newMappingPages: reading.newMappingPages,
      heap: heap
        ? {
            writtenPages: heap.writtenPages,
            newMappingPages: heap.newMappingPages,
            presentPages: heap.presentPages,
            wholeAreaMarked: heap.wholeAreaMarked,
          }
        : null,
    };
  } finally {
    meter.close();
    await w.stop();
  }
});

// Transparent huge pages (this kernel's default is "always"): one byte written after a clear
// marks the whole 2 MiB page soft-dirty.
await check('thp', async () => {
  const w = await startWorkload(['16', 'once']);
  try {
    const huge = BigInt(`0x${await w.command('h 1024')}`);
    writeFileSync(`/proc/${w.pid}/clear_refs`, '4');
    await w.command(`x ${(huge + 5n * 4096n + 100n).toString(16)}`);
    const r = await runCli(['dirty', String(w.pid), '--json']);
    return { huge, code: r.code, stderr: r.stderr, doc: parseJson(r.stdout) };
  } finally {
    await w.stop();
  }
});

// A fixed write set: 300 pages (every other page from 0) written every 50 ms.
await check('fixed', async () => {
  const w = await startWorkload(['4000', 'fixed', '0', '300', '2', '50']);
  try {
    const r = await runCli([
      'dirty',
      String(w.pid),
      '--watch',
      '--until-stable',
      '--interval',
      '1s',
      '--max-rounds',
      '12',
      '--json',
    ]);
    return {
      address: w.address,
      pages: w.pages,
      pageSize: w.pageSize,
      code: r.code,
      stderr: r.stderr,
      doc: parseJson(r.stdout),
    };
  } finally {
    await w.stop();
  }
});

// A set that keeps growing: every 100 ms, 40 more pages.
await check('grow', async () => {
  const w = await startWorkload(['16000', 'grow', '40', '100']);
  try {
    const r = await runCli([
      'dirty',
      String(w.pid),
      '--watch',
      '--until-stable',
      '--interval',
      '1s',
      '--max-rounds',
      '8',
      '--json',
    ]);
    // By now the set is large and grows by a few per cent per round: each step is within 8 %, the drift is not.
    const drift = await runCli([
      'dirty',
      String(w.pid),
      '--watch',
      '--until-stable',
      '--interval',
      '1s',
      '--tolerance',
      '8%',
      '--max-rounds',
      '6',
      '--json',
    ]);
    const human = await runCli([
      'dirty',
      String(w.pid),
      '--watch',
      '--until-stable',
      '--interval',
      '1s',
      '--max-rounds',
      '4',
    ]);
    return {
      code: r.code,
      stderr: r.stderr,
      doc: parseJson(r.stdout),
      drift: parseJson(drift.stdout),
      human: human.stdout,
    };
  } finally {
    await w.stop();
  }
});

// memlens serve --dirty-watch under this kernel, read by a plain HTTP and WebSocket client: a
// workload writes 300 pages (every other one) every 50 ms on its own, and maps 100 new pages once
// during the watch; the watch stops after 10 rounds of 1 s (--dirty-max-rounds).
await check('serve', async () => {
  const w = await startWorkload(['4000', 'loop', '0', '300', '2', '50']);
  const port = 7979;
  const base = `http://127.0.0.1:${port}`;
  const serve = spawn(
    process.execPath,
    [
      cliPath,
      'serve',
      '--no-trace',
      '--port',
      String(port),
      '--db',
      join(tmpdir(), 'memlens-vm-serve.db'),
      '--dirty-watch',
      String(w.pid),
      '--dirty-interval',
      '1s',
      '--dirty-max-rounds',
      '10',
    ],
    {
      env: { ...process.env, XDG_DATA_HOME: tmpdir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  serve.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => serve.once('exit', resolve));
  try {
    await waitingFor(
      'memlens serve --dirty-watch in the guest to print its dashboard address',
      () =>
        new Promise<void>((resolve, reject) => {
          let out = '';
          serve.stdout.setEncoding('utf8').on('data', (d: string) => {
            out += d;
            if (out.includes('dashboard at')) resolve();
          });
          serve.once('exit', (code) => reject(new Error(`memlens serve exited (${code}): ${stderr}`)));
        }),
    );
    // The WebSocket client follows the watch from before its first round.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live`);
    const wsRounds: number[] = [];
    let wsStopped = false;
    ws.on('message', (data: WebSocket.RawData) => {
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : data instanceof ArrayBuffer
          ? Buffer.from(data).toString('utf8')
          : data.toString('utf8');
      const m = JSON.parse(text) as ServerMessage;
      if (m.type !== 'update' || m.dirty === undefined) return;
      wsRounds.push(...m.dirty.rounds.map((r) => r.round));
      if (m.dirty.watch.state !== 'running') wsStopped = true;
    });
    await waitingFor(
      `the guest's WebSocket to ${port} to open`,
      () =>
        new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        }),
    );
    ws.send(JSON.stringify({ type: 'subscribe', v: 1, dirty: { afterRound: 0 } }));
    const get = async (): Promise<DirtyBody> => (await (await fetch(`${base}/api/v1/dirty`)).json()) as DirtyBody;
    const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));
    // After round 3, map 100 new pages: some round must show them as new mapping, not as writes.
    await waitingFor('the guest watch to finish round 3', async (signal) => {
      while (!signal.aborted && ((await get()).watch?.rounds ?? 0) < 3) await pause();
    });
    const fresh = await w.command('m 100');
    const mappedAfterRound = (await get()).watch?.rounds ?? 0;
    let body = await get();
    await waitingFor('the guest watch to stop (10 rounds at most)', async (signal) => {
      while (!signal.aborted && body.watch?.state === 'running') {
        await pause();
        body = await get();
      }
    });
    await waitingFor('the WebSocket to say the guest watch stopped', async (signal) => {
      while (!signal.aborted && !wsStopped) await pause();
    });
    ws.close();
    const metrics = (await (await fetch(`${base}/metrics`)).text())
      .split('\n')
      .filter((l) => l.startsWith('memlens_dirty_'));
    serve.kill('SIGINT');
    const code = await waitingFor('memlens serve in the guest to exit after SIGINT', () => exited);
    return {
      address: w.address,
      pages: w.pages,
      pageSize: w.pageSize,
      fresh: `0x${fresh}`,
      mappedAfterRound,
      body,
      wsRounds,
      metrics,
      code,
      stderr,
    };
  } finally {
    if (serve.exitCode === null) serve.kill('SIGKILL');
    await w.stop();
  }
});

report('done', true);
