// Raw HTTP/1.1 over a real socket, for requests node:http would refuse to send (headers too long,
// bytes that are not HTTP) and for reading exactly what the server wrote back.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { waitingFor } from '../helpers/waiting.js';

export interface RawAnswer {
  /** 0 when the server closed the connection without a status line. */
  status: number;
  headers: Map<string, string>;
  body: string;
  raw: string;
}

export function parseAnswer(raw: string): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: m === null ? 0 : Number(m[1]), headers, body: end < 0 ? '' : raw.slice(end + 4), raw };
}

/**
 * Sends `request` and collects what comes back until the server closes the connection, or until a
 * complete answer with Content-Length has arrived. A server that stalls fails the wait after
 * `boundMs` (generous: the point is to tell a stall from an answer, not to time one).
 */
export function rawExchange(
  port: number,
  request: string | Buffer,
  opts: { localAddress?: string; boundMs?: number; untilHead?: boolean; halfClose?: boolean } = {},
): Promise<RawAnswer> {
  const bound = opts.boundMs ?? 60_000;
  return waitingFor(
    `an answer from 127.0.0.1:${port} to ${JSON.stringify(request.toString('latin1').slice(0, 80))}`,
    () =>
      new Promise<RawAnswer>((resolve, reject) => {
        const socket: Socket = connect({
          host: '127.0.0.1',
          port,
          ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
        });
        let raw = '';
        let settled = false;
        const finish = (): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          socket.destroy();
          resolve(parseAnswer(raw));
        };
        const timer = setTimeout(() => {
          settled = true;
          socket.destroy();
          reject(
            new Error(
              `no complete answer from 127.0.0.1:${port} within ${bound / 1000} s; got ${JSON.stringify(raw.slice(0, 200))}`,
            ),
          );
        }, bound);
        socket.setEncoding('latin1');
        socket.on('data', (d: string) => {
          raw += d;
          const a = parseAnswer(raw);
          const length = a.headers.get('content-length');
          // untilHead: a 101 (a WebSocket) has no end; the head is the answer.
          if (opts.untilHead === true && raw.includes('\r\n\r\n')) finish();
          else if (a.status !== 0 && length !== undefined && Buffer.byteLength(a.body, 'latin1') >= Number(length))
            finish();
        });
        socket.on('close', finish);
        // A reset after the answer is still an answer; before it, the status stays 0.
        socket.on('error', () => undefined);
        // halfClose: the request is all there is (a truncated one then meets end of file, not a wait).
        if (opts.halfClose === true) socket.end(request);
        else socket.write(request);
      }),
  );
}

/** A GET with the given headers, as raw bytes. */
export function rawGet(path: string, headers: Record<string, string>): string {
  return `GET ${path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}
