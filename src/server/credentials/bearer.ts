/**
 * Reading credentials off a request, cheaply and without trusting them: the bearer (Authorization, the
 * websocket subprotocol, the opted-in query parameter) and the signed cookie. Nothing here touches the store.
 */
import type { IncomingMessage } from 'node:http';
import { QUERY_TOKEN_PARAM } from '../../shared/protocol.js';

export interface BearerPresence {
  /** The Authorization scheme was Bearer or DPoP (any case, RFC 7235): from here on it must be valid. */
  present: boolean;
  token: string;
  /** The scheme was DPoP (RFC 9449 §7.1): the token is presented as bound, with a proof in the DPoP header. */
  dpop: boolean;
}

const NO_BEARER: BearerPresence = { present: false, token: '', dpop: false };

/** `Authorization: Bearer <token>` or `DPoP <token>`; another scheme (Basic…) is not a bearer and is left to the app. */
export function readBearer(req: IncomingMessage): BearerPresence {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return NO_BEARER;
  const value = header.trim();
  const space = value.search(/[ \t]/);
  const scheme = (space === -1 ? value : value.slice(0, space)).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') return NO_BEARER;
  return { present: true, token: space === -1 ? '' : value.slice(space + 1).trim(), dpop: scheme === 'dpop' };
}

/** The DPoP header's value: several headers arrive joined with ", " and are then not one JWS (proof.ts refuses them). */
export function readProof(req: IncomingMessage): string | undefined {
  const value = req.headers.dpop;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The URL a proof's htu must name (RFC 9449 §4.3): the request as this server saw it — the scheme it came over (TLS,
 * or a trusted X-Forwarded-Proto with `proxy`), ws/wss for an upgrade, its Host, and the full path (mount point
 * included, as Express's originalUrl), without the query.
 */
export function requestHtu(req: IncomingMessage, secure: boolean, upgrade: boolean): string {
  const scheme = upgrade ? (secure ? 'wss' : 'ws') : secure ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? ''}${requestPath(req)}`;
}

/** RFC 7230 tchar, as ws validates subprotocol names. */
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The offered subprotocols, or null when the header is not a valid list (ws would refuse it with 400): same
 * rules as ws's subprotocol.parse (tokens separated by commas, optional whitespace, no duplicates).
 */
export function parseProtocols(header: string | string[] | undefined): string[] | null {
  if (header === undefined) return [];
  const value = Array.isArray(header) ? header.join(',') : header;
  const out: string[] = [];
  let start = 0;
  // Runs on every upgrade: index arithmetic and one regex test per offer, no per-offer trimming regex.
  while (start <= value.length) {
    let end = value.indexOf(',', start);
    if (end === -1) end = value.length;
    let a = start;
    let b = end;
    while (a < b && isSpace(value.charCodeAt(a))) a++;
    while (b > a && isSpace(value.charCodeAt(b - 1))) b--;
    const p = value.slice(a, b);
    if (!TCHAR.test(p) || out.includes(p)) return null;
    out.push(p);
    start = end + 1;
  }
  return out;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09;

/** `?session_token=` values (only read when the server opted in with allowQueryToken). */
export function queryTokens(req: IncomingMessage): string[] {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q === -1) return [];
  try {
    return new URLSearchParams(url.slice(q + 1)).getAll(QUERY_TOKEN_PARAM);
  } catch {
    return [];
  }
}

/** The request path (mount point included, as Express's originalUrl), without the query. */
export function requestPath(req: IncomingMessage): string {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
