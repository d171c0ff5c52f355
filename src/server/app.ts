// The dashboard's HTTP server: read-only JSON API, the static page, /metrics, and the WebSocket
// upgrade handed to the live hub. Every request passes the access checks first (security.ts).
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { openFilesLimit } from '../sources/process-limits.js';
import {
  eventsQuerySchema,
  historyQuerySchema,
  hostQuerySchema,
  framesQuerySchema,
  pagesQuerySchema,
  pidParamsSchema,
  pieQuerySchema,
} from '../wire/messages-input.js';
import type { FramesBody, PagesBody } from '../wire/pages.js';
import { MESSAGES_WIRE_VERSION as v } from '../wire/messages.js';
import type { DirtyBody, ErrorBody } from '../wire/messages.js';
import { ConnectionGuard, connectionLimits } from './connections.js';
import type { ConnectionLimits } from './connections.js';
import type { DirtyWatchState } from './dirty-watch.js';
import { LiveHub } from './live-hub.js';
import { registerMemtraceRoutes } from './memtrace-routes.js';
import { createMetricsRegistry, METRICS_CONTENT_TYPE } from './metrics.js';
import type { AccessPolicy } from './security.js';
import { fetchSiteAllowed, presentedToken, queryToken, TOKEN_COOKIE } from './security.js';
import type { DashboardViews } from './views.js';
import type { PagesService } from './pages-service.js';

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
  /** The physical memory map (`memlens pages`) of the machine the server runs on; absent: no such view. */
  pages?: PagesService | null;
  /** Connection caps; default: derived from this process's RLIMIT_NOFILE (connections.ts). */
  limits?: ConnectionLimits;
}

export interface DashboardServer {
  app: FastifyInstance;
  hub: LiveHub;
  connections: ConnectionGuard;
  close(): Promise<void>;
}

/**
 * Timeouts of the HTTP server (node:http). A client gets HEADERS_TIMEOUT_MS to send its request
 * line and headers from the moment it connects (Node's default is 60 s, during which a connection
 * that sends nothing holds a descriptor), and REQUEST_TIMEOUT_MS for the whole request (the API
 * takes no bodies). Node checks both every CONNECTIONS_CHECK_MS, so a silent connection is closed
 * after 10 to 12 s. An idle keep-alive connection is closed after KEEP_ALIVE_MS (Node's default).
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 15_000;
const CONNECTIONS_CHECK_MS = 2_000;
const KEEP_ALIVE_MS = 5_000;
/** Node's own limit on a request's header block, URL included (the default, stated): 16 KiB. */
const MAX_HEADER_BYTES = 16 * 1024;

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

/** Sent with every answer, including those written before Fastify sees the request. */
const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': CSP,
  'Cache-Control': 'no-store',
};

function errorBody(statusCode: number, message: string): ErrorBody {
  return { type: 'error', v, statusCode, message };
}

/**
 * The answer to a request Node's HTTP parser rejected before any handler ran (headers over
 * MAX_HEADER_BYTES, bytes that are not HTTP, a header timeout). Fixed text: nothing of the request
 * is echoed. Written on the raw socket, which is then closed.
 */
function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const [status, text] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : [400, 'Bad Request'];
  return rawErrorResponse(status, text);
}

function rawErrorResponse(status: number, text: string): string {
  const body = JSON.stringify(errorBody(status, text.toLowerCase()));
  const headers = Object.entries({
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  });
  return `HTTP/1.1 ${status} ${text}\r\n${headers.map(([k, val]) => `${k}: ${val}`).join('\r\n')}\r\n\r\n${body}`;
}

