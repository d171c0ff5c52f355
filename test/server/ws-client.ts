// A WebSocket client of the live hub for the server tests: every message is recorded from the
// socket's creation (the hello can arrive with the 101), and taken in order by collect().
import WebSocket from 'ws';
import type { ServerMessage } from '../../src/wire/messages.js';
import { describePredicate, waitingFor } from '../helpers/waiting.js';

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return data instanceof ArrayBuffer ? Buffer.from(data).toString('utf8') : data.toString('utf8');
}

/** Messages received on a socket, recorded from its creation (the hello can arrive with the 101). */
const inbox = new WeakMap<WebSocket, ServerMessage[]>();

export function attempt(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number } | { socket: WebSocket }> {
  return waitingFor(
    `a WebSocket handshake with ${url}`,
    () =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { headers });
        const box: ServerMessage[] = [];
        inbox.set(ws, box);
        ws.on('message', (data: WebSocket.RawData) => box.push(JSON.parse(rawText(data)) as ServerMessage));
        ws.once('unexpected-response', (_req, res) => {
          resolve({ status: res.statusCode ?? 0 });
          res.resume();
        });
        ws.once('open', () => resolve({ socket: ws }));
        ws.once('error', (e) => {
          if (!/Unexpected server response/.test(e.message)) reject(e);
        });
      }),
  );
}

/** Takes messages from the socket's inbox until `done` says stop, within the wait bound. */
export function collect(ws: WebSocket, done: (all: ServerMessage[]) => boolean): Promise<ServerMessage[]> {
  const box = inbox.get(ws) ?? [];
  const all: ServerMessage[] = [];
  return waitingFor(
    `WebSocket messages until ${describePredicate(done)}`,
    () =>
      new Promise((resolve) => {
        const check = (): void => {
          while (box.length > 0) {
            all.push(box.shift() as ServerMessage);
            if (done(all)) {
              ws.off('message', onMessage);
              resolve(all);
              return;
            }
          }
        };
        // Runs after the inbox listener (registered first) has stored the message.
        const onMessage = (): void => check();
        ws.on('message', onMessage);
        check();
      }),
  );
}
