/**
 * hs.middleware, a series of early exits (as express-session's): CORS preflight, the token endpoint, then
 * req.session from a bearer (which must be valid when present) or the cookie, else a new in-memory session.
 * Works as Express 5 / Connect middleware and inside a plain `http.createServer` handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readSessionCookie } from '../credentials/cookie.js';
import type { Core } from '../context.js';
import { answerPreflight, applyCors, isPreflight } from './cors.js';
import { classifyOrigin } from '../credentials/origin.js';
import { fallbackNext, replyInvalidToken, replyJson, replyProofRefused } from './reply.js';
import { attachHttpSession, type ResolvedFrom } from './http-session.js';
import { readBearer, requestPath } from '../credentials/bearer.js';
import { tokenEndpoint } from './token-endpoint.js';
import { admitToken } from '../renewal.js';
import { verifyToken } from '../credentials/token.js';
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
  const r = req as IncomingMessage & { [kResolved]?: boolean };
  if (r[kResolved]) return true; // mounted twice
  r[kResolved] = true;

  const { options } = core;
  const { kind, origin } = classifyOrigin(req, options.originAllowed);
  const atTokenPath = requestPath(req) === options.tokenPath;
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
    if (kind === 'foreign') {
      replyJson(res, 403, { error: 'forbidden_origin', code: 'HS_ERR_FORBIDDEN_ORIGIN', message: `origin ${origin} is not allowed` });
      return false;
    }
    await tokenEndpoint(core, req, res);
    return false;
  }

  if (!core.access.ready) throw core.access.unavailable();
  const from: ResolvedFrom = { via: 'new', cookieId: undefined, token: undefined, data: undefined, sid: undefined, renewed: undefined };
  const bearer = readBearer(req);
  from.cookieId = readSessionCookie(req, options.cookie.name, options.secrets);
  if (bearer.present) {
    // DESIGN "Which credential wins": a present bearer must be valid, even beside a valid cookie.
    const verified = verifyToken(bearer.token, options.tokenKeys);
    if (!verified) {
      replyInvalidToken(res, 'the bearer token is malformed, forged or expired');
      return false;
    }
    // A proof only counts beside the DPoP scheme (a bound token as Bearer is refused whatever else comes with it); it
    // is judged before the store is asked, as the MAC is (pure CPU), and its verdict applied once the session is read.
    const proof = options.binding !== 'off' && bearer.dpop ? proofOf(core, req, bearer.token) : undefined;
    const data = await core.access.get(verified.sid);
    if (!data) {
      replyInvalidToken(res, 'the session of this token has ended');
      return false;
    }
    const refused = judgeTokenUse(options.binding, readMeta(data).jkt, bearer.dpop, proof);
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
  } else if (from.cookieId !== undefined) {
    const data = await core.access.get(from.cookieId);
    // A signed cookie naming an unknown session gets a new session under a new id, never the cookie's id.
    if (data) Object.assign(from, { via: 'cookie', data, sid: from.cookieId });
  }
  attachHttpSession(core, req as never, res, from, next);
  return true;
}


