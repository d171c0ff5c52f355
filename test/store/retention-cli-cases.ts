// The store's retention limit from the command line: `memlens events --prune --max-age/--max-rows`,
// on a SQLite file and on the shared MariaDB (run by retention-cli-sqlite.test.ts and
// retention-cli-mariadb.live.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { mariadbBackend, sqliteBackend, type BackendKind } from './backends.js';
import { event } from './events-fixture.js';

const HOUR_MS = 3_600_000;

export function retentionCliTests(kind: BackendKind): void {
  // On SQLite (fast tier) memlens runs in this process, sparing a Node start-up per command; on
  // MariaDB (live tier) the built command runs.
  const memlens = kind === 'sqlite' ? runCliInProcess : runCli;
  test(`events --prune: --max-age drops what is older, --max-rows keeps the newest; bad limits are usage errors (${kind})`, async () => {
    const b = kind === 'sqlite' ? sqliteBackend() : await mariadbBackend('memlens_test_store_prune');
    try {
      const now = Date.now();
      const store = await openStore(b.url);
      // Ages 72 h, 50 h, 3 h, 2 h and 1 h.
      await store.appendEvents(
        [72, 50, 3, 2, 1].map((h, i) => event({ timeMs: now - h * HOUR_MS, ktimeNs: BigInt(i + 1), pid: 10 + i })),
      );
      await store.close();

      const age = await memlens(['events', '--db', b.url, '--prune', '--max-age', '2d']);
      assert.equal(age.code, 0, age.stderr);
      assert.match(age.stdout, /^pruned 2 events/);
      const rows = await memlens(['events', '--db', b.url, '--prune', '--max-rows', '2']);
      assert.equal(rows.code, 0, rows.stderr);
      assert.match(rows.stdout, /^pruned 1 events/);
      const left = await memlens(['events', '--db', b.url, '--json']);
      assert.deepEqual(
        left.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { pid: number }).pid),
        [13, 14],
        'the two newest are kept',
      );

      for (const args of [['--prune'], ['--prune', '--max-age', 'soon'], ['--prune', '--max-rows', '0']]) {
        const r = await memlens(['events', '--db', b.url, ...args]);
        assert.equal(r.code, 2, args.join(' '));
        assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, r.stderr);
      }
    } finally {
      await b.drop();
    }
  });
}
