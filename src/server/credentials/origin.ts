/**
 * Which kind of origin a request comes from (DESIGN "Origins"): none (native code, servers), same-origin (scheme,
 * host and port equal the request's own), listed, or foreign.
 */
import type { IncomingMessage } from 'node:http';

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

/** Only http(s) origins can be same-origin: `capacitor://localhost` is not the server at `localhost`. */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.origin !== origin.toLowerCase() && url.origin !== origin) return false;
  return url.host === stripDefaultPort(host.toLowerCase(), url.protocol);
}

export function classifyOrigin(req: IncomingMessage, allowed: (origin: string) => boolean): { kind: OriginKind; origin: string | undefined } {
  const origin = originHeader(req);
  if (origin === undefined) return { kind: 'none', origin };
  if (allowed(origin)) return { kind: 'allowed', origin };
  if (isSameOrigin(origin, req.headers.host)) return { kind: 'same', origin };
  return { kind: 'foreign', origin };
}

