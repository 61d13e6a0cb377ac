/**
 * How failures leave the server: 401 with the RFC 6750 challenge for a bad bearer; store failures through
 * next(err) (a HybridSessionError with `status` 500/503, which Express and Connect turn into that status), or,
 * when no next was given, a JSON error body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HybridSessionError, carriesForeignText, clientMessage, isHybridSessionError } from '../../shared/errors.js';
import { warnOnce } from '../warn.js';
import { DPOP_ALG, DPOP_SCHEME, HEADERS, INVALID_TOKEN_CHALLENGE, STATUS } from '../../shared/protocol.js';
import type { RefusedProof } from '../credentials/proof.js';
import type { NextFunction } from '../types.js';

export { HybridSessionError, isHybridSessionError };

export function replyJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** RFC 6750 §3.1: the bearer was present but is not (or no longer) good. */
export function replyInvalidToken(res: ServerResponse, description: string): void {
  replyJson(
    res,
    STATUS.unauthorized,
    { error: 'invalid_token', code: 'HS_ERR_INVALID_TOKEN', message: description },
    { [HEADERS.wwwAuthenticate]: INVALID_TOKEN_CHALLENGE, 'Cache-Control': 'no-store' },
  );
}

/**
 * RFC 9449 §7.1 / §8: a DPoP proof missing, wrong, by another key, or stale (use_dpop_nonce). The current nonce goes
 * with every such answer, so a client whose clock is off can retry once with it (a refused thief gains nothing by it:
 * the nonce is no credential).
 */
export function replyProofRefused(res: ServerResponse, refused: RefusedProof, nonce: string): void {
  const error = refused.code === 'HS_ERR_USE_DPOP_NONCE' ? 'use_dpop_nonce' : 'invalid_dpop_proof';
  replyJson(
    res,
    STATUS.unauthorized,
    { error, code: refused.code, message: refused.message },
    {
      [HEADERS.wwwAuthenticate]: `${DPOP_SCHEME} algs="${DPOP_ALG}", error="${error}"`,
      [HEADERS.dpopNonce]: nonce,
      'Cache-Control': 'no-store',
    },
  );
}

/** The `next` used when the middleware is called without one (plain http handlers that only want req.session). */
export function fallbackNext(req: IncomingMessage, res: ServerResponse): NextFunction {
  return (err?: unknown) => {
    if (err === undefined || err === null) {
      if (!res.headersSent && !res.writableEnded) replyJson(res, 404, { error: 'not_found' });
      return;
    }
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const status = isHybridSessionError(err) && err.status ? err.status : STATUS.internalError;
    const code = isHybridSessionError(err) ? err.code : 'HS_ERR_STORE';
    // The code and a short message only: a store's text (its address) is the app's to log, not the client's.
    // Without a `next` there is no error handler to give it to; a warning (once) says what happened and where.
    if (carriesForeignText(err)) {
      warnOnce('HS_UNHANDLED_STORE_ERROR', `hybrid-session: ${err instanceof Error ? err.message : String(err)} (answered ${status}; pass a next(err) to the middleware to handle every one)`);
    }
    replyJson(res, status, { error: code, message: clientMessage(err) });
  };
}
