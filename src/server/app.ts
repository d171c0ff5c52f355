// The dashboard's HTTP server: read-only JSON API, the static page, /metrics, and the WebSocket
// upgrade handed to the live hub. Every request passes the access checks first (security.ts).
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { eventsQuerySchema, historyQuerySchema, hostQuerySchema, pidParamsSchema, pieQuerySchema } from '../wire/messages-input.js';
import { MESSAGES_WIRE_VERSION as v } from '../wire/messages.js';
import type { DirtyBody, ErrorBody } from '../wire/messages.js';
import type { DirtyWatchState } from './dirty-watch.js';
import { LiveHub } from './live-hub.js';
import { registerMemtraceRoutes } from './memtrace-routes.js';
import { createMetricsRegistry, METRICS_CONTENT_TYPE } from './metrics.js';
import type { AccessPolicy } from './security.js';
import { presentedToken, queryToken, TOKEN_COOKIE } from './security.js';
import type { DashboardViews } from './views.js';

export interface DashboardServerOptions {
  views: DashboardViews;
  access: AccessPolicy;
  /** The built dashboard (dist/web); the page is not served when it does not exist. */
  webRoot: string;
  version: string;
  log?: (msg: string, err?: unknown) => void;
  /** Directory of memtrace traces the OCaml view may open (memlens serve --memtrace-dir). */
  memtraceDir?: string | null;
  /** Include the memlens process's own process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  /** The dirty-pages watch of `memlens serve --dirty-watch PID`; null or absent without one. */
  dirty?: DirtyWatchState | null;
}

export interface DashboardServer {
  app: FastifyInstance;
  hub: LiveHub;
  close(): Promise<void>;
}

// The page loads only its own script and styles; even if some text from a process got into the
// markup, the browser would not run an inline script from it.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // ECharts positions its tooltip with inline style attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function errorBody(statusCode: number, message: string): ErrorBody {
  return { type: 'error', v, statusCode, message };
}

export async function createDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const log = opts.log ?? (() => undefined);
  // Router options go under routerOptions: set at the top level, Fastify 5 warns (FSTDEP022) at every start.
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 100 }, bodyLimit: 1024 });
  const dirty = opts.dirty ?? null;
  const hub = new LiveHub({ views: opts.views, access: opts.access, log, dirty });
  const metrics = createMetricsRegistry(opts.views.state, opts.version, { defaultMetrics: opts.defaultMetrics ?? true, dirty });
  const { access, views } = opts;

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    void reply.header('X-Content-Type-Options', 'nosniff');
    void reply.header('Referrer-Policy', 'no-referrer');
    void reply.header('Content-Security-Policy', CSP);
    void reply.header('Cache-Control', 'no-store');
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 arrives with Host: evil.example.
    if (!access.hostAllowed(req.headers.host)) return reply.code(403).send(errorBody(403, 'host not allowed'));
    // The API is read-only: nothing can be changed through it.
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply.code(405).header('Allow', 'GET, HEAD').send(errorBody(405, 'read-only API'));
    if (!access.tokenValid(presentedToken(req.headers, req.url))) return reply.code(401).header('WWW-Authenticate', 'Bearer').send(errorBody(401, 'token required'));
    // The link printed at start carries ?token=…: remember it in a cookie the page's own requests
    // and its WebSocket then carry (HttpOnly: scripts cannot read it).
    if (access.token !== null && queryToken(req.url) !== undefined) {
      void reply.header('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(access.token)}; Path=/; HttpOnly; SameSite=Strict`);
    }
    return undefined;
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ZodError) return reply.code(400).send(errorBody(400, `bad request: ${err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`));
    log('request failed', err);
    const code = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
    return reply.code(code).send(errorBody(code, code === 500 ? 'internal error' : (err as Error).message));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody(404, 'not found')));

  app.get('/api/v1/status', async (req) => views.status(hostQuerySchema.parse(req.query).host));
  app.get('/api/v1/hosts', async () => views.hosts());
  app.get('/api/v1/processes', async (req) => views.processes(hostQuerySchema.parse(req.query).host));
  app.get('/api/v1/pie', async (req) => {
    const q = pieQuerySchema.parse(req.query);
    return views.pie(q.host, q.figure, q.exited === '1');
  });
  app.get('/api/v1/ledger', (req, reply) => reply.send( views.ledger(hostQuerySchema.parse(req.query).host)));
  app.get('/api/v1/timeline', (req, reply) => reply.send( views.timeline(hostQuerySchema.parse(req.query).host)));
  app.get('/api/v1/history', async (req) => views.historyWindow(historyQuerySchema.parse(req.query)));
  app.get('/api/v1/events', async (req) => views.events(eventsQuerySchema.parse(req.query)));
  app.get('/api/v1/events/count', async (req) => views.eventCount(eventsQuerySchema.parse(req.query)));
  app.get('/api/v1/processes/:pid', async (req, reply) => {
    const { pid } = pidParamsSchema.parse(req.params);
    const body = await views.processDetail(pid, hostQuerySchema.parse(req.query).host);
    if (body === undefined) return reply.code(404).send(errorBody(404, `no process ${pid}`));
    return body;
  });
  registerMemtraceRoutes(app, opts.memtraceDir ?? null);
  // The watch itself was decided at start (it changes the target's state); the API only reads it.
  app.get('/api/v1/dirty', (_req, reply) => reply.send(dirty?.body() ?? ({ type: 'dirty', v, watch: null, series: [] } satisfies DirtyBody)));
  app.get('/metrics', async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(await metrics.metrics()));

  if (existsSync(opts.webRoot)) {
    await app.register(fastifyStatic, { root: opts.webRoot, prefix: '/', index: 'index.html', wildcard: false, cacheControl: false });
  } else {
    app.get('/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('memlens: the dashboard is not built (run npm run build); the API is under /api/v1/ and /metrics\n'));
  }

  app.server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  hub.start();

  return {
    app,
    hub,
    async close() {
      await hub.close();
      await app.close();
    },
  };
}
