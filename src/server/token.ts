/**
 * Session tokens: `v1.<b64url sid>.<expiry ms>.<b64url HMAC-SHA256>`. Only base64url characters and dots, so a
 * token is a valid subprotocol value and RFC 6750 b64token. Everything here is pure CPU: a token is judged
 * (shape, MAC, expiry) before anyone looks at the store, so forged tokens cost no store traffic.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isWellFormedToken, TOKEN_VERSION } from '../shared/protocol.js';

const B64URL = /^[A-Za-z0-9_-]+$/;
const EXPIRY = /^[1-9][0-9]{0,14}$/;
const MAC_BYTES = 32;
/** base64url length of a 32-byte MAC without padding. */
const MAC_CHARS = 43;

export interface VerifiedToken {
  sid: string;
  expiresAt: number;
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

/** Signs with the first key. `expiresAt` is whole ms since epoch. */
export function signToken(sid: string, expiresAt: number, keys: readonly Buffer[]): string {
  const payload = `${TOKEN_VERSION}.${Buffer.from(sid, 'utf8').toString('base64url')}.${Math.floor(expiresAt)}`;
  return `${payload}.${mac(keys[0]!, payload).toString('base64url')}`;
}

/**
 * null for anything but an authentic, unexpired token. Constant work per key once the shape is right: every key
 * is tried (rotation) with timingSafeEqual after the length check.
 */
export function verifyToken(token: unknown, keys: readonly Buffer[], now = Date.now()): VerifiedToken | null {
  if (!isWellFormedToken(token)) return null;
  const parts = token.split('.');
  if (parts.length !== 4) return null;
  const [version, sidPart, expiryPart, macPart] = parts as [string, string, string, string];
  if (version !== TOKEN_VERSION) return null;
  if (!B64URL.test(sidPart) || !EXPIRY.test(expiryPart) || macPart.length !== MAC_CHARS || !B64URL.test(macPart)) return null;
  const presented = Buffer.from(macPart, 'base64url');
  // Node's base64url decoder ignores stray bits: re-encode so only the canonical spelling of a MAC is accepted.
  if (presented.length !== MAC_BYTES || presented.toString('base64url') !== macPart) return null;
  const payload = `${version}.${sidPart}.${expiryPart}`;
  let ok = false;
  for (const key of keys) {
    const expected = mac(key, payload);
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) ok = true;
  }
  if (!ok) return null;
  const expiresAt = Number(expiryPart);
  if (!(expiresAt > now)) return null;
  const sidBytes = Buffer.from(sidPart, 'base64url');
  if (sidBytes.toString('base64url') !== sidPart) return null;
  return { sid: sidBytes.toString('utf8'), expiresAt };
}

/** DESIGN "Nears expiry": less than half of the token's lifetime left. */
export function nearsExpiry(expiresAt: number, lifetime: number, now = Date.now()): boolean {
  return expiresAt - now < lifetime / 2;
}
