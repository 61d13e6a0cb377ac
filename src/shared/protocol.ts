/**
 * The wire protocol: the one table both halves import (as socket.io's parser is shared by its client and
 * server). Nothing here may use DOM or Node APIs.
 */

/** The subprotocol the server selects; the bearer subprotocol is never echoed back. */
export const SUBPROTOCOL = 'hybrid-session';
/** Offered next to SUBPROTOCOL as `hybrid-session.bearer.<token>`: the only header a browser lets a websocket set. */
export const BEARER_PREFIX = 'hybrid-session.bearer.';

/**
 * Offered as `hybrid-session.dpop.<proof>` beside the bearer subprotocol by a client whose session is bound (DESIGN
 * "Device binding"): a compact JWS is base64url and dots, so it is a valid subprotocol token too. Never echoed.
 */
export const DPOP_PREFIX = 'hybrid-session.dpop.';

export const TOKEN_PATH = '/session/token';
/** Tokens must fit a Sec-WebSocket-Protocol value and a header without surprising any proxy. */
export const TOKEN_MAX_LENGTH = 512;
/** base64url characters and dots only: a valid RFC 6455 subprotocol token and a valid RFC 6750 b64token. */
export const TOKEN_CHARSET = /^[A-Za-z0-9_.-]+$/;
/** First segment of every token; bump when the layout changes so old servers refuse new tokens cleanly. */
export const TOKEN_VERSION = 'v1';

export const HEADERS = {
  authorization: 'Authorization',
  /** Carries a fresh token on any response: after regenerate(), or when the presented one nears expiry. */
  sessionToken: 'Session-Token',
  wwwAuthenticate: 'WWW-Authenticate',
  /** RFC 9449: the proof of possession, one compact JWS per request. */
  dpop: 'DPoP',
  /** RFC 9449 §8: the server's nonce, sent with a use_dpop_nonce challenge; the client's next proof carries it. */
  dpopNonce: 'DPoP-Nonce',
} as const;

/** RFC 9449 §4.2: the JOSE header's typ and the one signature algorithm both halves use (WebCrypto ECDSA P-256). */
export const DPOP_TYP = 'dpop+jwt';
export const DPOP_ALG = 'ES256';
/** The Authorization scheme of a bound session's token (RFC 9449 §7.1). */
export const DPOP_SCHEME = 'DPoP';

/** RFC 6750 §3: what a 401 for a bad bearer says. */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

export const CLOSE_CODES = {
  normal: 1000,
  /** Store failure: a server error the client may retry, not a logout. */
  internalError: 1011,
  /** Token invalid / expired / revoked, or the session was destroyed or regenerated: renew, then reconnect. */
  unauthorized: 4401,
  /** A new socket of the session went past maxSocketsPerSession: this one, the oldest, made room. Not a logout. */
  tooManyConnections: 4408,
} as const;

export const STATUS = {
  unauthorized: 401,
  forbidden: 403,
  internalError: 500,
  serviceUnavailable: 503,
} as const;

export type StorageHint = 'indexedDB' | 'localStorage' | 'memory';
export const STORAGE_HINTS: readonly StorageHint[] = ['indexedDB', 'localStorage', 'memory'];

/** Body of a 200 from POST tokenPath. */
export interface TokenResponse {
  token: string;
  /** ms since epoch */
  expiresAt: number;
  storage: StorageHint;
  created: boolean;
  /** The session is bound to the key of this request's DPoP proof: from now on use `Authorization: DPoP` + proofs. */
  bound: boolean;
}

/** The query parameter read only when the server opts in with allowQueryToken (it leaks into logs). */
export const QUERY_TOKEN_PARAM = 'session_token';

/** JSON-RPC 2.0 error codes used by the SocketStream facade. */
export const RPC_ERRORS = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  /** An answer that cannot be encoded as JSON (a BigInt, a cycle, nesting deeper than the stack). */
  internalError: -32603,
  /** An action that threw, or a call refused because too many of this socket's calls are running. */
  actionFailed: -32000,
} as const;

/**
 * JSON-RPC notification the SocketStream facade sends on a session's websockets when the session id changes
 * under them (`req.session.setUserId()`): `{"jsonrpc":"2.0","method":RPC_TOKEN_NOTIFICATION,"params":[{token, expiresAt}]}`.
 * The client stores the token as if the endpoint had issued it.
 */
export const RPC_TOKEN_NOTIFICATION = 'hybrid-session.token';

/**
 * Cheap shape check both halves use before doing anything with a token: the version prefix included, so a value
 * that is not a hybrid-session token (a stale or foreign one, which the server would treat as no bearer) is dropped
 * by the client instead of being sent forever.
 */
export function isWellFormedToken(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length <= TOKEN_MAX_LENGTH &&
    value.startsWith(TOKEN_VERSION + '.') &&
    TOKEN_CHARSET.test(value)
  );
}