export async function createDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const log = opts.log ?? (() => undefined);
  // Router options go under routerOptions: set at the top level, Fastify 5 warns (FSTDEP022) at every start.
  const app = Fastify({
    logger: false,
    routerOptions: { maxParamLength: 100 },
    bodyLimit: 1024,
    keepAliveTimeout: KEEP_ALIVE_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      // The client is gone: nothing to answer.
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(clientErrorResponse(err));
    },
    // Errors the router raises before the onRequest hook (a path parameter over maxParamLength,
    // a malformed percent-escape in the path): Fastify's own answer echoes the URL and skips the
    // Host check and the headers above. A fixed answer, after the same Host check, instead.
    frameworkErrors: (err, req, genericReply) => {
      // The handler is generic over route types this server does not use.
      const reply = genericReply as unknown as FastifyReply;
      void reply.headers(SECURITY_HEADERS);
      if (!opts.access.hostAllowed(req.headers.host))
        return void reply.code(403).send(errorBody(403, 'host not allowed'));
      const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      return void reply
        .code(tooLong ? 414 : 400)
        .send(errorBody(tooLong ? 414 : 400, tooLong ? 'URL too long' : 'bad URL'));
    },
  });
  const limits = opts.limits ?? connectionLimits(await openFilesLimit(), availableParallelism());
  const connections = new ConnectionGuard(limits);
  connections.attach(app.server);
  const dirty = opts.dirty ?? null;
  const hub = new LiveHub({ views: opts.views, access: opts.access, log, dirty, connections });
  const metrics = createMetricsRegistry(opts.views.state, opts.version, {
    defaultMetrics: opts.defaultMetrics ?? true,
    dirty,
  });
  const { access, views } = opts;

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    void reply.headers(SECURITY_HEADERS);
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 arrives with Host: evil.example.
    if (!access.hostAllowed(req.headers.host)) return reply.code(403).send(errorBody(403, 'host not allowed'));
    if (!fetchSiteAllowed(req.headers['sec-fetch-site'], req.headers['sec-fetch-mode'], req.url.split('?')[0] ?? ''))
      return reply.code(403).send(errorBody(403, 'cross-site request refused'));
    // The API is read-only: nothing can be changed through it.
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return reply.code(405).header('Allow', 'GET, HEAD').send(errorBody(405, 'read-only API'));
    if (!access.tokenValid(presentedToken(req.headers, req.url)))
      return reply.code(401).header('WWW-Authenticate', 'Bearer').send(errorBody(401, 'token required'));
    // The link printed at start carries ?token=…: remember it in a cookie the page's own requests
    // and its WebSocket then carry (HttpOnly: scripts cannot read it).
    if (access.token !== null && queryToken(req.url) !== undefined) {
      void reply.header(
        'Set-Cookie',
        `${TOKEN_COOKIE}=${encodeURIComponent(access.token)}; Path=/; HttpOnly; SameSite=Strict`,
      );
    }
    return undefined;
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ZodError)
      return reply
        .code(400)
        .send(errorBody(400, `bad request: ${err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`));
    log('request failed', err);
    const code =
      typeof (err as { statusCode?: unknown }).statusCode === 'number'
        ? (err as { statusCode: number }).statusCode
        : 500;
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
  app.get('/api/v1/ledger', (req, reply) => reply.send(views.ledger(hostQuerySchema.parse(req.query).host)));
  app.get('/api/v1/timeline', (req, reply) => reply.send(views.timeline(hostQuerySchema.parse(req.query).host)));
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
  app.get('/api/v1/dirty', (_req, reply) =>
    reply.send(dirty?.body() ?? ({ type: 'dirty', v, watch: null, series: [] } satisfies DirtyBody)),
  );
  const pages = opts.pages ?? null;
  app.get('/api/v1/pages', async (req, reply) => {
    if (pages === null) return reply.code(404).send(errorBody(404, 'this server has no physical memory view'));
    const q = pagesQuerySchema.parse(req.query);
    if (q.start !== undefined && q.end !== undefined && q.end <= q.start)
      return reply.code(400).send(errorBody(400, 'bad request: end must be above start'));
    return { type: 'pages', v, report: await pages.report(q) } satisfies PagesBody;
  });
  app.get('/api/v1/pages/frames', async (req, reply) => {
    if (pages === null) return reply.code(404).send(errorBody(404, 'this server has no physical memory view'));
    const q = framesQuerySchema.parse(req.query);
    return { type: 'frames', v, frames: await pages.frames(q.start, q.count) } satisfies FramesBody;
  });
  app.get('/metrics', async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(await metrics.metrics()));

  if (existsSync(opts.webRoot)) {
    await app.register(fastifyStatic, {
      root: opts.webRoot,
      prefix: '/',
      // A list, not a string: with preCompressed, @fastify/static 8.3 looks up the index of "/" only
      // in a list (findIndexFile), and a string made "/" a 404 for any browser accepting brotli.
      index: ['index.html'],
      wildcard: false,
      cacheControl: false,
      // app.js.br and app.js.gz beside app.js, written by the build (scripts/build.mjs).
      preCompressed: true,
      // The answer depends on Accept-Encoding, which a cache between here and the browser must
      // know (RFC 9110, section 12.5.5); @fastify/static does not say it.
      setHeaders: (res) => {
        res.setHeader('vary', 'Accept-Encoding');
      },
    });
  } else {
    app.get('/', async (_req, reply) =>
      reply
        .type('text/plain; charset=utf-8')
        .send('memlens: the dashboard is not built (run npm run build); the API is under /api/v1/ and /metrics\n'),
    );
  }

  app.server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  // CONNECT (a proxy tunnel) never reaches Fastify; without a listener Node drops the connection
  // unanswered. This server is no proxy: it says so.
  app.server.on('connect', (_req, socket: Socket) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawErrorResponse(405, 'Method Not Allowed'));
  });
  hub.start();

  return {
    app,
    hub,
    connections,
    async close() {
      await hub.close();
      await app.close();
    },
  };
}
