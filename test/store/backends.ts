// The two real databases every store test runs against: a temporary SQLite file, and the shared
// MariaDB at 127.0.0.1:3306 in a database of the store's own (created and dropped by the test).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';

/** The two databases a store test runs on: SQLite in the fast tier, MariaDB in the live one. */
export type BackendKind = 'sqlite' | 'mariadb';

export interface Backend {
  name: string;
  url: string;
  /** Removes the database. */
  drop(): Promise<void>;
}

export const SHARED_MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-store-'));
  return {
    name: 'sqlite',
    url: join(dir, 'events.sqlite'),
    drop: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

async function mysqlAdmin(statement: string): Promise<void> {
  const c = await createConnection(SHARED_MYSQL);
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** A fresh database on the shared MariaDB (dropped first if a killed run left it). */
export async function mariadbBackend(database: string): Promise<Backend> {
  await mysqlAdmin(`DROP DATABASE IF EXISTS \`${database}\``);
  return {
    name: 'mariadb',
    url: `mysql://root@127.0.0.1:3306/${database}`,
    drop: () => mysqlAdmin(`DROP DATABASE IF EXISTS \`${database}\``),
  };
}
