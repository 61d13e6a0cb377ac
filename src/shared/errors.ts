/**
 * One error class for both halves, with a stable `code` (as ws's `WS_ERR_*`), and, for failures that cross the
 * wire, the HTTP `status` and websocket `closeCode` they map to. The table below is the only place they are paired.
 */
import { CLOSE_CODES, STATUS } from './protocol.js';

export const ERROR_CODES = {
  /** Options rejected at creation. */
  HS_ERR_INVALID_OPTIONS: { status: undefined, closeCode: undefined },
  /** Secret missing, or weak / a well-known default in production. */
  HS_ERR_WEAK_SECRET: { status: undefined, closeCode: undefined },
  /** Token malformed, forged, expired, signed with an unknown secret, or naming a session that is gone. */
  HS_ERR_INVALID_TOKEN: { status: STATUS.unauthorized, closeCode: CLOSE_CODES.unauthorized },
  /**
   * A rotated-out token came back to the token endpoint: two parties held the session, so it was ended everywhere
   * (DESIGN "Token rotation and reuse detection"). Answered like an invalid token (401 invalid_token / 4401).
   */
  HS_ERR_TOKEN_REUSED: { status: STATUS.unauthorized, closeCode: CLOSE_CODES.unauthorized },
  /**
   * A DPoP proof (RFC 9449) missing where the session is bound, or wrong: signature, typ, alg, jwk, htm/htu, iat,
   * ath, a replayed jti, or a key other than the bound one. WWW-Authenticate: DPoP error="invalid_dpop_proof".
   */
  HS_ERR_INVALID_DPOP_PROOF: { status: STATUS.unauthorized, closeCode: CLOSE_CODES.unauthorized },
  /** The proof's iat is outside the window, or its nonce is not the server's: retry once with the DPoP-Nonce sent. */
  HS_ERR_USE_DPOP_NONCE: { status: STATUS.unauthorized, closeCode: CLOSE_CODES.unauthorized },
  /** Neither a valid token nor a session cookie on a request that needs one (websocket upgrade). */
  HS_ERR_NO_CREDENTIALS: { status: STATUS.unauthorized, closeCode: CLOSE_CODES.unauthorized },
  /** Origin not in allowedOrigins. */
  HS_ERR_FORBIDDEN_ORIGIN: { status: STATUS.forbidden, closeCode: undefined },
  /** The session store failed: never turned into a silent new session. */
  HS_ERR_STORE: { status: STATUS.internalError, closeCode: CLOSE_CODES.internalError },
  /** The session store is disconnected (e.g. Redis down). */
  HS_ERR_STORE_UNAVAILABLE: { status: STATUS.serviceUnavailable, closeCode: CLOSE_CODES.internalError },
  /**
   * The session was ended (DELETE tokenPath, destroy(), regenerate(), a revocation, expiry) after this request or
   * socket loaded it: its save / update wrote nothing (DESIGN "Ended stays ended").
   */
  HS_ERR_SESSION_ENDED: { status: STATUS.unauthorized, closeCode: CLOSE_CODES.unauthorized },
  /** A session opened more websockets than maxSocketsPerSession: its oldest closes (4408). */
  HS_ERR_TOO_MANY_CONNECTIONS: { status: undefined, closeCode: CLOSE_CODES.tooManyConnections },
  /** update(fn) could not apply after its retries (constant contention). */
  HS_ERR_CONFLICT: { status: STATUS.serviceUnavailable, closeCode: undefined },
  /** The token endpoint refused the token (401 invalid_token): the session is over and cannot be renewed (client). */
  HS_ERR_EXPIRED: { status: STATUS.unauthorized, closeCode: CLOSE_CODES.unauthorized },
  /** No answer from the token endpoint: offline, refused connection, or past the request's deadline (client). */
  HS_ERR_NETWORK: { status: undefined, closeCode: undefined },
  /** The token endpoint answered, but not with a token: an HTTP failure (`status`) or a body without one (client). */
  HS_ERR_ENDPOINT: { status: undefined, closeCode: undefined },
  /** A storage backend failed (client); carried by the `storage` event (its `error`), never thrown into the app. */
  HS_ERR_STORAGE: { status: undefined, closeCode: undefined },
  /** An RPC call failed or timed out (client / facade). */
  HS_ERR_RPC: { status: undefined, closeCode: undefined },
  HS_ERR_RPC_TIMEOUT: { status: undefined, closeCode: undefined },
} as const satisfies Record<string, { status: number | undefined; closeCode: number | undefined }>;

export type HybridSessionErrorCode = keyof typeof ERROR_CODES;

export class HybridSessionError extends Error {
  override name = 'HybridSessionError';
  readonly code: HybridSessionErrorCode;
  readonly status: number | undefined;
  readonly closeCode: number | undefined;
  /** HS_ERR_RPC: the JSON-RPC error's own `code` and `data`, as the server sent them. */
  readonly rpcCode?: number;
  readonly data?: unknown;

  constructor(
    code: HybridSessionErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number; rpcCode?: number; data?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options?.status ?? ERROR_CODES[code].status;
    this.closeCode = ERROR_CODES[code].closeCode;
    if (options && 'rpcCode' in options) {
      this.rpcCode = options.rpcCode;
      this.data = options.data;
    }
  }
}

/**
 * Store failures wrap the store's own text (an address, a file path), which is for the app's log, never a client
 * (DESIGN "Bounds"): on the wire they say only this.
 */
const CLIENT_MESSAGES: Partial<Record<HybridSessionErrorCode, string>> = {
  HS_ERR_STORE: 'session store error',
  HS_ERR_STORE_UNAVAILABLE: 'session store unavailable',
};

/**
 * The short message a client may see for `error`: the library's own message for its errors (they name no
 * address), a fixed one for store failures, and nothing of an error the library did not make.
 */
export function clientMessage(error: unknown): string {
  if (!isHybridSessionError(error)) return 'Internal Server Error';
  return CLIENT_MESSAGES[error.code] ?? error.message;
}

/** Whether `error` may carry text that must not reach a client (see clientMessage). */
export function carriesForeignText(error: unknown): boolean {
  return !isHybridSessionError(error) || CLIENT_MESSAGES[error.code] !== undefined;
}

/** Matches on name and code as well as instanceof, so it works across realms and duplicate bundles (as ky's guards). */
export function isHybridSessionError(error: unknown): error is HybridSessionError {
  return (
    error instanceof HybridSessionError ||
    (typeof error === 'object' && error !== null && (error as Error).name === 'HybridSessionError' &&
      typeof (error as HybridSessionError).code === 'string')
  );
}
