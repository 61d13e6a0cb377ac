/**
 * hs.middleware, a series of early exits (as express-session's): CORS preflight, the token endpoint, then
 * req.session from a bearer (which must be valid when present) or the cookie, else a new in-memory session.
 * Works as Express 5 / Connect middleware and inside a plain `http.createServer` handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../context.js';
import { answerPreflight, applyCors, isPreflight } from './cors.js';
import { fallbackNext, replyInvalidToken, replyJson, replyProofRefused } from './reply.js';
import { attachHttpSession, type ResolvedFrom } from './http-session.js';
import { requestPath } from '../credentials/bearer.js';
import { resolveCredentials } from '../credentials/resolve.js';
import { tokenEndpoint } from './token-endpoint.js';
import { admitToken } from '../renewal.js';
import type { Middleware, NextFunction } from '../types.js';
import { judgeTokenUse } from '../credentials/possession.js';
import { proofOf } from './proof-of.js';
import { readMeta } from '../store/session-meta.js';

const kResolved = Symbol.for('hybrid-session.resolved');

export function createMiddleware(core: Core): Middleware {
  return function hybridSessionMiddleware(req: IncomingMessage, res: ServerResponse, next?: NextFunction): void {
    const done = typeof next === 'function' ? next : fallbackNext(req, res);
    handle(core, req, res, done).then(
      (proceed) => {
        if (proceed) done();
      },
      (err) => done(err),
    ).catch((err) => setImmediate(() => {
      throw err; // an app handler threw from inside next(): surface it as a sync handler's throw would
    }));
  };
}

/** true: continue to the app (next()); false: answered here. */
async function handle(core: Core, req: IncomingMessage, res: ServerResponse, next: NextFunction): Promise<boolean> {
  const r = req as IncomingMessage & { [kResolved]?: boolean; session?: unknown };
  if (r[kResolved]) return true; // mounted twice
  r[kResolved] = true;

  const { options } = core;
  const path = requestPath(req);
  const atTokenPath = path === options.tokenPath;
  // Read once, MAC included, before anything asks the store (credentials/resolve.ts holds the precedence rules).
  const creds = resolveCredentials(req, atTokenPath ? 'endpoint' : 'request', options);
  const { kind, origin } = creds.origin;
  if (isPreflight(req)) {
    if (kind === 'allowed') {
      answerPreflight(res, origin!);
      return false;
    }
    if (!atTokenPath) return true; // not ours to refuse: the app (or its own CORS) answers
  }
  applyCors(res, kind, origin);

  if (atTokenPath) {
    // A foreign page must not mint or end sessions: a cross-site POST needs no preflight.
    if (creds.refused) {
      replyJson(res, 403, { error: 'forbidden_origin', code: 'HS_ERR_FORBIDDEN_ORIGIN', message: creds.refused.message });
      return false;
    }
    await tokenEndpoint(core, req, res, creds);
    return false;
  }

  // As express-session (CORS applied first): a req.session an earlier middleware set is left alone, and outside
  // cookie.path there is no session at all (else every request there would make one, and a modified one an orphan
  // stored session).
  if (r.session !== undefined || !path.startsWith(options.cookie.path)) return true;

  // DESIGN "Which credential wins": a present bearer must be valid, even beside a valid cookie (decided by the MAC,
  // so a forged token costs no store traffic, even while the store is down).
  if (creds.refused) {
    replyInvalidToken(res, creds.refused.message);
    return false;
  }
  if (!core.access.ready) throw core.access.unavailable();
  const from: ResolvedFrom = { via: 'new', cookieId: creds.cookieId, token: undefined, data: undefined, sid: undefined, renewed: undefined };
  const token = creds.via === 'bearer' ? creds.token : undefined;
  if (token?.verified) {
    const verified = token.verified;
    // A proof only counts beside the DPoP scheme (a bound token as Bearer is refused whatever else comes with it); it
    // is judged before the store is asked, as the MAC is (pure CPU), and its verdict applied once the session is read.
    const proof = options.binding !== 'off' && token.dpop ? proofOf(core, req, token.raw) : undefined;
    const data = await core.access.get(verified.sid);
    if (!data) {
      replyInvalidToken(res, 'the session of this token has ended');
      return false;
    }
    const refused = judgeTokenUse(options.binding, readMeta(data).jkt, token.dpop, proof);
    if (refused) {
      replyProofRefused(res, refused, core.proofs.nonces.current());
      return false;
    }
    // Its generation: current, or the previous one within the grace (DESIGN "Token rotation"); a first use is
    // recorded and a token past half its life rotates, both before the app runs so its own save keeps them.
    const admitted = await admitToken(core, verified.sid, data, verified, 'request');
    if (admitted.kind === 'refuse') {
      replyInvalidToken(res, 'the bearer token was rotated out');
      return false;
    }
    Object.assign(from, { via: 'bearer', token: verified, data: admitted.data, sid: verified.sid, renewed: admitted.renewed });
  } else if (creds.via === 'cookie') {
    const data = await core.access.get(creds.candidates[0]!);
    // A signed cookie naming an unknown session gets a new session under a new id, never the cookie's id.
    if (data) Object.assign(from, { via: 'cookie', data, sid: creds.candidates[0] });
  }
  attachHttpSession(core, req as never, res, from, next);
  return true;
}


