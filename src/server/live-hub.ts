// Live updates over WebSocket. The hub never forwards the event firehose: every tick (at most
// MAX_UPDATES_PER_SECOND) it sends each client one batched `update` holding only the parts that
// changed since that client's last update, and at most CALLS_PER_UPDATE of the new calls that
// match the client's filter; the rest are counted in `callsSkipped`. A client that asks for it
// (subscribe.processesDelta) gets the processes table as changes after the first: only the rows that
// are not the objects it was last sent (LiveState keeps a row's object while its figures stay).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { eventToJson } from '../wire/events.js';
import type { MemEventJson } from '../wire/events.js';
import { clientMessageSchema } from '../wire/messages-input.js';
import { callMatches, MESSAGES_WIRE_VERSION as v } from '../wire/messages.js';
import type {
  ErrorBody,
  HelloMessage,
  PieBody,
  ProcessRow,
  PssHistory,
  SubscribeMessage,
  UpdateMessage,
} from '../wire/messages.js';
import type { ConnectionGuard } from './connections.js';
import type { DirtyWatchState } from './dirty-watch.js';
import type { Part } from './live-state.js';
import type { AccessPolicy } from './security.js';
import { presentedToken } from './security.js';
import type { DashboardViews } from './views.js';

export const MAX_UPDATES_PER_SECOND = 4;
export const CALLS_PER_UPDATE = 200;
/** A client further behind than this is skipped for a tick (its next update carries the news). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const HEARTBEAT_MS = 30_000;
const REMOTE_REFRESH_MS = 2000;
const PROCESSES_MIN_INTERVAL_MS = 1000;
export const LIVE_PATH = '/api/v1/live';
/**
 * A client's messages are answered (an error for an invalid one): a client that sends faster than
 * it reads would make those answers pile up. Past INVALID_MESSAGES_MAX invalid messages it is
 * disconnected (1008, policy violation), and no answer is queued behind more than
 * ANSWER_BUFFER_MAX_BYTES not yet sent.
 */
const INVALID_MESSAGES_MAX = 100;
const ANSWER_BUFFER_MAX_BYTES = 64 * 1024;

interface Client {
  socket: WebSocket;
  sub: SubscribeMessage | null;
  sent: Record<Part, number>;
  lastSeq: number;
  seq: number;
  alive: boolean;
  lastDetail: number | null;
  lastStatusMs: number;
  lastRemoteMs: number;
  busy: boolean;
  /** Version of the dirty watch last sent (-1: send it), and the newest round the client holds. */
  dirtySent: number;
  dirtyRound: number;
  invalidMessages: number;
  /**
   * For a client that takes the table as changes: the rows it holds by pid (the very objects
   * sent: a row is never changed once built, so one that is still the same object has not moved),
   * the number of that table and the PSS history sent with it. Null: it holds none, send it whole.
   */
  table: { no: number; rows: Map<number, ProcessRow>; pssHistory: PssHistory | null } | null;
  /** The pie last sent (null: send the next one whatever it holds). */
  pie: PieBody | null;
}

export interface LiveHubOptions {
  views: DashboardViews;
  access: AccessPolicy;
  log: (msg: string, err?: unknown) => void;
  /** The dirty-pages watch, when the server runs one. */
  dirty?: DirtyWatchState | null;
  /** The server's connection caps: a WebSocket client is admitted only within them. */
  connections?: ConnectionGuard;
}

