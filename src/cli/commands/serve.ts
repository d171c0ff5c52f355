import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { addRetentionFlags, parseRetention } from '../retention-flags.js';
import { UsageError, UserError } from '../../base/errors.js';
import { errnoCode } from '../../base/errors.js';

interface ServeFlags {
  host: string;
  port: string;
  db?: string;
  token?: string;
  trace: boolean;
  cpuBudget: string;
  memtraceDir?: string;
  maxAge?: string;
  maxRows?: string;
}

export function defineServe(program: Command): void {
  const command = program
    .command('serve')
    .description('the live dashboard: /proc sampler, tracer (root), store, HTTP API, WebSocket updates and /metrics in one process')
    .option('--host <address>', 'address to listen on; any other than loopback requires a token', '127.0.0.1')
    .option('--port <N>', 'port to listen on', '7878')
    .option('--db <URL>', 'event store: mysql://user:pass@host:port/db or a SQLite file (default: SQLite under the data directory)')
    .option('--token <T>', 'token required on every request (default: generated when --host is not loopback)')
    .option('--no-trace', 'do not trace system calls (serve /proc data only)')
    .option('--cpu-budget <percent>', 'share of one core the /proc sampler may use', '1')
    .option('--memtrace-dir <dir>', 'directory of OCaml memtrace traces (.ctf) the dashboard\'s OCaml view may open');
  addRetentionFlags(command);
  command.action(async (flags: ServeFlags) => {
      const retention = parseRetention(flags);
      const port = Number(flags.port);
      if (!/^\d+$/.test(flags.port) || port < 1 || port > 65535) throw new UsageError(`--port: "${flags.port}" is not a port number (1-65535)`);
      const budget = Number(flags.cpuBudget);
      if (!Number.isFinite(budget) || budget <= 0 || budget > 100) throw new UsageError(`--cpu-budget: "${flags.cpuBudget}" is not a percentage (0-100]`);
      if (flags.token?.length === 0) throw new UsageError('--token: the token must not be empty');
      if (flags.memtraceDir !== undefined && !statSync(flags.memtraceDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--memtrace-dir: "${flags.memtraceDir}" is not a directory`);
      const { startServe } = await import('../../server/runtime.js');
      const log = (line: string): void => void process.stderr.write(`memlens: ${line}\n`);
      let running;
      try {
        running = await startServe({ host: flags.host, port, db: flags.db, token: flags.token ?? null, trace: flags.trace, cpuBudget: budget / 100, memtraceDir: flags.memtraceDir ?? null, retention: retention ?? null, version: program.version() ?? 'unknown', log });
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'EADDRINUSE') throw new UserError(`port ${port} on ${flags.host} is already in use (choose another with --port)`);
        if (code === 'EADDRNOTAVAIL') throw new UserError(`cannot listen on ${flags.host}: no such address on this machine`);
        throw e;
      }
      process.stdout.write(`memlens serve: dashboard at ${running.openUrl}\n`);
      process.stdout.write(`memlens serve: Prometheus metrics at ${running.url}metrics${running.token === null ? '' : ' (send the token as "Authorization: Bearer …")'}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, stop);
          resolve();
        };
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
      });
      log('stopping');
      await running.close();
    });
}
