/**
 * POST / DELETE tokenPath (DESIGN "Token endpoint"). The one place an invalid bearer is ignored rather than
 * refused: it is how clients recover, so POST falls back to the cookie, else a new session (`created: true`),
 * and DELETE ends whatever session it can name (204 either way).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADERS, INVALID_TOKEN_CHALLENGE, STATUS, type TokenResponse } from '../../shared/protocol.js';
import { isHybridSessionError } from '../../shared/errors.js';
import { isSecure, readSessionCookie, setSessionCookie } from '../credentials/cookie.js';
import type { Core } from '../context.js';
import { clearCookie, endSession } from '../lifecycle.js';
import { freshRotation, renewToken, type Renewal } from '../renewal.js';
import { withRotation } from '../store/session-meta.js';
import { replyJson } from './reply.js';
import { readBearer } from '../credentials/bearer.js';
import { expiresOf, newCookie, newSessionId } from '../store/session-object.js';
import { readToken, signToken, verifyToken, type VerifiedToken } from '../credentials/token.js';

const ALLOW = 'POST, DELETE, OPTIONS';

export async function tokenEndpoint(core: Core, req: IncomingMessage, res: ServerResponse): Promise<void> {
  switch (req.method) {
    case 'POST':
      return issue(core, req, res);
    case 'DELETE':
      return end(core, req, res);
    case 'OPTIONS':
      res.statusCode = 204;
      res.setHeader('Allow', ALLOW);
      res.end();
      return;
    default:
      replyJson(res, 405, { error: 'method_not_allowed' }, { Allow: ALLOW });
  }
}

async function issue(core: Core, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { options, access } = core;
  if (!access.ready) throw access.unavailable();
  const now = Date.now();
  let renewal: Renewal | undefined;
  let sid: string | undefined;
  // The client's own token wins over a cookie (a planted cookie must not move it into another session). Its expiry
  // does not matter here: the current generation renews after its own expiry, an older one is judged as reuse.
  const bearer = readBearer(req);
  const presented = bearer.present ? readToken(bearer.token, options.tokenKeys) : null;
  if (presented) {
    renewal = await renewOrGone(core, presented.sid, presented, now);
    if (renewal) sid = presented.sid;
  }
  if (!renewal) {
    const cookieId = readSessionCookie(req, options.cookie.name, options.secrets);
    if (cookieId !== undefined) {
      renewal = await renewOrGone(core, cookieId, undefined, now);
      if (renewal) sid = cookieId;
    }
  }

  if (renewal?.kind === 'reuse') {
    // Two parties hold this session (DESIGN "Reuse"): end it everywhere, then tell the app.
    await endSession(core, sid!, { req, res });
    core.events.emit('reuse', { sessionID: sid!, via: 'bearer', generation: renewal.generation, currentGeneration: renewal.current });
    replyJson(
      res,
      STATUS.unauthorized,
      { error: 'invalid_token', code: 'HS_ERR_TOKEN_REUSED', message: 'this token was rotated out and used again: the session has been ended' },
      { [HEADERS.wwwAuthenticate]: INVALID_TOKEN_CHALLENGE, 'Cache-Control': 'no-store' },
    );
    return;
  }

  let created = false;
  let cookieData: Record<string, unknown>;
  let token: string;
  let expiresAt: number;
  if (!renewal || sid === undefined) {
    created = true;
    sid = newSessionId();
    const cookie = newCookie(options, req);
    expiresAt = Math.floor(Math.min(now + options.tokenMaxAge, expiresOf({ cookie })));
    const data: Record<string, unknown> = { cookie };
    withRotation(data, freshRotation(now, expiresAt));
    await access.set(sid, data);
    token = signToken(sid, expiresAt, options.tokenKeys, 0);
    cookieData = (cookie as unknown as { data: Record<string, unknown> }).data;
  } else {
    ({ token, expiresAt } = renewal);
    cookieData = (renewal.session.cookie as unknown as { data: Record<string, unknown> }).data;
  }

  if (!(cookieData.secure && !isSecure(req, options.proxy))) {
    setSessionCookie(res, options.cookie.name, sid, options.secrets[0]!, cookieData as never);
  }
  const body: TokenResponse = { token, expiresAt, storage: options.storage, created, bound: false };
  replyJson(res, 200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

/** renewToken, or undefined when the session is gone (the endpoint then falls back: cookie, else a new session). */
async function renewOrGone(core: Core, sid: string, presented: VerifiedToken | undefined, now: number): Promise<Renewal | undefined> {
  try {
    return await renewToken(core, sid, presented, now);
  } catch (err) {
    if (isHybridSessionError(err) && (err.code === 'HS_ERR_INVALID_TOKEN' || (err.code as string) === 'HS_ERR_SESSION_ENDED')) return undefined;
    throw err;
  }
}

async function end(core: Core, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { options } = core;
  const ids = new Set<string>();
  const cookieId = readSessionCookie(req, options.cookie.name, options.secrets);
  if (cookieId !== undefined) ids.add(cookieId);
  const bearer = readBearer(req);
  const verified = bearer.present ? verifyToken(bearer.token, options.tokenKeys) : null;
  if (verified) ids.add(verified.sid);
  for (const id of ids) await endSession(core, id);
  clearCookie(core, req, res);
  res.statusCode = 204;
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}
