// Several hosts into one MySQL database: `memlens trace` writers running at once, each with its own
// --host-name, and one `memlens serve --no-trace` on the same URL. Each host's events land exactly
// once and `memlens events --host` and the dashboard's API (?host=) tell them apart. The writers
// read memlens.stp output (--from-stap) so that the events of each are known exactly in advance.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HostsBody, EventsBody } from '../../src/wire/messages.js';
import type { StoredEventJson } from '../../src/wire/events.js';
import { runCli } from '../helpers/cli.js';
import { startServe } from '../web/live-serve.js';
import { mariadbBackend, type Backend } from './backends.js';

const HOSTS = ['web-1', 'web-2.example.org', 'db:1'];
const PER_HOST = 3000;
const scratch = mkdtempSync(join(tmpdir(), 'memlens-fleet-'));
let db: Backend;
before(async () => {
  db = await mariadbBackend('memlens_test_fleet');
});
after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await db.drop();
});

/** memlens.stp output of one host: PER_HOST munmaps of pid 1000 + h, lengths that say which call each is. */
function stapFile(h: number): string {
  const lines = ['#memlens-stap 1'];
  for (let k = 1; k <= PER_HOST; k++)
    lines.push(
      `C ${k * 1000} ${1795434000000000000 + k * 1_000_000} ${1000 + h} ${1000 + h} w${h} w${h} munmap 0x7f0000000000 0x${(k * 4096).toString(16)} 0`,
    );
  const file = join(scratch, `host-${h}.stap`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const ndjson = (text: string): StoredEventJson[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as StoredEventJson);

test('writers with their own --host-name into one MariaDB: each host once, told apart by events --host and the API', async () => {
  const runs = await Promise.all(
    HOSTS.map((name, h) =>
      runCli(['trace', '--from-stap', stapFile(h), '--db', db.url, '--host-name', name, '--quiet'], {
        env: { XDG_DATA_HOME: join(scratch, `data-${h}`) },
      }),
    ),
  );
  runs.forEach((r, h) => assert.equal(r.code, 0, `${HOSTS[h] ?? ''}: ${r.stderr}`));
  // On a loaded machine a commit can wait past the writer's 2 s bound at the end of its run (three
  // writers' transactions on one server): the writer then keeps the rest in its spill file and
  // says so. The next run on that host, here one with no events, writes it first: catching up.
  const header = join(scratch, 'header.stap');
  writeFileSync(header, '#memlens-stap 1\n');
  for (const [h, name] of HOSTS.entries()) {
    let said = runs[h]?.stderr ?? '';
    for (let round = 0; round < 5 && /the rest is kept in/.test(said); round++) {
      const again = await runCli(['trace', '--from-stap', header, '--db', db.url, '--host-name', name, '--quiet'], {
        env: { XDG_DATA_HOME: join(scratch, `data-${h}`) },
      });
      assert.equal(again.code, 0, again.stderr);
      said = again.stderr;
    }
    assert.doesNotMatch(said, /the rest is kept in/, `${name}: its spill file was written`);
  }

  const all = await runCli(['events', '--db', db.url, '--all', '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(ndjson(all.stdout).length, HOSTS.length * PER_HOST, 'every event once, none twice');
  for (const [h, name] of HOSTS.entries()) {
    const r = await runCli(['events', '--db', db.url, '--all', '--json', '--host', name]);
    assert.equal(r.code, 0, r.stderr);
    const got = ndjson(r.stdout);
    assert.ok(
      got.every((e) => e.host === name && e.pid === 1000 + h),
      name,
    );
    assert.deepEqual(
      got.map((e) => e.length),
      Array.from({ length: PER_HOST }, (_, i) => (i + 1) * 4096),
      `${name}: each call once, in order`,
    );
  }

  const serve = await startServe(['--no-trace', '--db', db.url]);
  try {
    const get = async <T>(path: string): Promise<T> => {
      const res = await fetch(new URL(path, serve.url));
      assert.equal(res.status, 200, path);
      return (await res.json()) as T;
    };
    const hosts = await get<HostsBody>('/api/v1/hosts');
    for (const name of HOSTS) assert.ok(hosts.hosts.includes(name), `${name} in ${hosts.hosts.join(', ')}`);
    for (const [h, name] of HOSTS.entries()) {
      const page = await get<EventsBody>(`/api/v1/events?host=${encodeURIComponent(name)}&limit=100`);
      assert.equal(page.host, name);
      assert.equal(page.rows.length, 100);
      assert.ok(
        page.rows.every((e) => e.host === name && e.pid === 1000 + h),
        name,
      );
    }
  } finally {
    await serve.stop();
  }
});

test('--host-name: a short printable name, anything else a usage error', async () => {
  for (const bad of ['', ' web', 'a b', 'x'.repeat(65), 'tab\there', 'naïve', 'a/b']) {
    const r = await runCli(['trace', '--from-stap', '-', '--no-store', '--host-name', bad], { stdinOpen: true });
    assert.equal(r.code, 2, `${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^memlens: option '--host-name <NAME>' argument .* is invalid: expected a host name of 1 to 64 letters, digits/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const ok = await runCli(['trace', '--from-stap', '-', '--no-store', '--json', '--host-name', 'x'.repeat(64)], {
    input: '#memlens-stap 1\nC 1 1795434000000000000 5 5 a a munmap 0x0 0x1000 0\n',
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { host: string }).host, 'x'.repeat(64));
});
