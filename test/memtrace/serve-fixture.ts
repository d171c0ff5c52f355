// The server behind the dashboard's OCaml view, for serve.test.ts (its routes, in process) and
// serve-browser.live.test.ts (the view in Chromium): a folder of traces with a scenario trace, a
// public trace, a file that is no trace, and a link to a trace outside the folder.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDashboardServer, type DashboardServer } from '../../src/server/app.js';
import { LiveState } from '../../src/server/live-state.js';
import { createAccessPolicy } from '../../src/server/security.js';
import { DashboardViews } from '../../src/server/views.js';
import { repoRoot } from '../helpers/paths.js';
import { readPublicTrace } from './public-traces.js';
import { buildScenario } from './scenarios.js';

export interface MemtraceServer {
  server: DashboardServer;
  close(): Promise<void>;
}

export async function startMemtraceServer(): Promise<MemtraceServer> {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-memtrace-serve-'));
  const traces = join(dir, 'traces');
  mkdirSync(traces);
  writeFileSync(
    join(traces, 'server.ctf'),
    buildScenario({
      durationS: 40,
      tickUs: 2000,
      leak: true,
      race: { fromS: 10, toS: 20 },
      warmup: false,
      seed: 4,
      promises: true,
    }).bytes,
  );
  writeFileSync(join(traces, 'ocamlopt.ctf'), readPublicTrace('ocamlopt-v3.ctf'));
  writeFileSync(join(traces, 'notes.ctf'), 'not a trace\n');
  writeFileSync(join(dir, 'secret.ctf'), readPublicTrace('synthetic-v2.ctf'));
  symlinkSync(join(dir, 'secret.ctf'), join(traces, 'link.ctf'));
  const views = new DashboardViews(new LiveState({ host: 'testhost' }), null, null);
  const server = await createDashboardServer({
    views,
    access: createAccessPolicy({ listenHost: '127.0.0.1', token: null }),
    webRoot: join(repoRoot, 'dist', 'web'),
    version: 'test',
    defaultMetrics: false,
    memtraceDir: traces,
  });
  return {
    server,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
