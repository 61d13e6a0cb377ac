/**
 * Session tokens: `v1.<b64url sid>.<expiry ms>.<b64url HMAC-SHA256>`. Only base64url characters and dots, so a
 * token is a valid subprotocol value and RFC 6750 b64token. Everything here is pure CPU: a token is judged
 * (shape, MAC, expiry) before anyone looks at the store, so forged tokens cost no store traffic.
 *
 * verifyToken runs on every request and handshake, and the HMAC is the one cost it cannot avoid: everything
 * around it is one anchored regex, index arithmetic and a decode into a reused buffer (no split, no re-encoding,
 * no per-call allocation besides what crypto itself makes).
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { TOKEN_MAX_LENGTH, TOKEN_VERSION } from '../shared/protocol.js';

const MAC_BYTES = 32;
/** base64url length of a 32-byte MAC without padding. */
const MAC_CHARS = 43;
const PREFIX = `${TOKEN_VERSION}.`;
/**
 * The whole shape in one pass. The MAC's last character may only be one whose low 2 bits are zero (256 bits in
 * 43 characters leave 2 spare bits): Node's base64url decoder ignores spare bits, so without this several
 * spellings would decode to the same MAC; with it only the canonical one matches.
 */
const SHAPE = new RegExp(`^${TOKEN_VERSION}\\.[A-Za-z0-9_-]+\\.[1-9][0-9]{0,14}\\.[A-Za-z0-9_-]{${MAC_CHARS - 1}}[AEIMQUYcgkosw048]$`);

/** The presented MAC is decoded here, not into a new Buffer per call (verifyToken is synchronous: no reentry). */
const presented = Buffer.alloc(MAC_BYTES);

/** A KeyObject per derived key, made once: crypto then skips importing raw key bytes on every HMAC. */
const keyObjects = new WeakMap<Buffer, KeyObject>();
function keyObject(key: Buffer): KeyObject {
  let k = keyObjects.get(key);
  if (k === undefined) {
    k = createSecretKey(key);
    keyObjects.set(key, k);
  }
  return k;
}

export interface VerifiedToken {
  sid: string;
  expiresAt: number;
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', keyObject(key)).update(payload).digest();
}

/** Signs with the first key. `expiresAt` is whole ms since epoch. */
export function signToken(sid: string, expiresAt: number, keys: readonly Buffer[]): string {
  const payload = `${PREFIX}${Buffer.from(sid, 'utf8').toString('base64url')}.${Math.floor(expiresAt)}`;
  return `${payload}.${mac(keys[0]!, payload).toString('base64url')}`;
}

/**
 * null for anything but an authentic, unexpired token. The MAC is compared with timingSafeEqual (lengths are
 * equal by construction: both 32 bytes). Keys are tried in order (rotation) until one matches: a forged token is
 * checked against every key, and an authentic one stops at its own key, which tells its holder nothing new.
 */
export function verifyToken(token: unknown, keys: readonly Buffer[], now = Date.now()): VerifiedToken | null {
  if (typeof token !== 'string' || token.length > TOKEN_MAX_LENGTH || !SHAPE.test(token)) return null;
  const macDot = token.length - MAC_CHARS - 1;
  if (presented.write(token.slice(macDot + 1), 'base64url') !== MAC_BYTES) return null;
  const payload = token.slice(0, macDot);
  let ok = false;
  for (let i = 0; i < keys.length && !ok; i++) {
    const expected = mac(keys[i]!, payload);
    ok = expected.length === MAC_BYTES && timingSafeEqual(expected, presented);
  }
  if (!ok) return null;
  const sidDot = token.indexOf('.', PREFIX.length);
  const expiresAt = Number(token.slice(sidDot + 1, macDot));
  if (!(expiresAt > now)) return null;
  // The MAC covers these exact characters and only signToken (canonical base64url) makes MACs, so the decode
  // needs no canonical re-encode check.
  return { sid: Buffer.from(token.slice(PREFIX.length, sidDot), 'base64url').toString('utf8'), expiresAt };
}

/** DESIGN "Nears expiry": less than half of the token's lifetime left. */
export function nearsExpiry(expiresAt: number, lifetime: number, now = Date.now()): boolean {
  return expiresAt - now < lifetime / 2;
}
