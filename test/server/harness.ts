// Builds a dashboard server over the hand-made inputs of fixtures.ts, for tests without a browser.
import { join } from 'node:path';
import { createDashboardServer } from '../../src/server/app.js';
import type { ConnectionLimits } from '../../src/server/connections.js';
import type { DashboardServer } from '../../src/server/app.js';
import { LiveState } from '../../src/server/live-state.js';
import { PagesService } from '../../src/server/pages-service.js';
import { openLiveProcSource } from '../../src/sources/procfs.js';
import { createAccessPolicy } from '../../src/server/security.js';
import { DashboardViews } from '../../src/server/views.js';
import { repoRoot } from '../helpers/paths.js';
import { eventFixture, MemoryEventStore, sampleFixture, tracedFixture } from './fixtures.js';

export interface Harness {
  server: DashboardServer;
  state: LiveState;
  views: DashboardViews;
  store: MemoryEventStore;
  token: string | null;
}

/** `sampled: false`: a server before its first /proc sample. */
export async function makeHarness(
  listenHost: string,
  token: string | null,
  opts: {
    tracing?: boolean;
    sampled?: boolean;
    limits?: ConnectionLimits;
    memtraceDir?: string;
    /** A proc root for the physical memory view (`memlens pages`); absent: no such view. */
    pagesProcRoot?: string;
  } = {},
): Promise<Harness> {
  const state = new LiveState({ host: 'testhost' });
  const now = Date.now();
  const sampled = opts.sampled ?? true;
  state.setSampler({
    intervalMs: 2000,
    cpuBudget: 0.015,
    lastSampleMs: sampled ? now : null,
    lastCostMs: sampled ? 12 : null,
    pssUnavailable: 1,
    pssDeferred: 0,
    processes: 14,
    error: null,
  });
  if (opts.tracing ?? true) state.setTracing({ state: 'running', backend: 'test', sinceMs: now });
  else state.setTracing({ state: 'unavailable', reason: 'tracing needs root' });
  if (sampled) state.applySample(sampleFixture(now));
  if (opts.tracing ?? true) state.applyTrace(tracedFixture(), now);
  const events = Array.from({ length: 30 }, (_, i) => eventFixture(i));
  events.push(eventFixture(1000, 'otherhost'), eventFixture(1001, 'otherhost', 'munmap'));
  const store = new MemoryEventStore(events);
  const views = new DashboardViews(state, store, (pid) =>
    Promise.resolve(
      pid === 113
        ? { rows: [{ kind: 'anonymous', count: 3, sizeBytes: 3 << 20, rssBytes: 1 << 20, pssBytes: 1 << 19 }] }
        : { error: 'permission denied' },
    ),
  );
  const access = createAccessPolicy({ listenHost, token });
  const server = await createDashboardServer({
    views,
    access,
    webRoot: join(repoRoot, 'dist', 'web'),
    version: 'test',
    defaultMetrics: false,
    memtraceDir: opts.memtraceDir ?? null,
    ...(opts.pagesProcRoot === undefined ? {} : { pages: new PagesService(openLiveProcSource(opts.pagesProcRoot)) }),
    ...(opts.limits === undefined ? {} : { limits: opts.limits }),
  });
  return { server, state, views, store, token: access.token };
}
