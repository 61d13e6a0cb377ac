/**
 * The one credential resolver: every caller that turns a request into "which session?" reads the request here, once —
 * its Origin, the session cookie, and the hybrid-session bearer (Authorization; on an upgrade also the bearer
 * subprotocol and the opted-in `?session_token=`) — verifies the MAC, and applies its own policy (DESIGN "Which
 * credential wins"):
 *
 *   policy     origin     a bearer with the token prefix             no (usable) bearer
 *   request    not ours   must be valid (unexpired): else refused    the cookie's session, else none
 *   endpoint   foreign    authentic (expired or not) comes first;    the cookie's session (second), else none
 *              refused    a forged one is ignored (how clients
 *                         recover)
 *   upgrade    foreign    exactly one, valid: else refused            the cookie's session, else refused
 *              refused                                               (never a new session over a websocket)
 *
 * Nothing here imports the store (a folder rule: credentials/ is pure CPU), so a refusal decided here provably
 * costs no store traffic, and the store's readiness is checked by the caller only after the MAC.
 */
import type { IncomingMessage } from 'node:http';
import type { HybridSessionError } from '../../shared/errors.js';
import { BEARER_PREFIX } from '../../shared/protocol.js';
import { queryTokens, readBearer } from './bearer.js';
import { readSessionCookie } from './cookie.js';
import { classifyOrigin, type OriginKind } from './origin.js';
import { refusal } from './refusal.js';
import { readToken, type VerifiedToken } from './token.js';

/** Who asks: an ordinary HTTP request, POST / DELETE tokenPath, or a websocket handshake. */
export type CredentialPolicy = 'request' | 'endpoint' | 'upgrade';

/** The parts of the normalized options the resolver reads (NormalizedOptions satisfies it). */
export interface CredentialConfig {
  readonly tokenKeys: readonly Buffer[];
  readonly secrets: readonly string[];
  readonly cookie: { readonly name: string };
  readonly allowQueryToken: boolean;
  readonly originAllowed: (origin: string) => boolean;
  readonly proxy: boolean | undefined;
}

export interface PresentedToken {
  /** The token as presented (a DPoP proof's `ath` is over these bytes). */
  readonly raw: string;
  /** The MAC matched one of the keys (expired or not; see `expired`); null: forged or malformed. */
  readonly verified: VerifiedToken | null;
  /** Authentic but past its own expiry. */
  readonly expired: boolean;
  /** Presented under the DPoP scheme (`Authorization: DPoP`). */
  readonly dpop: boolean;
}

export interface Credentials {
  readonly origin: { readonly kind: OriginKind; readonly origin: string | undefined };
  /**
   * The id a validly signed session cookie names (its session may be gone). On an upgrade that presents a bearer the
   * cookie is not read (undefined): it cannot change the outcome, and a cookie's HMAC per handshake is not free.
   */
  readonly cookieId: string | undefined;
  /** The hybrid-session bearer the request presents, or undefined (none, or a foreign value such as an app's API key). */
  readonly token: PresentedToken | undefined;
  /** Decided from the credentials alone, before any store lookup: answer with this error (401 / 403 / 4401). */
  readonly refused: HybridSessionError | undefined;
  /**
   * The session ids to look up, in the policy's order, without repeats: the bearer's first (a cookie planted by
   * another site must not move a client off its own token), then the cookie's when the policy falls back to it.
   */
  readonly candidates: readonly string[];
  /** Which credential the first candidate comes from. */
  readonly via: 'bearer' | 'cookie' | undefined;
}

const NO_CANDIDATES: readonly string[] = Object.freeze([]);

/**
 * Reads and judges a request's credentials for `policy`. `protocols`: an upgrade's parsed Sec-WebSocket-Protocol
 * offers (null: the header was malformed), ignored by the HTTP policies. `now`: ms since epoch, for the expiry.
 */
