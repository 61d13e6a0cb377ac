/**
 * POST / DELETE tokenPath (DESIGN "Token endpoint"). The one place an invalid bearer is ignored rather than
 * refused: it is how clients recover, so POST falls back to the cookie, else a new session (`created: true`),
 * and DELETE ends whatever session it can name (204 either way).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenResponse } from '../../shared/protocol.js';
import { clearSessionCookie, isSecure, readSessionCookie, setSessionCookie } from '../credentials/cookie.js';
import { issueFor, type Core } from '../context.js';
import { replyJson, replyProofRefused } from './reply.js';
import { readBearer } from '../credentials/bearer.js';
import { expiresOf, inflateSession, newCookie, newSessionId } from '../store/session-object.js';
import type { SessionData } from '../store/access.js';
import { verifyToken } from '../credentials/token.js';
import { judgeTokenRequest } from '../credentials/possession.js';
import type { RefusedProof } from '../credentials/proof.js';
import { readMeta, writeMeta } from '../store/session-meta.js';
import { updateSession } from '../store/update.js';
import { proofOf } from './proof-of.js';

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
  const bearer = readBearer(req);
  // The proof is judged first (pure CPU); what it means depends on the session (possession.ts).
  const proof = options.binding === 'off' ? undefined : proofOf(core, req, bearer.present ? bearer.token : undefined);
  const cookieId = readSessionCookie(req, options.cookie.name, options.secrets);
  if (cookieId !== undefined) {
    data = await access.get(cookieId);
    if (data) sid = cookieId;
  }
  if (!data) {
    const verified = bearer.present ? verifyToken(bearer.token, options.tokenKeys) : null;
    if (verified) {
      data = await access.get(verified.sid);
      if (data) sid = verified.sid;
    }
  }

  const known = data !== null && sid !== undefined;
  const verdict = judgeTokenRequest(options.binding, known ? readMeta(data).jkt : undefined, known && sid === cookieId, proof);
  if (!verdict.ok) {
    replyProofRefused(res, verdict, core.proofs.nonces.current());
    return;
  }

  let created = false;
  let cookieData: Record<string, unknown>;
  let sessionExpires: number;
  if (!data || sid === undefined) {
    created = true;
    sid = newSessionId();
    const cookie = newCookie(options, req);
    const fresh: SessionData = { cookie: cookie as never };
    if (verdict.bind) writeMeta(fresh, { v: 0, jkt: verdict.bind });
    await access.set(sid, fresh);
    cookieData = (cookie as unknown as { data: Record<string, unknown> }).data;
    sessionExpires = expiresOf({ cookie });
  } else if (verdict.bind) {
    // Binding (or moving to a new key) is a write of the library's own field: atomic against update()s elsewhere,
    // and judged again on what the store holds now (another request may have bound it meanwhile).
    const bind = verdict.bind;
    const s = sid;
    let refused: RefusedProof | undefined;
    const sess = await updateSession(core, sid, (d) => inflateSession(store, { sessionID: s, sessionStore: store }, d), (fresh) => {
      const again = judgeTokenRequest(options.binding, readMeta(fresh).jkt, s === cookieId, proof);
      if (!again.ok) throw (refused = again);
      fresh.touch();
      writeMeta(fresh, { ...readMeta(fresh), jkt: bind });
    }).catch((e: unknown) => {
      if (refused === undefined) throw e;
      return undefined;
    });
    if (!sess) {
      replyProofRefused(res, refused!, core.proofs.nonces.current());
      return;
    }
    sessionExpires = expiresOf(sess);
    cookieData = (sess.cookie as unknown as { data: Record<string, unknown> }).data;
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
  const body: TokenResponse = { token, expiresAt, storage: options.storage, created, bound: verdict.bound };
  replyJson(res, 200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

async function end(core: Core, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { options, access, registry } = core;
  const ids = new Set<string>();
  const cookieId = readSessionCookie(req, options.cookie.name, options.secrets);
  if (cookieId !== undefined) ids.add(cookieId);
  const bearer = readBearer(req);
  const verified = bearer.present ? verifyToken(bearer.token, options.tokenKeys) : null;
  if (verified && verified.sid !== cookieId) {
    // A bound session's token ends it only with a proof by its key: a copied token cannot log its owner out either.
    const jkt = options.binding === 'off' ? undefined : readMeta(await access.get(verified.sid)).jkt;
    const proof = jkt === undefined ? undefined : proofOf(core, req, bearer.token);
    if (jkt === undefined || (proof?.ok && proof.thumbprint === jkt)) ids.add(verified.sid);
  } else if (verified) ids.add(verified.sid);
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
