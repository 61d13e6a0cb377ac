/**
 * Which kind of origin a request comes from (DESIGN "Origins"): none (native code, servers), same-origin (scheme,
 * host and port equal the request's own), listed, or foreign.
 */
import type { IncomingMessage } from 'node:http';
import { isSecure } from './cookie.js';

export type OriginKind = 'none' | 'same' | 'allowed' | 'foreign';

export function originHeader(req: IncomingMessage): string | undefined {
  const o = req.headers.origin ?? req.headers['sec-websocket-origin'];
  return Array.isArray(o) ? o[0] : o;
}

function stripDefaultPort(host: string, protocol: string): string {
  if (protocol === 'http:' && host.endsWith(':80')) return host.slice(0, -3);
  if (protocol === 'https:' && host.endsWith(':443')) return host.slice(0, -4);
  return host;
}

/**
 * Only http(s) origins can be same-origin: `capacitor://localhost` is not the server at `localhost`; and the scheme
 * must be the request's own (`secure`: it came over TLS, or a trusted proxy says so): `http://host` is not `https://host`.
 */
function isSameOrigin(origin: string, host: string | undefined, secure: boolean): boolean {
  if (!host) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== (secure ? 'https:' : 'http:')) return false;
  if (url.origin !== origin.toLowerCase() && url.origin !== origin) return false;
  return url.host === stripDefaultPort(host.toLowerCase(), url.protocol);
}

/** `proxy`: the server's `proxy` option (X-Forwarded-Proto is trusted only with `true`). */
export function classifyOrigin(req: IncomingMessage, allowed: (origin: string) => boolean, proxy: boolean | undefined): { kind: OriginKind; origin: string | undefined } {
  const origin = originHeader(req);
  if (origin === undefined) return { kind: 'none', origin };
  if (allowed(origin)) return { kind: 'allowed', origin };
  if (isSameOrigin(origin, req.headers.host, isSecure(req, proxy))) return { kind: 'same', origin };
  return { kind: 'foreign', origin };
}

