// Several hosts into one MySQL database, traced from the kernel: real `memlens trace` processes
// (the tracefs backend, each with its own tracefs instance) running at once, each in its own UTS
// namespace (`unshare --uts` and `hostname`), so that each names its events with the host name the
// kernel gives it (uname), not with --host-name. Each has its own known workload
// (test/workloads/mmap-steps.c: mmap+munmap pairs of 4096 bytes, as many as it is told).
//
// One kernel is not a fleet: every tracer on it sees every process of the machine. A real host
// runs one tracer for its own kernel and stores everything it sees; here each "host" stands for a
// machine whose only process is its workload, which `--pid` says (each tracer keeps only its
// workload's pid). Without it every tracer would store every workload again under its own name:
// not one host's events but the whole machine's, N times (docs/serve.md, "Many hosts into one
// MySQL", says so for containers sharing a kernel).
//
// Checked: each host's events land once (no (tid, ktime) twice) and none is missing (exactly the
// workload's pairs, and as many events as the tracer's summary says it read), `memlens events
// --host` and the dashboard's API (`/api/v1/hosts`, `/api/v1/events?host=`, `/api/v1/events/count`)
// separate them; and with a private MariaDB stopped mid-run and started again, the writers spill,
// keep tracing and catch up, each event once.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import type { EventCountBody, EventsBody, HostsBody } from '../../src/wire/messages.js';
import type { StoredEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import { Teardown } from '../helpers/teardown.js';
import { waitAtMost } from '../helpers/waiting.js';
import { buildSteps, startSteps, startTrace, type Running, type Steps } from '../trace/trace-process.js';
import { startServe } from '../web/live-serve.js';
import { mariadbBackend, SHARED_MYSQL } from './backends.js';
import { PrivateMariadb } from './private-mariadb.js';

const MINUTES = 60_000;
const teardown = new Teardown();
let dir: string;
let binary: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'memlens-fleet-kernel-'));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  binary = buildSteps(dir);
});
after(() => teardown.run());

interface Host {
  name: string;
  workload: Steps;
  trace: Running;
  /** Its own data directory: the spill file of a host is its own. */
  env: NodeJS.ProcessEnv;
  spillDir: string;
  /** mmap+munmap pairs its workload has made. */
  pairs: number;
}

