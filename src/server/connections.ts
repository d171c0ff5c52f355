// How many connections the dashboard server holds, and which it lets go first. Every accepted TCP
// connection costs a file descriptor, and the process shares one RLIMIT_NOFILE with the /proc
// sampler (which opens a /proc file for each read), the tracer (one trace_pipe_raw per CPU), the
// store (the SQLite file, its WAL and shared memory, spill files) and the memtrace reader. Without a
// cap, 20,000 idle connections used up every descriptor: each request then failed and the sampler
// logged EMFILE reading /proc/meminfo. So:
// - connections are capped overall and per client address, below the descriptor limit minus a
//   reserve kept for everything else (connectionLimits);
// - when the cap is reached, a new connection takes the place of the oldest one that is doing
//   nothing: no request in progress and not a WebSocket (a client still sending its headers, or an
//   idle keep-alive socket, which HTTP allows a server to close at any time). Only when every
//   connection is busy is the new one refused. So a client sending its request at once still gets
//   in while slow-header connections hold every slot: they are the ones let go;
// - WebSocket clients, which are never let go while open, have their own smaller cap, so that
//   they can never hold every connection.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** The descriptor limit the caps were derived from (soft RLIMIT_NOFILE); null = unknown. */
  fdLimit: number | null;
  /** Descriptors left for everything but client connections. */
  reserveFds: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxWebSockets: number;
  maxWebSocketsPerAddress: number;
}

/**
 * Descriptors kept for the rest of memlens serve. Measured: a running server with tracing on a
 * 2-CPU machine holds 26 (stdio, the event loop's epoll and eventfds, worker pipes, the store's
 * files, one trace_pipe_raw per CPU). 256 leaves ten times that for the moments when the sampler,
 * the memtrace reader and the dirty watch each have a file open, plus two per CPU for the tracer.
 */
export function reserveFds(cpus: number): number {
  return 256 + 2 * cpus;
}

/** Above this many connections a dashboard has no use for more; each costs memory too. */
const CONNECTIONS_CEILING = 4096;
/**
 * A WebSocket client may have up to 4 MiB of updates queued before it is skipped (live-hub.ts),
 * so 64 clients bound that memory to 256 MiB; a user needs one per open dashboard tab.
 */
const WEBSOCKETS_MAX = 64;
const WEBSOCKETS_PER_ADDRESS_MAX = 32;

/**
 * The caps for a descriptor limit. With the usual soft limit of 1024 on 2 CPUs: 764 connections,
 * 191 per address. Node raises the soft limit to the hard one at start, so on most systems the
 * cap is the ceiling of 4096 (1024 per address).
 */
export function connectionLimits(fdLimit: number | null, cpus: number): ConnectionLimits {
  const limit = fdLimit ?? 1024;
  // A tiny limit (ulimit -n 256): half of it for connections, half for the rest.
  const reserve = Math.min(reserveFds(cpus), Math.floor(limit / 2));
  const maxConnections = Math.max(8, Math.min(CONNECTIONS_CEILING, limit - reserve));
  return {
    fdLimit,
    reserveFds: reserve,
    maxConnections,
    // A quarter per address: one host cannot take every connection. Loopback clients count per
    // address too (127.0.0.1 is one address; 127.0.0.2 another): a local user needs a handful.
    maxConnectionsPerAddress: Math.max(4, Math.floor(maxConnections / 4)),
    maxWebSockets: Math.min(WEBSOCKETS_MAX, Math.max(1, Math.floor(maxConnections / 4))),
    maxWebSocketsPerAddress: Math.min(WEBSOCKETS_PER_ADDRESS_MAX, Math.max(1, Math.floor(maxConnections / 8))),
  };
}

interface Tracked {
  socket: Socket;
  address: string;
  /** Requests whose response has not ended yet. */
  active: number;
  webSocket: boolean;
}

export interface ConnectionCounts {
  open: number;
  webSockets: number;
  /** Connections closed to make room for newer ones, and new ones refused, since the start. */
  evicted: number;
  refused: number;
}

export class ConnectionGuard {
  /** In the order they were accepted: the first idle one found is the oldest. */
  private readonly tracked = new Map<Socket, Tracked>();
  private readonly perAddress = new Map<string, number>();
  private readonly webSocketsPerAddress = new Map<string, number>();
  private webSockets = 0;
  private evicted = 0;
  private refused = 0;

  constructor(readonly limits: ConnectionLimits) {}

  counts(): ConnectionCounts {
    return { open: this.tracked.size, webSockets: this.webSockets, evicted: this.evicted, refused: this.refused };
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (req: { socket: Socket }, res: { once(ev: 'close', f: () => void): unknown }) => {
      const t = this.tracked.get(req.socket);
      if (t === undefined) return;
      t.active++;
      res.once('close', () => (t.active = Math.max(0, t.active - 1)));
    });
  }

  private admit(socket: Socket): void {
    // A socket already closed by the client has no address: nothing to track.
    const remote = socket.remoteAddress;
    if (remote === undefined) {
      socket.destroy();
      return;
    }
    // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d: one address either way.
    const address = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
    const { maxConnections, maxConnectionsPerAddress } = this.limits;
    if ((this.perAddress.get(address) ?? 0) >= maxConnectionsPerAddress && !this.evictIdle(address)) {
      this.refuse(socket);
      return;
    }
    if (this.tracked.size >= maxConnections && !this.evictIdle(null)) {
      this.refuse(socket);
      return;
    }
    this.tracked.set(socket, { socket, address, active: 0, webSocket: false });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this.forget(socket));
  }

  private refuse(socket: Socket): void {
    this.refused++;
    // No answer is written: the point is to spend nothing on it.
    socket.destroy();
  }

  private forget(socket: Socket): void {
    const t = this.tracked.get(socket);
    if (t === undefined) return;
    this.tracked.delete(socket);
    decrement(this.perAddress, t.address);
    if (t.webSocket) {
      this.webSockets--;
      decrement(this.webSocketsPerAddress, t.address);
    }
  }

  /** Closes the oldest connection (of `address`, or any) with nothing in progress; false if none. */
  private evictIdle(address: string | null): boolean {
    for (const t of this.tracked.values()) {
      if (t.active > 0 || t.webSocket || (address !== null && t.address !== address)) continue;
      this.evicted++;
      // Forgotten now, not at 'close': the slot is free for the connection being admitted.
      this.forget(t.socket);
      t.socket.destroy();
      return true;
    }
    return false;
  }

  /**
   * Called by the upgrade handler once a WebSocket has passed the access checks: true when it may
   * become a client (it then counts as a WebSocket until it closes), false when the caps are full.
   */
  admitWebSocket(socket: Socket): boolean {
    const t = this.tracked.get(socket);
    // Not accepted through this server's listener (a test driving the handler directly).
    if (t === undefined) return this.webSockets < this.limits.maxWebSockets;
    if (this.webSockets >= this.limits.maxWebSockets) return false;
    if ((this.webSocketsPerAddress.get(t.address) ?? 0) >= this.limits.maxWebSocketsPerAddress) return false;
    t.webSocket = true;
    this.webSockets++;
    this.webSocketsPerAddress.set(t.address, (this.webSocketsPerAddress.get(t.address) ?? 0) + 1);
    return true;
  }
}

function decrement(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 0) - 1;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}
