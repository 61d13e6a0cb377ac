/**
 * POST / DELETE tokenPath (DESIGN "Token endpoint"). The one place an invalid bearer is ignored rather than
 * refused: it is how clients recover, so POST falls back to the cookie, else a new session (`created: true`),
 * and DELETE ends whatever session it can name (204 either way).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADERS, INVALID_TOKEN_CHALLENGE, STATUS, type TokenResponse } from '../../shared/protocol.js';
import { isHybridSessionError } from '../../shared/errors.js';
import { isSecure, setSessionCookie } from '../credentials/cookie.js';
import type { Core } from '../context.js';
import { clearCookie, endSession } from '../lifecycle.js';
import { freshRotation, renewToken, type Renewal } from '../renewal.js';
import { withRotation } from '../store/session-meta.js';
import { replyJson, replyProofRefused } from './reply.js';
import type { Credentials } from '../credentials/resolve.js';
import { expiresOf, newCookie, newSessionId } from '../store/session-object.js';
import { signToken, type VerifiedToken } from '../credentials/token.js';
import { judgeTokenRequest, type TokenRequestVerdict } from '../credentials/possession.js';
import type { ProofResult, RefusedProof } from '../credentials/proof.js';
import { refusal } from '../credentials/refusal.js';
import { readMeta, writeMeta } from '../store/session-meta.js';
import type { SessionObject } from '../types.js';
import { proofOf } from './proof-of.js';
import { provisionalData } from '../store/provisional.js';

const ALLOW = 'POST, DELETE, OPTIONS';

/** `creds`: the request's credentials under the endpoint policy (credentials/resolve.ts), origin already allowed. */
export async function tokenEndpoint(core: Core, req: IncomingMessage, res: ServerResponse, creds: Credentials): Promise<void> {
  switch (req.method) {
    case 'POST':
      return issue(core, req, res, creds);
    case 'DELETE':
      return end(core, req, res, creds);
    case 'OPTIONS':
      res.statusCode = 204;
      res.setHeader('Allow', ALLOW);
      res.end();
      return;
    default:
      replyJson(res, 405, { error: 'method_not_allowed' }, { Allow: ALLOW });
  }
}

