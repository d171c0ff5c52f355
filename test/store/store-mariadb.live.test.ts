// The event store on the shared MariaDB at 127.0.0.1:3306 (live tier). The tests are in
// store-cases.ts, where store-sqlite.test.ts runs them on SQLite; the last one here is MariaDB's own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { openStore } from '../../src/store/index.js';
import { SHARED_MYSQL, mariadbBackend } from './backends.js';
import { event } from './events-fixture.js';
import { packedBlockTests, schemaFiveTests, schemaOneTests, storeTests } from './store-cases.js';

storeTests('mariadb');

test('two memlens opening one new MariaDB database at once both get the schema, applied once', async () => {
  const backend = await mariadbBackend('memlens_test_store_open');
  try {
    const [a, b] = await Promise.all([openStore(backend.url), openStore(backend.url)]);
    await a.appendEvents([event({ host: 'both' })]);
    assert.equal(await b.countEvents({ host: 'both' }), 1);
    await Promise.all([a.close(), b.close()]);
    const c = await createConnection(SHARED_MYSQL);
    try {
      const [rows] = await c.query('select name from memlens_test_store_open.memlens_migrations');
      assert.deepEqual(rows, [
        { name: '0001_initial' },
        { name: '0002_history' },
        { name: '0003_mprotect_calls' },
        { name: '0004_history_series_index' },
        { name: '0005_hosts_deleted_events' },
        { name: '0006_event_packs' },
      ]);
    } finally {
      await c.end();
    }
  } finally {
    await backend.drop();
  }
});

schemaOneTests('mariadb');
schemaFiveTests('mariadb');
packedBlockTests('mariadb');
