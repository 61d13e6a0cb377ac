/**
 * The session cookie, byte for byte as express-session writes and reads it: `s:` + cookie-signature's
 * HMAC-SHA256 (base64, no padding), serialized by the same `cookie` package, so cookies cross freely between
 * this shim and a plain express-session app sharing the secret and the store.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { parse, serialize, type CookieSerializeOptions } from 'cookie';
import signature from 'cookie-signature';

export function signCookieValue(sid: string, secret: string): string {
  return 's:' + signature.sign(sid, secret);
}

/** The verified session id from the named cookie, or undefined (absent, unsigned, or a bad signature). */
export function readSessionCookie(req: IncomingMessage, name: string, secrets: readonly string[]): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length === 0) return undefined;
  let raw: string | undefined;
  try {
    raw = parse(header)[name];
  } catch {
    return undefined;
  }
  if (typeof raw !== 'string' || raw.slice(0, 2) !== 's:') return undefined;
  const value = raw.slice(2);
  for (const secret of secrets) {
    const sid = signature.unsign(value, secret);
    if (sid !== false) return sid;
  }
  return undefined;
}

/** Appends (never replaces) a Set-Cookie, as express-session does, so the app's own cookies survive. */
export function appendSetCookie(res: ServerResponse, value: string): void {
  const prev = res.getHeader('Set-Cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader('Set-Cookie', [...list, value]);
}

export function setSessionCookie(
  res: ServerResponse,
  name: string,
  sid: string,
  secret: string,
  options: CookieSerializeOptions,
): void {
  appendSetCookie(res, serialize(name, signCookieValue(sid, secret), options));
}

export function clearSessionCookie(res: ServerResponse, name: string, options: { path: string; domain?: string | undefined; httpOnly: boolean; secure: boolean; sameSite: 'lax' | 'strict' | 'none' }): void {
  appendSetCookie(
    res,
    serialize(name, '', { path: options.path, domain: options.domain, httpOnly: options.httpOnly, secure: options.secure, sameSite: options.sameSite, expires: new Date(0) }),
  );
}

/** express-session's issecure(): a TLS socket; else X-Forwarded-Proto when `proxy: true`; else Express's req.secure. */
export function isSecure(req: IncomingMessage, proxy: boolean | undefined): boolean {
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted) return true;
  if (proxy === false) return false;
  if (proxy !== true) return (req as { secure?: boolean }).secure === true;
  const header = req.headers['x-forwarded-proto'];
  const value = (Array.isArray(header) ? header[0] : header) ?? '';
  return value.split(',')[0]!.trim().toLowerCase() === 'https';
}
