/**
 * POST / DELETE tokenPath (DESIGN "Token endpoint"). The one place an invalid bearer is ignored rather than
 * refused: it is how clients recover, so POST falls back to the cookie, else a new session (`created: true`),
 * and DELETE ends whatever session it can name (204 either way).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenResponse } from '../../shared/protocol.js';
import { clearSessionCookie, isSecure, readSessionCookie, setSessionCookie } from '../credentials/cookie.js';
import { issueFor, type Core } from '../context.js';
import { replyJson } from './reply.js';
import { readBearer } from '../credentials/bearer.js';
import { expiresOf, inflateSession, newCookie, newSessionId } from '../store/session-object.js';
import type { SessionData } from '../store/access.js';
import { provisionalData } from '../store/provisional.js';
import { verifyToken } from '../credentials/token.js';

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
  const { options, access, store } = core;
  if (!access.ready) throw access.unavailable();
  let sid: string | undefined;
  let data: SessionData | null = null;
  const cookieId = readSessionCookie(req, options.cookie.name, options.secrets);
  if (cookieId !== undefined) {
    data = await access.get(cookieId);
    if (data) sid = cookieId;
  }
  if (!data) {
    const bearer = readBearer(req);
    const verified = bearer.present ? verifyToken(bearer.token, options.tokenKeys) : null;
    if (verified) {
      data = await access.get(verified.sid);
      if (data) sid = verified.sid;
    }
  }

  let created = false;
  let cookieData: Record<string, unknown>;
  let sessionExpires: number;
  if (!data || sid === undefined) {
    created = true;
    sid = newSessionId();
    const cookie = newCookie(options, req);
    // No credential named a session: provisional until something else uses it (store/provisional.ts).
    await access.set(sid, provisionalData(cookie, options.provisionalMaxAge));
    cookieData = (cookie as unknown as { data: Record<string, unknown> }).data;
    sessionExpires = expiresOf({ cookie });
  } else {
    // Asking for a token is activity: extend the session (touch) so the new token is not capped by a stale expiry.
    const storedExpires = expiresOf(data);
    const sess = inflateSession(store, { sessionID: sid, sessionStore: store }, data);
    sess.touch();
    const touched = await access.touch(sid, sess);
    sessionExpires = touched ? expiresOf(sess) : storedExpires;
    cookieData = (sess.cookie as unknown as { data: Record<string, unknown> }).data;
  }

  const { token, expiresAt } = issueFor(options, sid, sessionExpires);
  if (!(cookieData.secure && !isSecure(req, options.proxy))) {
    setSessionCookie(res, options.cookie.name, sid, options.secrets[0]!, cookieData as never);
  }
  const body: TokenResponse = { token, expiresAt, storage: options.storage, created, bound: false };
  replyJson(res, 200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

async function end(core: Core, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { options, access, registry } = core;
  const ids = new Set<string>();
  const cookieId = readSessionCookie(req, options.cookie.name, options.secrets);
  if (cookieId !== undefined) ids.add(cookieId);
  const bearer = readBearer(req);
  const verified = bearer.present ? verifyToken(bearer.token, options.tokenKeys) : null;
  if (verified) ids.add(verified.sid);
  for (const id of ids) {
    await access.destroy(id);
    registry.revoke(id);
  }
  const c = options.cookie;
  clearSessionCookie(res, c.name, {
    path: c.path,
    domain: c.domain,
    httpOnly: c.httpOnly,
    secure: c.secure === 'auto' ? isSecure(req, options.proxy) : c.secure,
    sameSite: c.sameSite,
  });
  res.statusCode = 204;
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}
