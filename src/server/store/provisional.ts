/**
 * DESIGN "Provisional sessions": a session the token endpoint made without any credential is provisional until a
 * request or handshake other than the token endpoint uses it (or it is modified). It lives provisionalMaxAge
 * (sliding: its cookie's own maxAge is that, so touch() extends it by that much) instead of maxAge, so a store
 * that expires by the cookie (connect-redis takes its TTL from cookie.expires) drops never-used sessions quickly,
 * and the memory store evicts them before any used one. A flood of credential-less token requests therefore costs
 * at most provisionalMaxAge of store space per request and can never push out a session someone uses.
 * The flag lives in the library's own key (`__hs`, session-meta.ts), so whatever a client plants cannot set it.
 */
import type { Cookie } from 'express-session';
import { META_KEY, readMeta, writeMeta } from './session-meta.js';

/** What the token endpoint stores for a session it made without any credential. */
export function provisionalData(cookie: Cookie, provisionalMaxAge: number): Record<string, unknown> {
  cookie.maxAge = provisionalMaxAge;
  const data: Record<string, unknown> = { cookie };
  writeMeta(data, { v: 0, provisional: true });
  return data;
}

export function isProvisional(sess: unknown): boolean {
  return readMeta(sess).provisional === true;
}

/**
 * Used: no longer provisional, and from now on living maxAge. Works on express-session's Session (its Cookie's
 * maxAge setter) and on plain stored data (cookie.expires an ISO string). Returns whether anything changed.
 */
export function promote(sess: Record<string, unknown>, maxAge: number, now = Date.now()): boolean {
  const meta = readMeta(sess);
  if (meta.provisional !== true) return false;
  delete meta.provisional;
  // Nothing else of the library's there (the flag was all): no key at all, as for any session it never marked.
  if (Object.keys(meta).length === 1 && meta.v === 0) delete sess[META_KEY];
  else writeMeta(sess, meta);
  const cookie = sess.cookie as Record<string, unknown> | undefined;
  if (cookie && typeof cookie === 'object') {
    const described = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(cookie), 'maxAge');
    if (described?.set) (cookie as { maxAge: number }).maxAge = maxAge;
    else {
      cookie.expires = new Date(now + maxAge);
      cookie.originalMaxAge = maxAge;
    }
  }
  return true;
}
