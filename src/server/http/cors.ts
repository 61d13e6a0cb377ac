/**
 * Origins and CORS (DESIGN "Origins"): no Origin (native code, servers) and same-origin requests are allowed;
 * any other origin must be listed (exact match, `"null"` only when listed). Listed origins get credentialed
 * CORS that exposes Session-Token and WWW-Authenticate; others get no CORS headers (and 403 on websockets).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADERS } from '../../shared/protocol.js';
import { originHeader, type OriginKind } from '../credentials/origin.js';

export const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
export const CORS_ALLOW_HEADERS = `${HEADERS.authorization}, Content-Type, ${HEADERS.dpop}`;
/** Date too: the client dates the server's clock from the token endpoint's answer (a device clock off by hours). */
export const CORS_EXPOSE_HEADERS = `${HEADERS.sessionToken}, ${HEADERS.wwwAuthenticate}, ${HEADERS.dpopNonce}, Date`;
/**
 * Each preflight is a round trip on a phone network: as long as engines allow. Chromium caps it at 2 h (this),
 * WebKit at 10 min, Firefox at 24 h; 2 h is also as long as a removed origin may still pass a cached preflight
 * (the actual response still carries no CORS headers for it, so its page cannot read it).
 */
const PREFLIGHT_MAX_AGE = '7200';

export function appendVary(res: ServerResponse, field: string): void {
  const prev = res.getHeader('Vary');
  const list = prev === undefined ? [] : String(prev).split(',').map((s) => s.trim()).filter(Boolean);
  if (list.includes('*') || list.some((f) => f.toLowerCase() === field.toLowerCase())) return;
  res.setHeader('Vary', [...list, field].join(', '));
}

export function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && originHeader(req) !== undefined && req.headers['access-control-request-method'] !== undefined;
}

/** Headers for an actual (non-preflight) request. */
export function applyCors(res: ServerResponse, kind: OriginKind, origin: string | undefined): void {
  if (origin === undefined) return;
  appendVary(res, 'Origin');
  if (kind !== 'allowed') return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
}

export function answerPreflight(res: ServerResponse, origin: string): void {
  res.statusCode = 204;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  res.setHeader('Access-Control-Allow-Methods', CORS_METHODS);
  res.setHeader('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
  res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
  appendVary(res, 'Origin');
  res.setHeader('Content-Length', '0');
  res.end();
}
