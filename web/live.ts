// The WebSocket to the server: reconnects with back-off, re-sends the subscription after each
// reconnect, and hands typed messages to the page. The server batches (at most 4 a second).
import type { ServerMessage, SubscribeMessage } from '../src/wire/messages.js';
import { MESSAGES_WIRE_VERSION } from '../src/wire/messages.js';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export class LiveConnection {
  private socket: WebSocket | null = null;
  private sub: SubscribeMessage = { type: 'subscribe', v: MESSAGES_WIRE_VERSION };
  private retryMs = 500;

  constructor(
    private readonly onMessage: (m: ServerMessage) => void,
    private readonly onState: (s: ConnectionState) => void,
  ) {}

  connect(): void {
    this.onState(this.socket === null ? 'connecting' : 'reconnecting');
    const url = new URL('/api/v1/live', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    this.socket = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.onState('live');
      ws.send(JSON.stringify(this.sub));
    };
    ws.onmessage = (ev: MessageEvent<unknown>) => {
      if (typeof ev.data !== 'string') return;
      let m: unknown;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (typeof m !== 'object' || m === null || (m as { v?: unknown }).v !== MESSAGES_WIRE_VERSION) return;
      this.onMessage(m as ServerMessage);
    };
    ws.onclose = () => {
      this.onState('reconnecting');
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(10_000, this.retryMs * 2);
    };
  }

  subscribe(sub: Omit<SubscribeMessage, 'type' | 'v'>): void {
    this.sub = { type: 'subscribe', v: MESSAGES_WIRE_VERSION, ...sub };
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(this.sub));
  }
}