/** `memlens trace ARGS` in a new UTS namespace whose host name is `name`. */
function startInUts(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<Running> {
  // unshare(1) without --fork execs sh, which sets the name and execs node: one pid throughout.
  return startTrace(args, env, ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', name]);
}

async function startHosts(names: readonly string[], url: string, local: Teardown): Promise<Host[]> {
  const workloads: Steps[] = [];
  for (const _ of names) {
    const workload = await startSteps(binary);
    local.add(() => workload.finish());
    workloads.push(workload);
  }
  // All at once: tracefs instances created side by side, the schema migrated under GET_LOCK.
  return Promise.all(
    names.map(async (name, i) => {
      const workload = workloads[i];
      assert.ok(workload);
      const xdg = join(dir, `data-${name}`);
      const env = { XDG_DATA_HOME: xdg };
      const trace = await startInUts(name, ['--json', '--quiet', '--pid', String(workload.pid), '--db', url], env);
      local.add(() => trace.child.kill('SIGKILL'));
      return { name, workload, trace, env, spillDir: join(xdg, 'memlens', 'spill'), pairs: 0 };
    }),
  );
}

/** Every host's workload makes its pairs at the same time. */
async function step(hosts: Host[], pairs: (i: number) => number): Promise<void> {
  await Promise.all(
    hosts.map(async (h, i) => {
      h.pairs += pairs(i);
      const made = await h.workload.step(pairs(i));
      assert.equal(made, h.pairs * 2, `${h.name}: calls made`);
    }),
  );
}

/** Stored events per host, counted in the database itself. */
async function countsByHost(port: number, database: string): Promise<Map<string, number>> {
  const c = await createConnection({ ...SHARED_MYSQL, port, database });
  try {
    const [rows] = await c.query('SELECT host, SUM(event_count) AS n FROM event_packs GROUP BY host');
    return new Map((rows as { host: string; n: number | string }[]).map((r) => [r.host, Number(r.n)]));
  } finally {
    await c.end();
  }
}

/** Waits (bounded) until the database holds at least every host's workload calls. */
async function untilStored(hosts: Host[], port: number, database: string, what: string): Promise<void> {
  let last = new Map<string, number>();
  await waitAtMost(
    5 * MINUTES,
    `every host's ${what} in the database`,
    async () => {
      for (;;) {
        try {
          last = await countsByHost(port, database);
        } catch {
          // Not created yet, or the server is still starting.
        }
        if (hosts.every((h) => (last.get(h.name) ?? 0) >= h.pairs * 2)) return;
        await sleep(200);
      }
    },
    () =>
      `stored: ${hosts.map((h) => `${h.name} ${last.get(h.name) ?? 0} of ${h.pairs * 2}`).join(', ')}; the tracers said: ${hosts.map((h) => h.trace.stderr()).join(' | ')}`,
  );
}

interface Summary {
  processes: { pid: number; calls: number }[];
  lost: { lostEvents: number };
  store: { complete: boolean; spillFiles: string[]; lostEvents: number };
}

function summaryOf(stderr: string): Summary {
  const line = stderr
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  assert.ok(line !== undefined, `a JSON summary on stderr: ${stderr}`);
  return (JSON.parse(line) as { summary: Summary }).summary;
}

const spillFilesIn = (spillDir: string): string[] =>
  existsSync(spillDir) ? readdirSync(spillDir).filter((f) => f.endsWith('.ndjson')) : [];

/**
 * SIGINT to every tracer at once; each exits 0 with its summary. A tracer whose last commit waited
 * past its bound (a busy server) keeps the rest in its spill file and says so: the next run on that
 * host (same namespace name, its workload's pid, which makes no more calls) writes it, as a host
 * that restarts memlens would. Returns how many events each tracer read of its workload.
 */
async function stopHosts(hosts: Host[], url: string): Promise<Map<string, number>> {
  const read = new Map<string, number>();
  await Promise.all(
    hosts.map(async (h) => {
      h.trace.child.kill('SIGINT');
      const code = await waitAtMost(
        3 * MINUTES,
        `memlens trace of ${h.name} to exit after SIGINT`,
        () => h.trace.exited,
        () => `memlens said: ${h.trace.stderr()}`,
      );
      assert.equal(code, 0, `${h.name}: ${h.trace.stderr()}`);
      const summary = summaryOf(h.trace.stderr());
      assert.equal(summary.lost.lostEvents, 0, `${h.name}: the kernel dropped nothing`);
      assert.equal(summary.store.lostEvents, 0, `${h.name}: memlens lost nothing`);
      read.set(h.name, summary.processes.find((p) => p.pid === h.workload.pid)?.calls ?? 0);
      if (spillFilesIn(h.spillDir).length > 0) {
        const next = await startInUts(
          h.name,
          ['--json', '--quiet', '--pid', String(h.workload.pid), '--db', url],
          h.env,
        );
        try {
          await waitAtMost(
            3 * MINUTES,
            `the next memlens trace of ${h.name} to write and remove the spill files in ${h.spillDir}`,
            async () => {
              while (spillFilesIn(h.spillDir).length > 0) await sleep(100);
            },
            () => `memlens said: ${next.stderr()}`,
          );
        } finally {
          next.child.kill('SIGINT');
          const code2 = await waitAtMost(3 * MINUTES, `the catching-up trace of ${h.name} to exit`, () => next.exited);
          assert.equal(code2, 0, next.stderr());
        }
      }
    }),
  );
  return read;
}

const ndjson = (text: string): StoredEventJson[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as StoredEventJson);

/** Each host's stored events: its own, each once, every pair of its workload, and what its tracer read. */
async function checkHosts(hosts: Host[], url: string, read: Map<string, number>): Promise<void> {
  const all = await runCli(['events', '--db', url, '--all', '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(
    ndjson(all.stdout).length,
    [...read.values()].reduce((a, b) => a + b, 0),
    'the database holds what the tracers read, nothing else',
  );
  for (const h of hosts) {
    const r = await runCli(['events', '--db', url, '--all', '--json', '--host', h.name]);
    assert.equal(r.code, 0, r.stderr);
    const rows = ndjson(r.stdout);
    assert.ok(
      rows.every((e) => e.host === h.name && e.pid === h.workload.pid),
      `${h.name}: only its own host name (from uname in its namespace) and its own workload`,
    );
    assert.equal(new Set(rows.map((e) => `${e.tid} ${e.ktime}`)).size, rows.length, `${h.name}: no event twice`);
    assert.equal(rows.length, read.get(h.name), `${h.name}: every event its tracer read is stored`);
    // The workload's own calls, in kernel-time order: mmap of 4096 bytes, then munmap of that address.
    const pairs = rows
      .filter((e) => (e.call === 'mmap' || e.call === 'munmap') && e.length === 4096)
      .sort((a, b) => (BigInt(a.ktime) < BigInt(b.ktime) ? -1 : 1));
    assert.equal(pairs.length, h.pairs * 2, `${h.name}: every call of its workload, none missing`);
    for (let k = 0; k < pairs.length; k += 2) {
      const [m, u] = [pairs[k], pairs[k + 1]];
      assert.ok(
        m?.call === 'mmap' && u?.call === 'munmap' && u.addr === m.result && m.error === null,
        `${h.name}: call ${k} is an mmap followed by the munmap of its address`,
      );
    }
  }
}

const HOSTS = ['fleet-a', 'fleet-b.example.org', 'fleet-c', 'fleet-d'];

test('kernel tracers in their own UTS namespaces into one MariaDB: each host once, told apart by events --host and the API', async () => {
  const db = await mariadbBackend('memlens_test_fleet_kernel');
  const local = new Teardown();
  local.add(() => db.drop());
  try {
    const hosts = await startHosts(HOSTS, db.url, local);
    for (const h of hosts)
      assert.match(h.trace.stderr(), /memlens: tracing .* with tracefs/, `${h.name}: the kernel backend`);
    // Two rounds, so that the hosts' writes interleave in the one database.
    await step(hosts, (i) => 700 + 100 * i);
    await step(hosts, (i) => 500 + 37 * i);
    await untilStored(hosts, 3306, 'memlens_test_fleet_kernel', 'workload calls');
    const read = await stopHosts(hosts, db.url);
    await checkHosts(hosts, db.url, read);

    const serve = await startServe(['--no-trace', '--db', db.url]);
    try {
      const get = async <T>(path: string): Promise<T> => {
        const res = await fetch(new URL(path, serve.url));
        assert.equal(res.status, 200, path);
        return (await res.json()) as T;
      };
      const listed = await get<HostsBody>('/api/v1/hosts');
      for (const h of hosts) assert.ok(listed.hosts.includes(h.name), `${h.name} in ${listed.hosts.join(', ')}`);
      for (const h of hosts) {
        const q = `host=${encodeURIComponent(h.name)}`;
        const count = await get<EventCountBody>(`/api/v1/events/count?${q}`);
        assert.deepEqual([count.host, count.count, count.capped], [h.name, read.get(h.name), false]);
        const page = await get<EventsBody>(`/api/v1/events?${q}&limit=200`);
        assert.equal(page.rows.length, 200);
        assert.ok(
          page.rows.every((e) => e.host === h.name && e.pid === h.workload.pid),
          `${h.name}: the API's page holds its events only`,
        );
      }
    } finally {
      await serve.stop();
    }
  } finally {
    await local.run();
  }
});

test('the database stopped mid-run under several kernel tracers: each spills, keeps tracing and catches up, each event once', async () => {
  const server = await PrivateMariadb.create();
  const local = new Teardown();
  local.add(() => server.destroy());
  try {
    const database = 'memlens_fleet_outage';
    const url = server.url(database);
    const hosts = await startHosts(HOSTS.slice(0, 3), url, local);
    await step(hosts, (i) => 600 + 50 * i);
    await untilStored(hosts, server.port, database, 'calls before the outage');

    await server.stop();
    // Traced while the database is away: every writer finds it gone and spills.
    await step(hosts, (i) => 800 + 50 * i);
    await Promise.all(
      hosts.map((h) =>
        waitAtMost(
          3 * MINUTES,
          `memlens trace of ${h.name} to say that it keeps events in a spill file`,
          async () => {
            while (!/unavailable .*events are kept in a spill file/.test(h.trace.stderr())) await sleep(100);
          },
          () => `memlens said: ${h.trace.stderr()}`,
        ),
      ),
    );
    for (const h of hosts) assert.ok(spillFilesIn(h.spillDir).length > 0, `${h.name}: a spill file of its own`);

    await server.start();
    await step(hosts, (i) => 400 + 50 * i);
    // Caught up while tracing on: the spill and the new calls, without a restart of memlens.
    await untilStored(hosts, server.port, database, 'calls from before, during and after the outage');
    const read = await stopHosts(hosts, url);
    for (const h of hosts) assert.deepEqual(spillFilesIn(h.spillDir), [], `${h.name}: spill files written and removed`);
    await checkHosts(hosts, url, read);
  } finally {
    await local.run();
  }
});
