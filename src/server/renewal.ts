/**
 * The rotation table (credentials/rotation.ts) applied to the store: every decision that writes is taken again on a
 * fresh read inside update()'s compare-and-set, so concurrent renewals of one token (tabs without Web Locks, several
 * processes) end with one new generation, and every one of them is answered with it. Decisions that write nothing
 * (lost answer, reuse, refuse) leave the store as it was: a replayed old token costs one read.
 *
 * Two callers: renewToken() for the token endpoint and server-side issues (hs.issueToken, the facade), and
 * admitToken() for a bearer on an ordinary request or handshake (first use of a generation, renewal at half-life).
 */
import { judge, afterUse, rotated, VERDICTS, type RotationState, type Verdict } from './credentials/rotation.js';
import { nearsExpiry, signToken, type VerifiedToken } from './credentials/token.js';
import type { Core } from './context.js';
import type { SessionData } from './store/access.js';
import { expiresOf, inflateSession } from './store/session-object.js';
import { rotationOf, withRotation } from './store/session-meta.js';
import { updateSession } from './store/update.js';
import type { IssuedToken, SessionObject } from './types.js';
import { isProvisional, promote } from './store/provisional.js';

export type Renewal =
  | (IssuedToken & {
      kind: 'issued';
      /** The session as written (or read, when nothing was written): its cookie is what the endpoint sets. */
      session: SessionObject;
      generation: number;
      /** A new generation was made by this call (false: the current one was handed out again). */
      rotated: boolean;
    })
  | { kind: 'reuse'; generation: number; current: number };

/** Thrown out of update()'s function to leave the store untouched; carries what to answer. */
class NoWrite {
  constructor(readonly verdict: Verdict, readonly state: RotationState, readonly session: SessionObject) {}
}

function inflater(core: Core, sid: string) {
  return (data: SessionData) => inflateSession(core.store, { sessionID: sid, sessionStore: core.store }, data);
}

/** The token of the record's current generation, byte for byte what was handed out when it became current. */
function currentToken(core: Core, sid: string, state: RotationState): IssuedToken {
  return { token: signToken(sid, state.exp, core.options.tokenKeys, state.gen), expiresAt: state.exp };
}

/**
 * The lifetime the record's current token was issued with: DESIGN's "nears expiry" is less than half of *that* left.
 * Not tokenMaxAge: a token capped by its session (a provisional session's 15 minutes, a maxAge shorter than
 * tokenMaxAge) starts below half of tokenMaxAge and would rotate on every request. tokenMaxAge when the record
 * cannot say (a token newer than the record, a record without an issue time).
 */
function issuedLifetime(state: RotationState, generation: number, tokenMaxAge: number): number {
  return generation === state.gen && state.at > 0 && state.exp > state.at ? state.exp - state.at : tokenMaxAge;
}

/** A new expiry for `sess` (touched first: asking for a token is activity, the token must not be capped by a stale expiry). */
function nextExpiry(core: Core, sess: SessionObject, now: number): number {
  sess.touch();
  return Math.floor(Math.min(now + core.options.tokenMaxAge, expiresOf(sess)));
}

/**
 * POST tokenPath (and server-side issues). `presented`: an authentic token of this session, expired or not; undefined
 * for a renewal by cookie or by the server itself. HS_ERR_SESSION_ENDED (from update()) when the session is gone.
 */
export async function renewToken(
  core: Core,
  sid: string,
  presented: VerifiedToken | undefined,
  now = Date.now(),
  /** Device binding's check on the fresh session (token-endpoint.ts): throws to refuse; true when it wrote to `s`. */
  guard?: (s: SessionObject) => boolean,
): Promise<Renewal> {
  const { options } = core;
  const generation = presented?.generation;
  let didRotate = false;
  try {
    const sess = await updateSession(core, sid, inflater(core, sid), (s) => {
      // update() may call this again on a fresh read (another writer won the compare-and-set): decide again.
      const wrote = guard?.(s) ?? false;
      const state = rotationOf(s);
      const verdict = judge(state, generation, 'endpoint', now, options.rotationGrace);
      didRotate = verdict === VERDICTS.rotate;
      if (didRotate) {
        withRotation(s, rotated(state, generation, now, nextExpiry(core, s, now)));
        return;
      }
      // Lost answer: the current generation again. Its token is re-signed with a fresh expiry (same generation,
      // written once) only when the one handed out is past half its life, e.g. an app killed mid-renewal and back
      // hours later; otherwise it is the very token already handed out.
      if (verdict === VERDICTS.lostAnswer && (nearsExpiry(state.exp, issuedLifetime(state, state.gen, options.tokenMaxAge), now) || state.exp > expiresOf(s))) {
        withRotation(s, { ...state, exp: nextExpiry(core, s, now) });
        return;
      }
      // A (re)binding is a write of its own: kept, unless the session is about to end for reuse.
      if (wrote && verdict !== VERDICTS.reuse) return;
      throw new NoWrite(verdict, state, s);
    });
    const state = rotationOf(sess);
    return { kind: 'issued', ...currentToken(core, sid, state), session: sess, generation: state.gen, rotated: didRotate };
  } catch (err) {
    if (!(err instanceof NoWrite)) throw err;
    if (err.verdict === VERDICTS.reuse) return { kind: 'reuse', generation: generation ?? -1, current: err.state.gen };
    return { kind: 'issued', ...currentToken(core, sid, err.state), session: err.session, generation: err.state.gen, rotated: false };
  }
}