export class LiveHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Set<Client>();
  private tickTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: LiveHubOptions) {}

  get clientCount(): number {
    return this.clients.size;
  }

  start(): void {
    this.tickTimer = setInterval(() => void this.tick(), 1000 / MAX_UPDATES_PER_SECOND);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
  }

  async close(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const c of this.clients) c.socket.terminate();
    this.clients.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /**
   * The HTTP server's 'upgrade' handler. All checks happen before handleUpgrade: a socket that
   * fails them is answered with a plain HTTP error and closed, and never becomes a client.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // This runs outside Fastify's error handling: an exception here would end the process. Every
    // header it reads is the client's, so anything that throws is answered with a 400, never rethrown.
    socket.on('error', (e) => this.opts.log('upgrade socket error', e));
    let refusal: [number, string] | null;
    try {
      const url = req.url ?? '/';
      refusal = this.refusal(req, url.split('?')[0], url);
    } catch (e) {
      this.opts.log('upgrade refused: unreadable request', e);
      refusal = [400, 'Bad Request'];
    }
    if (refusal !== null) {
      const [status, text] = refusal;
      socket.end(
        `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
      );
      return;
    }
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    } catch (e) {
      this.opts.log('upgrade failed', e);
      socket.destroy();
    }
  }

  private refusal(req: IncomingMessage, path: string | undefined, url: string): [number, string] | null {
    if (path !== LIVE_PATH) return [404, 'Not Found'];
    const { access } = this.opts;
    if (!access.hostAllowed(req.headers.host)) return [403, 'Forbidden host'];
    const origin = req.headers.origin;
    if (!access.originAllowed(typeof origin === 'string' ? origin : undefined, req.headers.host))
      return [403, 'Forbidden origin'];
    if (!access.tokenValid(presentedToken(req.headers, url))) return [401, 'Unauthorized'];
    // Checked last, once the client has shown it may connect: it then takes a WebSocket slot.
    if (this.opts.connections !== undefined && !this.opts.connections.admitWebSocket(req.socket))
      return [503, 'Too many live clients'];
    return null;
  }

  private accept(socket: WebSocket): void {
    const client: Client = {
      socket,
      sub: null,
      sent: { status: -1, processes: -1, ledger: -1, timeline: -1 },
      lastSeq: this.opts.views.state.newestSeq,
      seq: 0,
      alive: true,
      lastDetail: null,
      lastStatusMs: 0,
      lastRemoteMs: 0,
      busy: false,
      dirtySent: -1,
      dirtyRound: 0,
      invalidMessages: 0,
      table: null,
      pie: null,
    };
    this.clients.add(client);
    socket.on('pong', () => (client.alive = true));
    socket.on('close', () => {
      this.clients.delete(client);
      this.retainEvents();
    });
    socket.on('error', (e) => this.opts.log('websocket error', e));
    socket.on('message', (raw: RawData) => this.receive(client, raw));
    const hello: HelloMessage = {
      type: 'hello',
      v,
      host: this.opts.views.state.host,
      serverTimeMs: Date.now(),
      maxUpdatesPerSecond: MAX_UPDATES_PER_SECOND,
    };
    socket.send(JSON.stringify(hello));
  }

  private receive(client: Client, raw: RawData): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawText(raw));
    } catch {
      parsed = undefined;
    }
    const r = clientMessageSchema.safeParse(parsed);
    if (!r.success) {
      if (++client.invalidMessages > INVALID_MESSAGES_MAX) {
        client.socket.close(1008, 'too many invalid messages');
        return;
      }
      if (client.socket.bufferedAmount > ANSWER_BUFFER_MAX_BYTES) return;
      const err: ErrorBody = { type: 'error', v, statusCode: 400, message: 'invalid message' };
      client.socket.send(JSON.stringify(err));
      return;
    }
    client.sub = r.data;
    // A new subscription starts from a clean slate: every part is sent again, live calls start now.
    client.sent = { status: -1, processes: -1, ledger: -1, timeline: -1 };
    client.lastSeq = this.opts.views.state.newestSeq;
    client.lastDetail = null;
    client.lastStatusMs = 0;
    client.lastRemoteMs = 0;
    // The page says which rounds it holds (it loaded them over HTTP): only newer ones are sent.
    client.dirtySent = -1;
    client.dirtyRound = r.data.dirty?.afterRound ?? 0;
    client.table = null;
    client.pie = null;
    // At once, not at the next tick: the calls made from now on are this client's to receive.
    this.retainEvents();
  }

  /** Tells the live state which events the clients following calls still need (none without one). */
  private retainEvents(): void {
    let oldest: number | null = null;
    for (const c of this.clients)
      if (c.sub?.calls !== undefined && (oldest === null || c.lastSeq < oldest)) oldest = c.lastSeq;
    this.opts.views.state.retainEventsAfter(oldest);
  }

  private heartbeat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.socket.terminate();
        this.clients.delete(c);
        continue;
      }
      c.alive = false;
      c.socket.ping();
    }
  }

  private async tick(): Promise<void> {
    await Promise.all([...this.clients].map((c) => this.update(c)));
    this.retainEvents();
  }

  private async update(c: Client): Promise<void> {
    if (c.sub === null || c.busy) return;
    if (c.socket.bufferedAmount > MAX_BUFFERED_BYTES) return;
    c.busy = true;
    try {
      const msg = await this.buildUpdate(c, c.sub);
      if (msg !== null && c.socket.readyState === c.socket.OPEN) c.socket.send(JSON.stringify(msg));
    } catch (e) {
      this.opts.log('live update failed', e);
    } finally {
      c.busy = false;
    }
  }

  private async buildUpdate(c: Client, sub: SubscribeMessage): Promise<UpdateMessage | null> {
    const { views } = this.opts;
    const state = views.state;
    const local = views.isLocal(sub.host);
    const msg: UpdateMessage = { type: 'update', v, seq: c.seq + 1, serverTimeMs: Date.now() };
    let any = false;
    const now = Date.now();
    // Status changes with every sample; it also carries ages, so it goes out at least once a second.
    if (c.sent.status !== state.version('status') || now - c.lastStatusMs >= 1000) {
      msg.status = await views.status(sub.host);
      c.sent.status = state.version('status');
      c.lastStatusMs = now;
      any = true;
    }
    // A remote host's totals come from the store, re-read every REMOTE_REFRESH_MS.
    // The table is re-sent at most once a second even when the tracer changes it constantly.
    const processesChanged = local
      ? c.sent.processes !== state.version('processes') && now - c.lastRemoteMs >= PROCESSES_MIN_INTERVAL_MS
      : now - c.lastRemoteMs >= REMOTE_REFRESH_MS;
    if (processesChanged) {
      const version = state.version('processes');
      if (local && sub.processesDelta !== undefined && c.table !== null) this.sendDelta(c, msg, version);
      else {
        const body = await views.processes(sub.host);
        msg.processes = body;
        if (local && sub.processesDelta !== undefined)
          c.table = {
            no: body.table ?? version,
            rows: new Map(body.rows.map((r) => [r.pid, r])),
            pssHistory: body.pssHistory,
          };
      }
      // The pie goes out only when its slices moved: most table changes (the tracer's call counts,
      // the figures of small processes) leave the largest ones where they were, and the page draws
      // the pie again for every one it receives.
      const pie = await views.pie(sub.host, sub.pie?.figure, sub.pie?.exited);
      if (c.pie === null || !samePie(c.pie, pie)) {
        msg.pie = pie;
        c.pie = pie;
      }
      c.sent.processes = version;
      c.lastRemoteMs = now;
      any = true;
    }
    if (c.sent.ledger !== state.version('ledger')) {
      msg.ledger = views.ledger(sub.host);
      c.sent.ledger = state.version('ledger');
      any = true;
    }
    if (local && c.sent.timeline !== state.version('timeline')) {
      const p = state.latestTimelinePoint();
      if (p !== undefined) {
        msg.timelinePoint = { categories: state.timeline().categories, point: p };
        any = true;
      }
      c.sent.timeline = state.version('timeline');
    }
    if (local && sub.detailPid !== undefined) {
      const p = state.latestHistoryPoint(sub.detailPid);
      if (p !== undefined && p.tMs !== c.lastDetail) {
        msg.detailPoint = {
          pid: sub.detailPid,
          point: p,
          row: state.processRows().find((r) => r.pid === sub.detailPid) ?? null,
        };
        c.lastDetail = p.tMs;
        any = true;
      }
    }
    if (local && sub.calls !== undefined) {
      const filter = sub.calls;
      const { events, gap } = state.eventsAfter(c.lastSeq);
      if (events.length > 0 || gap > 0) {
        c.lastSeq = state.newestSeq;
        const calls: MemEventJson[] = [];
        let skipped = gap;
        for (const { event } of events) {
          if (!callMatches(event, filter)) continue;
          if (calls.length < CALLS_PER_UPDATE) calls.push(eventToJson(event));
          else skipped++;
        }
        if (calls.length > 0) msg.calls = calls;
        if (skipped > 0) msg.callsSkipped = skipped;
        if (calls.length > 0 || skipped > 0) any = true;
      }
    }
    const dirty = this.opts.dirty ?? null;
    if (sub.dirty !== undefined && dirty !== null && c.dirtySent !== dirty.version) {
      msg.dirty = dirty.update(c.dirtyRound);
      c.dirtySent = dirty.version;
      c.dirtyRound = Math.max(c.dirtyRound, dirty.newestRound);
      any = true;
    }
    if (!any) return null;
    c.seq++;
    return msg;
  }

  /**
   * The local table as a change from the one the client holds: the rows that are not the objects
   * it was sent (new, or rebuilt because a figure moved), the pids it holds that are gone, and the
   * PSS history when it is another (a sample came).
   */
  private sendDelta(c: Client, msg: UpdateMessage, version: number): void {
    const held = c.table;
    if (held === null) return;
    const { state } = this.opts.views;
    const rows = state.processRows();
    const now = new Map<number, ProcessRow>();
    const changed: ProcessRow[] = [];
    for (const r of rows) {
      now.set(r.pid, r);
      if (held.rows.get(r.pid) !== r) changed.push(r);
    }
    const removed: number[] = [];
    for (const pid of held.rows.keys()) if (!now.has(pid)) removed.push(pid);
    const s = state.latestSample;
    const pssHistory = state.pssHistoryBody();
    msg.processesDelta = {
      baseTable: held.no,
      table: version,
      host: state.host,
      atMs: Math.max(s?.atMs ?? 0, state.tracedAt ?? 0) || null,
      totalVirtualBytes: state.totalVirtual,
      rows: changed,
      removed,
      ...(pssHistory === held.pssHistory ? {} : { pssHistory }),
    };
    c.table = { no: version, rows: now, pssHistory };
  }
}

/** Whether two pies show the same thing (the page draws nothing else of them). */
export function samePie(a: PieBody, b: PieBody): boolean {
  if (
    a.host !== b.host ||
    a.figure !== b.figure ||
    a.exitedIncluded !== b.exitedIncluded ||
    a.othersCount !== b.othersCount ||
    a.totalRequestedBytes !== b.totalRequestedBytes ||
    a.slices.length !== b.slices.length
  )
    return false;
  return a.slices.every((x, i) => {
    const y = b.slices[i];
    return y !== undefined && x.label === y.label && x.pid === y.pid && x.bytes === y.bytes;
  });
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('utf8');
  return raw.toString('utf8');
}
