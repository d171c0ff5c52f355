// `memlens events` on the shared MariaDB (live tier); the tests it shares with SQLite are in
// events-cli-cases.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { runCli } from '../helpers/cli.js';
import { SHARED_MYSQL } from './backends.js';
import { eventsCliTests } from './events-cli-cases.js';

eventsCliTests('mariadb');

test('a MariaDB database that is not there is an error (exit 1, one line) and is not created', async () => {
  const name = 'memlens_test_events_absent';
  const admin = await createConnection(SHARED_MYSQL);
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    const r = await runCli(['events', '--db', `mysql://root@127.0.0.1:3306/${name}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `memlens: no database mysql://root@127.0.0.1:3306/${name}: the server has no database "${name}" (memlens events reads what memlens trace stored; check --db)\n`,
    );
    const [rows] = await admin.query(`SHOW DATABASES LIKE '${name}'`);
    assert.deepEqual(rows, [], 'no database created');
  } finally {
    await admin.end();
  }
});
