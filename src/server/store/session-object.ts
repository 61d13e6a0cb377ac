/**
 * Building express-session's own objects (Session, Cookie), so req.session and a websocket's loaded session
 * behave exactly as express-session's: save, reload, regenerate, destroy, touch, cookie.maxAge…
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import session from 'express-session';
import { isSecure } from '../credentials/cookie.js';
import type { NormalizedOptions } from '../options.js';
import type { SessionData } from './access.js';
import type { SessionObject, Store } from '../types.js';

/** express-session's uid(24): 192 bits from the CSPRNG, base64url. The only way a session id is ever made. */
export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

/** `req`: the request the cookie answers, or (a websocket's) whether its upgrade came over TLS. */
export function newCookie(options: NormalizedOptions, req: IncomingMessage | boolean | undefined): session.Cookie {
  const c = options.cookie;
  const secure = c.secure === 'auto' ? (typeof req === 'boolean' ? req : req ? isSecure(req, options.proxy) : false) : c.secure;
  const CookieClass = session.Cookie as unknown as new (options: object) => session.Cookie;
  return new CookieClass({
    path: c.path,
    httpOnly: c.httpOnly,
    sameSite: c.sameSite,
    secure,
    maxAge: options.maxAge,
    ...(c.domain === undefined ? {} : { domain: c.domain }),
  });
}

/** express-session's hash(): what counts as "modified" (the cookie is left out). */
export function hashSession(sess: object): string {
  const str = JSON.stringify(sess, function (this: unknown, key, val) {
    if (this === sess && key === 'cookie') return undefined;
    return val;
  });
  return createHash('sha1').update(str ?? '', 'utf8').digest('hex');
}

/** ms since epoch of the session's expiry, Infinity when it has none. */
export function expiresOf(sess: { cookie?: unknown } | null | undefined): number {
  const cookie = sess?.cookie as { expires?: unknown } | undefined;
  const e = cookie?.expires;
  if (e instanceof Date) return e.getTime();
  if (typeof e === 'string' || typeof e === 'number') {
    const t = new Date(e).getTime();
    return Number.isNaN(t) ? Infinity : t;
  }
  return Infinity;
}

/** A request-less holder, as express-session's Store#load uses, for sessions loaded outside an HTTP request. */
export interface DetachedRequest {
  sessionID: string;
  sessionStore: Store;
  session?: SessionObject;
}

/** Stored data → express-session Session bound to `req` (store.createSession revives the Cookie). */
export function inflateSession(store: Store, req: { sessionID: string; sessionStore: Store }, data: SessionData): SessionObject {
  if (!data.cookie || typeof data.cookie !== 'object') data.cookie = {};
  // A store that is not a session.Store subclass (duck-typed get/set/destroy) lacks createSession: use the base one.
  const create = typeof store.createSession === 'function' ? store.createSession : session.Store.prototype.createSession;
  return (create as unknown as (r: unknown, d: unknown) => SessionObject).call(store, req, data);
}

/** Fresh session object for a brand-new id (express-session's store.generate without touching the store object). */
export function generateSession(req: { sessionID: string; sessionStore: Store; session?: unknown }, cookie: session.Cookie): SessionObject {
  const SessionClass = session.Session as unknown as new (req: unknown) => SessionObject;
  const sess = new SessionClass(req);
  sess.cookie = cookie;
  req.session = sess;
  return sess;
}

/** Replaces a session's data in place (keeping the object other code may hold), as if it had been reloaded. */
export function replaceData(target: SessionObject, source: object, keepCookie: boolean): void {
  for (const key of Object.keys(target)) {
    if (key === 'cookie' && keepCookie) continue;
    delete (target as Record<string, unknown>)[key];
  }
  for (const [key, value] of Object.entries(source)) {
    if (key === 'cookie') {
      if (!keepCookie) (target as Record<string, unknown>).cookie = value;
      continue;
    }
    (target as Record<string, unknown>)[key] = value;
  }
}

export function defineMethod(obj: object, name: string, fn: Function): void {
  Object.defineProperty(obj, name, { configurable: true, enumerable: false, writable: true, value: fn });
}