async function issue(core: Core, req: IncomingMessage, res: ServerResponse, creds: Credentials): Promise<void> {
  const { options, access } = core;
  if (!access.ready) throw access.unavailable();
  const now = Date.now();
  let renewal: Renewal | undefined;
  let sid: string | undefined;
  // The client's own token wins over a cookie (a planted cookie must not move it into another session). Its expiry
  // does not matter here: the current generation renews after its own expiry, an older one is judged as reuse.
  const presented = creds.token?.verified ?? null;
  const cookieId = creds.cookieId;
  // The proof is judged once, first (pure CPU); what it means depends on the session it comes with (possession.ts).
  const proof = options.binding === 'off' ? undefined : proofOf(core, req, creds.token?.raw);
  const possession = new Possession(options.binding, proof, cookieId);
  try {
    if (presented) {
      renewal = await renewOrGone(core, presented.sid, presented, now, possession.guard(presented.sid));
      if (renewal) sid = presented.sid;
    }
    if (!renewal && cookieId !== undefined) {
      renewal = await renewOrGone(core, cookieId, undefined, now, possession.guard(cookieId));
      if (renewal) sid = cookieId;
    }
  } catch (err) {
    if (!possession.refused) throw err;
    replyProofRefused(res, possession.refused, core.proofs.nonces.current());
    return;
  }

  if (renewal?.kind === 'reuse') {
    // Two parties hold this session (DESIGN "Reuse"): end it everywhere, then tell the app.
    await endSession(core, sid!, { req, res });
    core.events.emit('reuse', { sessionID: sid!, via: creds.token?.dpop ? 'dpop' : 'bearer', generation: renewal.generation, currentGeneration: renewal.current });
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
    // A new session: bound to the proof's key, or refused when 'required' wants one and there is none.
    const verdict = possession.judge(undefined, false);
    if (!verdict.ok) {
      replyProofRefused(res, verdict, core.proofs.nonces.current());
      return;
    }
    created = true;
    sid = newSessionId();
    const cookie = newCookie(options, req);
    // No credential named a session: provisional until something else uses it (store/provisional.ts), so it lives
    // provisionalMaxAge (its cookie's own maxAge) and the token is capped by that.
    const data = provisionalData(cookie, options.provisionalMaxAge);
    expiresAt = Math.floor(Math.min(now + options.tokenMaxAge, expiresOf({ cookie })));
    withRotation(data, freshRotation(now, expiresAt));
    if (verdict.bind) writeMeta(data, { ...readMeta(data), jkt: verdict.bind });
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
  const body: TokenResponse = { token, expiresAt, storage: options.storage, created, bound: possession.bound };
  replyJson(res, 200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

/**
 * Device binding at the token endpoint: the verdict on the request's proof for the session it renews, taken inside
 * the renewal's compare-and-set on what the store holds (so two binding requests racing cannot both win), writing the
 * thumbprint when it binds or rebinds. A refusal is kept here and thrown out of the renewal, which then writes nothing.
 */
class Possession {
  bound = false;
  refused: RefusedProof | undefined;

  constructor(
    private readonly mode: 'off' | 'optional' | 'required',
    private readonly proof: ProofResult | undefined,
    private readonly cookieId: string | undefined,
  ) {}

  judge(jkt: string | undefined, byCookie: boolean): TokenRequestVerdict | RefusedProof {
    const verdict = judgeTokenRequest(this.mode, jkt, byCookie, this.proof);
    if (verdict.ok) this.bound = verdict.bound;
    return verdict;
  }

  /** For renewToken: true when it wrote the thumbprint into the session (a write the renewal must keep). */
  guard(sid: string): (s: SessionObject) => boolean {
    return (s) => {
      const verdict = this.judge(readMeta(s).jkt, sid === this.cookieId);
      if (!verdict.ok) {
        this.refused = verdict;
        throw refusal(verdict.code, verdict.message);
      }
      if (!verdict.bind) return false;
      writeMeta(s, { ...readMeta(s), jkt: verdict.bind });
      return true;
    };
  }
}

/** renewToken, or undefined when the session is gone (the endpoint then falls back: cookie, else a new session). */
async function renewOrGone(core: Core, sid: string, presented: VerifiedToken | undefined, now: number, guard?: (s: SessionObject) => boolean): Promise<Renewal | undefined> {
  try {
    return await renewToken(core, sid, presented, now, guard);
  } catch (err) {
    if (isHybridSessionError(err) && (err.code === 'HS_ERR_INVALID_TOKEN' || (err.code as string) === 'HS_ERR_SESSION_ENDED')) return undefined;
    throw err;
  }
}

async function end(core: Core, req: IncomingMessage, res: ServerResponse, creds: Credentials): Promise<void> {
  const { options } = core;
  const ids = new Set<string>();
  const cookieId = creds.cookieId;
  if (cookieId !== undefined) ids.add(cookieId);
  // An expired token no longer names a session to end (an invalid bearer is ignored here, DESIGN "Which credential wins").
  const verified = creds.token && !creds.token.expired ? creds.token.verified : null;
  if (verified && verified.sid !== cookieId) {
    // A bound session's token ends it only with a proof by its key: a copied token cannot log its owner out either.
    const jkt = options.binding === 'off' ? undefined : readMeta(await core.access.get(verified.sid)).jkt;
    const proof = jkt === undefined ? undefined : proofOf(core, req, creds.token!.raw);
    if (jkt === undefined || (proof?.ok && proof.thumbprint === jkt)) ids.add(verified.sid);
  }
  for (const id of ids) await endSession(core, id);
  clearCookie(core, req, res);
  res.statusCode = 204;
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}
