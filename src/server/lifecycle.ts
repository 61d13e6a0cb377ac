/**
 * The rules of a session's life, each written once (DESIGN "Session lifecycle guarantees"); HTTP (http/), websockets
 * (websocket/) and the public methods (create.ts) all call these:
 *
 * - end: destroy in the store, clear the cookie (when there is a response to carry it), close every socket of the
 *   session 4401 on this process and, through the revocation bus, on every other.
 * - save of a session that exists: never resurrects one that was ended meanwhile, and keeps the library's record as
 *   stored. It is update()'s compare-and-set where the store has one (the default store; connect-redis gets a Lua
 *   script), which fails on a session that is gone; elsewhere the read and the write run under the per-session lock
 *   that end() and update() take too, which is exact within one process (a store shared by several processes needs
 *   the compare-and-set for that).
 * - touch-and-issue: asking for a token is activity, so the session is touched before the token is capped by it.
 * - regenerate: the caller moves to a new id, the old one ends; its other sockets close 4401 and never receive
 *   the new token.
 */
import type { ServerResponse, IncomingMessage } from 'node:http';
import { HybridSessionError } from '../shared/errors.js';
import { clearSessionCookie, isSecure } from './credentials/cookie.js';
import { issueFor, type Core } from './context.js';
import type { SessionData } from './store/access.js';
import { expiresOf, inflateSession } from './store/session-object.js';
import { META_KEY, readMeta, writeMeta, type SessionMeta } from './store/session-meta.js';
import { updateSession } from './store/update.js';
import type { IssuedToken, SessionObject } from './types.js';

export function sessionEnded(sid?: string): HybridSessionError {
  void sid; // never in the message: a session id is a credential
  return new HybridSessionError('HS_ERR_SESSION_ENDED', 'the session has ended (logged out, destroyed, regenerated, revoked or expired): nothing was written');
}

/** Runs `fn` under the per-session lock when the store has no compare-and-set (see the header). */
function guarded<T>(core: Core, sid: string, fn: () => Promise<T>): Promise<T> {
  return core.access.compareAndSet ? fn() : core.lock.run(sid, fn);
}

export interface EndOptions {
  /** The response that should clear the session cookie (when its headers have not gone out). */
  res?: ServerResponse;
  req?: IncomingMessage;
  /** A socket that stays open (it was already moved to another id). */
  keep?: import('ws').WebSocket;
  /** Close the sockets only once `res` has finished (it carries the caller's new token). */
  closeAfterResponse?: boolean;
}

/** Ends `sid` everywhere: store, cookie, sockets (4401) on this and every other process. */
export async function endSession(core: Core, sid: string, options: EndOptions = {}): Promise<void> {
  await guarded(core, sid, () => core.access.destroy(sid));
  if (options.res && options.req) clearCookie(core, options.req, options.res);
  const close = () => core.registry.revoke(sid, options.keep);
  if (options.closeAfterResponse && options.res) afterResponse(options.res, close);
  else close();
}

export function clearCookie(core: Core, req: IncomingMessage, res: ServerResponse): void {
  if (res.headersSent) return;
  const c = core.options.cookie;
  clearSessionCookie(res, c.name, {
    path: c.path,
    domain: c.domain,
    httpOnly: c.httpOnly,
    secure: c.secure === 'auto' ? isSecure(req, core.options.proxy) : c.secure,
    sameSite: c.sameSite,
  });
}

/**
 * Writes a session (a plain save: the app's, the end-of-response one, a websocket handle's). `existing`: the caller
 * loaded (or already wrote) it, so the write must not bring it back if it was ended meanwhile (HS_ERR_SESSION_ENDED,
 * nothing written). A brand-new id is a plain first write, its library record `record` when the library gives it one
 * (regenerate(): the binding the new session keeps), else none.
 *
 * What is written is the app's data of `sess` with the library's record (`__hs`) AS STORED, never the caller's copy:
 * the caller's copy may be stale (a request that loaded the session before the token endpoint rotated it would roll
 * the rotation back, and the rotated-out token would no longer count as reuse) or planted (app code assigning a body
 * into req.session). So it is a read-modify-write, through update()'s compare-and-set (atomic on the default store and
 * on Redis; the per-session lock elsewhere): the stored record, its version bumped (an update() that read before this
 * save retries over it), and no longer provisional (a save is a use). `sess` itself is left as it is.
 */
export async function saveSession(core: Core, sid: string, sess: object, existing: boolean, record?: SessionMeta): Promise<void> {
  if (!existing) {
    // A new id has no stored record: `record` is the one the library gives it (regenerate: the binding it keeps).
    const data = appData(sess);
    if (record) writeMeta(data, record);
    return core.access.set(sid, data);
  }
  try {
    await updateSession(core, sid, (data) => data, (data) => {
      const meta = readMeta(data);
      delete meta.provisional;
      for (const key of Object.keys(data)) delete data[key];
      Object.assign(data, appData(sess));
      writeMeta(data, meta);
    });
  } catch (err) {
    if (err instanceof HybridSessionError && err.code === 'HS_ERR_SESSION_ENDED') throw sessionEnded(sid);
    throw err;
  }
}

/** `sess`'s own enumerable fields (the cookie included) without the library's key: a shallow copy. */
function appData(sess: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(sess as Record<string, unknown>) };
  delete out[META_KEY];
  return out;
}

/** Touches the stored session (store.touch when it has one; the cookie's expiry moves). Resolves to the new expiry. */
export async function touchSession(core: Core, sid: string, sess: SessionObject, storedExpires: number): Promise<number> {
  sess.touch();
  return (await core.access.touch(sid, sess)) ? expiresOf(sess) : storedExpires;
}

export interface Issued extends IssuedToken {
  /** The touched session (its cookie is what the token endpoint sets). */
  session: SessionObject;
}

/**
 * A token of `generation` for a live session, after touching it (asking for a token is activity). `data`: already
 * read. The token endpoint's renewals, which rotate, go through renewal.ts instead.
 */
export async function touchAndIssue(core: Core, sid: string, data?: SessionData | null, generation = 0): Promise<Issued> {
  const stored = data === undefined ? await core.access.get(sid) : data;
  if (!stored) throw sessionEnded(sid);
  const storedExpires = expiresOf(stored);
  const session = inflateSession(core.store, { sessionID: sid, sessionStore: core.store }, stored);
  const expires = await touchSession(core, sid, session, storedExpires);
  return { ...issueFor(core.options, sid, expires, Date.now(), generation), session };
}

/** Calls `fn` once `res` has finished or closed (at once when it already has). */
export function afterResponse(res: ServerResponse, fn: () => void): void {
  if (res.writableFinished || res.destroyed) return fn();
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    fn();
  };
  res.once('finish', once);
  res.once('close', once);
}