export type Admission =
  | {
      kind: 'accept';
      /** The session data to go on with: as written when this call wrote (so the request's own save keeps it). */
      data: SessionData;
      /** The current generation's token when the response should carry it (`Session-Token`). */
      renewed: IssuedToken | undefined;
    }
  | { kind: 'refuse' };

/**
 * A verified (unexpired) bearer on an ordinary request or handshake, whose session `data` was just read. Writes only
 * on the first use of a generation, and, on a request past the token's half-life, to rotate (DESIGN "HTTP requests":
 * the first such response rotates, every other response to the same token carries that same new token).
 */
export async function admitToken(
  core: Core,
  sid: string,
  data: SessionData,
  token: VerifiedToken,
  caller: 'request' | 'handshake',
  now = Date.now(),
): Promise<Admission> {
  const { options } = core;
  const grace = options.rotationGrace;
  const state = rotationOf(data);
  const verdict = judge(state, token.generation, caller, now, grace);
  if (verdict === VERDICTS.refuse) return { kind: 'refuse' };
  if (verdict === VERDICTS.acceptPrevious) {
    return { kind: 'accept', data, renewed: caller === 'request' ? currentToken(core, sid, state) : undefined };
  }
  const renewing = caller === 'request' && nearsExpiry(token.expiresAt, issuedLifetime(state, token.generation, options.tokenMaxAge), now);
  // A provisional session used by a request or handshake is promoted (store/provisional.ts) in this same write.
  const provisional = isProvisional(data);
  if (!renewing && !provisional && afterUse(state, token.generation, token.expiresAt) === null) return { kind: 'accept', data, renewed: undefined };

  try {
    // The first attempt works on a copy of what the caller just read (update.ts: no second read on a compare-and-set store).
    const copy = JSON.parse(JSON.stringify(data)) as SessionData;
    const sess = await updateSession(core, sid, inflater(core, sid), (s) => {
      const fresh = rotationOf(s);
      const again = judge(fresh, token.generation, caller, now, grace);
      if (again !== VERDICTS.accept) throw new NoWrite(again, fresh, s);
      const promoted = promote(s as unknown as Record<string, unknown>, options.maxAge, now);
      if (renewing) {
        withRotation(s, rotated(fresh, token.generation, now, nextExpiry(core, s, now)));
        return;
      }
      const used = afterUse(fresh, token.generation, token.expiresAt);
      if (used === null) {
        if (promoted) return;
        throw new NoWrite(again, fresh, s);
      }
      withRotation(s, used);
    }, copy);
    const written = JSON.parse(JSON.stringify(sess)) as SessionData;
    return { kind: 'accept', data: written, renewed: renewing ? currentToken(core, sid, rotationOf(sess)) : undefined };
  } catch (err) {
    if (!(err instanceof NoWrite)) throw err;
    if (err.verdict === VERDICTS.refuse) return { kind: 'refuse' };
    const read = JSON.parse(JSON.stringify(err.session)) as SessionData;
    // Another request rotated first: this one carries that same new token.
    const renewed = caller === 'request' && err.verdict === VERDICTS.acceptPrevious ? currentToken(core, sid, err.state) : undefined;
    return { kind: 'accept', data: read, renewed };
  }
}

/** The record a brand-new session starts with: its first token is generation 0 and nobody has used it yet. */
export { fresh as freshRotation } from './credentials/rotation.js';
