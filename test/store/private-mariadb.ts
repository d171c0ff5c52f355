// A MariaDB server of the test's own (Debian's mariadbd, a temporary datadir, a free port), so that
// a test can kill it and start it again without touching the shared server at 3306.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import { waitingFor } from '../helpers/waiting.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class PrivateMariadb {
  private child: ChildProcess | undefined;
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivateMariadb> {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-mariadb-'));
    const r = spawnSync(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        '--user=root',
        '--skip-test-db',
        '--auth-root-authentication-method=normal',
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr}`);
    const db = new PrivateMariadb(dir, await freePort());
    await db.start();
    return db;
  }

  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      '/usr/sbin/mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(this.dir, 'sock')}`,
        `--pid-file=${join(this.dir, 'pid')}`,
        '--user=root',
        // A throwaway server on loopback: no accounts to manage.
        '--skip-grant-tables',
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        `--log-error=${join(this.dir, 'error.log')}`,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    await waitingFor(`the private mariadbd on port ${this.port} to accept connections`, async (signal) => {
      for (;;) {
        if (child.exitCode !== null)
          throw new Error(`mariadbd exited with ${child.exitCode}; see ${join(this.dir, 'error.log')}`);
        if (signal.aborted) throw signal.reason;
        try {
          const c = await createConnection({ host: '127.0.0.1', port: this.port, user: 'root' });
          await c.end();
          return;
        } catch {
          await sleep(100);
        }
      }
    });
  }

  /** kill -9: the server vanishes mid-transaction, as in a crash or a pulled cable. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await waitingFor(`the private mariadbd (pid ${child.pid}) to exit after SIGKILL`, () => exited);
    this.child = undefined;
  }

  /** SIGTERM: the server shuts down cleanly (closing its connections), as an administrator's stop. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await waitingFor(`the private mariadbd (pid ${child.pid}) to shut down after SIGTERM`, () => exited);
    this.child = undefined;
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing, as a hung host or a network path that drops packets. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT: the frozen server goes on where it stopped. */
  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  async destroy(): Promise<void> {
    this.thaw();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
