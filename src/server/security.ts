// Who may talk to the dashboard. A server that shows every process's command line and memory
// must not become readable by any web page the user happens to visit, nor by the network:
// - it listens on loopback unless told otherwise, and any other address requires a token;
// - the Host header must name this server (DNS rebinding: a hostile page whose domain resolves
//   to 127.0.0.1 sends its own name as Host);
// - a browser WebSocket carries an Origin, which must be this server too (browsers do not apply
//   the same-origin policy to WebSocket connections);
// - the token is compared in constant time, and before the WebSocket upgrade is accepted,
//   so an unauthorised socket never joins the clients that receive updates.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';

export const TOKEN_COOKIE = 'memlens_token';

export interface AccessPolicy {
  /** Null when no token is required (loopback without --token). */
  readonly token: string | null;
  readonly allowedHosts: ReadonlySet<string>;
  hostAllowed(hostHeader: string | undefined): boolean;
  /**
   * A browser's Origin ("http://127.0.0.1:7878") must be this server as the request reached it:
   * scheme http, an allowed host, and the host and port of the request's own Host header.
   * Absent = not a browser.
   */
  originAllowed(originHeader: string | undefined, hostHeader: string | undefined): boolean;
  tokenValid(candidate: string | undefined): boolean;
}

export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** 32 random bytes, URL-safe. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Lower-cased host name without the port: "Example.org:7878" → "example.org", "[::1]:1" → "::1". */
export function hostWithoutPort(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(':');
  // More than one colon without brackets is a bare IPv6 address (not valid in Host, kept whole).
  if (colon >= 0 && h.indexOf(':', colon + 1) < 0) return h.slice(0, colon);
  return h;
}

/** Constant-time comparison of two secrets of any length: both are hashed to 32 bytes first. */
export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export interface AccessOptions {
  /** The address the server listens on. */
  listenHost: string;
  /** Extra names the server may be reached by (e.g. a DNS name of the machine). */
  extraHosts?: string[];
  /** A given token; when null, one is generated if the listen address is not loopback. */
  token: string | null;
}

export function createAccessPolicy(opts: AccessOptions): AccessPolicy {
  const token = opts.token ?? (isLoopbackAddress(opts.listenHost) ? null : generateToken());
  const allowed = new Set<string>(['localhost', '127.0.0.1', '::1']);
  const listen = hostWithoutPort(
    opts.listenHost.includes(':') && !opts.listenHost.startsWith('[') ? `[${opts.listenHost}]` : opts.listenHost,
  );
  const wildcard = listen === '0.0.0.0' || listen === '::';
  if (!wildcard) allowed.add(listen);
  else {
    // Bound to every interface: every address of this machine is a name it may be reached by.
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) allowed.add(a.address.toLowerCase());
  }
  for (const h of opts.extraHosts ?? []) allowed.add(hostWithoutPort(h));

  const hostAllowed = (hostHeader: string | undefined): boolean =>
    hostHeader !== undefined && allowed.has(hostWithoutPort(hostHeader));
  return {
    token,
    allowedHosts: allowed,
    hostAllowed,
    originAllowed(originHeader, hostHeader) {
      if (originHeader === undefined) return true;
      // Browsers do not apply the same-origin policy to WebSocket: a page on localhost:3000 (any
      // local web server, a dev server) may open ws://localhost:7878 and read every update. Its
      // Origin names its own port, while the browser sets Host to the server's. The port is
      // compared with the Host header's rather than the listening port, so that a forwarded port
      // (ssh -L 9000:localhost:7878, where the page is http://localhost:9000) keeps working.
      const origin = parseHttpAuthority(originHeader, false);
      const host = hostHeader === undefined ? null : parseHttpAuthority(hostHeader, true);
      return (
        origin !== null &&
        host !== null &&
        hostAllowed(hostHeader) &&
        origin.host === host.host &&
        origin.port === host.port
      );
    },
    tokenValid(candidate) {
      if (token === null) return true;
      if (candidate === undefined || candidate === '') return false;
      return secretsEqual(candidate, token);
    },
  };
}

/**
 * The host and port of an Origin ("http://h:p", the server is plain HTTP) or of a Host header
 * ("h:p"), with the port made explicit (80 when absent); null when it is not one.
 */
function parseHttpAuthority(text: string, isHostHeader: boolean): { host: string; port: string } | null {
  let url: URL;
  try {
    url = new URL(isHostHeader ? `http://${text}` : text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:') return null;
  // Exactly scheme://host[:port] (an Origin), exactly host[:port] (a Host): no user, path or query.
  if (isHostHeader ? /[@/?#\\]/.test(text) : text.trim().toLowerCase() !== url.origin) return null;
  return { host: url.hostname.toLowerCase(), port: url.port === '' ? '80' : url.port };
}

/**
 * Fetch Metadata (https://www.w3.org/TR/fetch-metadata/): browsers say whether a request comes from
 * the dashboard's own page ("same-origin"), from the user ("none": the address bar, a bookmark) or
 * from another site. Another site's page may link to the dashboard (a navigation) but never call
 * the API, not even with mode no-cors, where it cannot read the answer but still makes the server
 * do the work. "same-site" is refused too: a page on localhost:3000 is same-site with
 * localhost:7878 (a site ignores the port). Non-browser clients send no Sec-Fetch-Site.
 */
export function fetchSiteAllowed(
  site: string | string[] | undefined,
  mode: string | string[] | undefined,
  path: string,
): boolean {
  if (site === undefined || site === 'same-origin' || site === 'none') return true;
  return mode === 'navigate' && !path.startsWith('/api/') && path !== '/metrics';
}

/** The token a request presents: `Authorization: Bearer …`, `?token=…`, or the cookie set at login. */
export function presentedToken(
  headers: Record<string, string | string[] | undefined>,
  url: string,
): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m?.[1] !== undefined) return m[1];
  }
  const q = queryToken(url);
  if (q !== undefined) return q;
  const cookie = headers.cookie;
  if (typeof cookie === 'string') {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) return decodeCookieValue(part.slice(eq + 1).trim());
    }
  }
  return undefined;
}

/**
 * A cookie value as the server set it (percent-encoded). Any client can send any bytes here, so a
 * malformed escape such as "%E0%A4%A" is not an error to raise (decodeURIComponent throws
 * URIError): it is a token that matches nothing, returned as sent.
 */
export function decodeCookieValue(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export function queryToken(url: string): string | undefined {
  const qi = url.indexOf('?');
  if (qi < 0) return undefined;
  return new URLSearchParams(url.slice(qi + 1)).get('token') ?? undefined;
}