export function resolveCredentials(
  req: IncomingMessage,
  policy: CredentialPolicy,
  config: CredentialConfig,
  protocols: readonly string[] | null = [],
  now = Date.now(),
): Credentials {
  const origin = classifyOrigin(req, config.originAllowed, config.proxy);
  if (policy !== 'request' && origin.kind === 'foreign') {
    return refused(origin, undefined, undefined, refusal('HS_ERR_FORBIDDEN_ORIGIN', `origin ${origin.origin} is not allowed`));
  }
  if (policy === 'upgrade') return resolveUpgrade(req, config, origin, protocols, now);

  const cookieId = readSessionCookie(req, config.cookie.name, config.secrets);
  const bearer = readBearer(req);
  const token = bearer.present ? present(bearer.token, bearer.dpop, config, now) : undefined;
  if (policy === 'request') {
    if (token && !usable(token)) return refused(origin, cookieId, token, invalidToken(token));
    if (token) return found(origin, cookieId, token, [token.verified!.sid], 'bearer');
    return found(origin, cookieId, undefined, cookieId === undefined ? NO_CANDIDATES : [cookieId], cookieId === undefined ? undefined : 'cookie');
  }
  // endpoint: the client's own authentic token, even expired (the current generation renews after its expiry, an
  // older one is reuse), then the cookie.
  const candidates: string[] = [];
  if (token?.verified) candidates.push(token.verified.sid);
  if (cookieId !== undefined && !candidates.includes(cookieId)) candidates.push(cookieId);
  return found(origin, cookieId, token, candidates, token?.verified ? 'bearer' : cookieId === undefined ? undefined : 'cookie');
}

function resolveUpgrade(
  req: IncomingMessage,
  config: CredentialConfig,
  origin: Credentials['origin'],
  protocols: readonly string[] | null,
  now: number,
): Credentials {
  if (protocols === null) return refused(origin, undefined, undefined, refusal('HS_ERR_INVALID_TOKEN', 'malformed Sec-WebSocket-Protocol header'));
  // The one bearer the handshake offers: the same token offered twice counts once, two different ones are refused.
  let raw: string | undefined;
  let several = false;
  const offer = (t: string) => {
    if (raw !== undefined && raw !== t) several = true;
    raw ??= t;
  };
  for (const p of protocols) if (p.startsWith(BEARER_PREFIX)) offer(p.slice(BEARER_PREFIX.length));
  const auth = readBearer(req);
  if (auth.present) offer(auth.token);
  if (config.allowQueryToken) for (const t of queryTokens(req)) offer(t);
  if (several) return refused(origin, undefined, undefined, refusal('HS_ERR_INVALID_TOKEN', 'several bearer tokens offered'));

  if (raw !== undefined) {
    const token = present(raw, auth.dpop, config, now);
    if (!usable(token)) return refused(origin, undefined, token, invalidToken(token));
    return found(origin, undefined, token, [token.verified!.sid], 'bearer');
  }
  const cookieId = readSessionCookie(req, config.cookie.name, config.secrets);
  if (cookieId === undefined) return refused(origin, undefined, undefined, refusal('HS_ERR_NO_CREDENTIALS', 'no session token and no session cookie'));
  return found(origin, cookieId, undefined, [cookieId], 'cookie');
}

function present(raw: string, dpop: boolean, config: CredentialConfig, now: number): PresentedToken {
  const verified = readToken(raw, config.tokenKeys);
  return { raw, verified, expired: verified !== null && verified.expiresAt <= now, dpop };
}

/** Authentic and unexpired: what an ordinary request or a handshake needs. */
function usable(token: PresentedToken): boolean {
  return token.verified !== null && !token.expired;
}

function invalidToken(token: PresentedToken): HybridSessionError {
  void token; // what was wrong stays unsaid: malformed, forged and expired read the same to the client
  return refusal('HS_ERR_INVALID_TOKEN', 'the bearer token is malformed, forged or expired');
}

function refused(origin: Credentials['origin'], cookieId: string | undefined, token: PresentedToken | undefined, error: HybridSessionError): Credentials {
  return { origin, cookieId, token, refused: error, candidates: NO_CANDIDATES, via: undefined };
}

function found(
  origin: Credentials['origin'],
  cookieId: string | undefined,
  token: PresentedToken | undefined,
  candidates: readonly string[],
  via: Credentials['via'],
): Credentials {
  return { origin, cookieId, token, refused: undefined, candidates, via };
}
