/**
 * Session tokens: `v1.<b64url sid>.<expiry ms>.<generation>.<b64url HMAC-SHA256>`. Only base64url characters and
 * dots, so a token is a valid subprotocol value and RFC 6750 b64token. The generation counts the session's token
 * rotations (DESIGN "Token rotation"): the session keeps the current one, so a rotated-out token is recognised.
 * A token without the generation segment (issued before rotation existed) reads as generation 0; servers from
 * before rotation refuse the new layout cleanly (their expiry parse fails after the MAC matched). Everything here is pure CPU: a token is judged
 * (shape, MAC, expiry) before anyone looks at the store, so forged tokens cost no store traffic.
 *
 * verifyToken runs on every request and handshake, and the HMAC is the one cost it cannot avoid: everything
 * around it is index arithmetic and base64url decodes into reused buffers (no split, no regex, no re-encoding).
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { TOKEN_MAX_LENGTH, TOKEN_VERSION } from '../../shared/protocol.js';

const MAC_BYTES = 32;
/** base64url length of a 32-byte MAC without padding. */
const MAC_CHARS = 43;
const PREFIX = `${TOKEN_VERSION}.`;
const DOT = 0x2e;
/** 15 decimal digits: what readToken parses (a session renewing every second would need 31 million years). */
const MAX_GENERATION = 999_999_999_999_999;
/** `v1.` + one sid character + `.` + one expiry digit + `.` + MAC. */
const MIN_LENGTH = PREFIX.length + 4 + MAC_CHARS;

/** Value of each base64url character (RFC 4648 §5), -1 for anything else. */
const B64URL = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) B64URL[c.charCodeAt(0)] = i;
const b64 = (s: string, i: number): number => {
  const c = s.charCodeAt(i);
  return c < 128 ? B64URL[c]! : -1;
};

/**
 * Decodes base64url `s[from, to)` into `out` (from byte 0); the byte count, or -1 for a character outside the
 * alphabet, a length no encoding has (4n + 1), or spare bits that are not zero: Node's own decoder ignores spare
 * bits, so several spellings would decode to the same bytes; here only the canonical one does.
 */
function decodeInto(out: Buffer, s: string, from: number, to: number): number {
  let j = 0;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    // A -1 anywhere makes n negative.
    const n = (b64(s, i) << 18) | (b64(s, i + 1) << 12) | (b64(s, i + 2) << 6) | b64(s, i + 3);
    if (n < 0) return -1;
    out[j++] = n >> 16;
    out[j++] = (n >> 8) & 255;
    out[j++] = n & 255;
  }
  const rest = to - i;
  if (rest === 2) {
    const n = (b64(s, i) << 6) | b64(s, i + 1);
    if (n < 0 || (n & 15) !== 0) return -1;
    out[j++] = n >> 4;
  } else if (rest === 3) {
    const n = (b64(s, i) << 12) | (b64(s, i + 1) << 6) | b64(s, i + 2);
    if (n < 0 || (n & 3) !== 0) return -1;
    out[j++] = n >> 10;
    out[j++] = (n >> 2) & 255;
  } else if (rest === 1) return -1;
  return j;
}

/**
 * The presented MAC and the session id are decoded into these, not into new Buffers per call (verifyToken is
 * synchronous: nothing else runs while they are in use). The sid never exceeds 3/4 of the token's length.
 */
const presented = Buffer.alloc(MAC_BYTES);
const sidBytes = Buffer.alloc(Math.ceil((TOKEN_MAX_LENGTH * 3) / 4));

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
  /** Which rotation of its session this token is (0 for the first). */
  generation: number;
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', keyObject(key)).update(payload).digest();
}

/** Signs with the first key. `expiresAt` is whole ms since epoch; the same arguments always give the same token. */
export function signToken(sid: string, expiresAt: number, keys: readonly Buffer[], generation = 0): string {
  if (!Number.isSafeInteger(generation) || generation < 0 || generation > MAX_GENERATION) throw new RangeError('signToken: generation must be an integer from 0 to 10^15 - 1');
  const payload = `${PREFIX}${Buffer.from(sid, 'utf8').toString('base64url')}.${Math.floor(expiresAt)}.${generation}`;
  return `${payload}.${mac(keys[0]!, payload).toString('base64url')}`;
}

/**
 * null for anything but an authentic, unexpired token (readToken, then the expiry).
 */
export function verifyToken(token: unknown, keys: readonly Buffer[], now = Date.now()): VerifiedToken | null {
  const read = readToken(token, keys);
  return read !== null && read.expiresAt > now ? read : null;
}

/**
 * null for anything but an authentic token, expired or not: the token endpoint renews the current generation even
 * after its own expiry, and judges an old one as reuse rather than as garbage. Before the MAC: length, version
 * prefix, and the MAC part (43 canonical base64url characters, decoded by hand into a reused buffer); the rest of
 * the token is covered by the MAC, so it is parsed only once the MAC matched. The MAC is compared with
 * timingSafeEqual (both are 32 bytes). Keys are tried in order (rotation) until one matches: a forged token is
 * checked against every key, and an authentic one stops at its own key, which tells its holder nothing new.
 */
export function readToken(token: unknown, keys: readonly Buffer[]): VerifiedToken | null {
  if (typeof token !== 'string' || token.length > TOKEN_MAX_LENGTH || token.length < MIN_LENGTH || !token.startsWith(PREFIX)) return null;
  const macDot = token.length - MAC_CHARS - 1;
  if (token.charCodeAt(macDot) !== DOT || decodeInto(presented, token, macDot + 1, token.length) !== MAC_BYTES) return null;
  const payload = token.slice(0, macDot);
  let ok = false;
  for (let i = 0; i < keys.length && !ok; i++) {
    const expected = mac(keys[i]!, payload);
    ok = expected.length === MAC_BYTES && timingSafeEqual(expected, presented);
  }
  if (!ok) return null;
  // Authentic: these are the characters signToken wrote (`<b64url sid>.<expiry>[.<generation>]`). Checked anyway, cheaply.
  const sidDot = token.indexOf('.', PREFIX.length);
  if (sidDot <= PREFIX.length || sidDot >= macDot) return null;
  let expDot = token.indexOf('.', sidDot + 1);
  if (expDot === -1 || expDot > macDot) expDot = macDot; // no generation segment: generation 0
  const expiresAt = digits(token, sidDot + 1, expDot);
  const generation = expDot === macDot ? 0 : digits(token, expDot + 1, macDot);
  if (expiresAt < 0 || generation < 0) return null;
  const n = decodeInto(sidBytes, token, PREFIX.length, sidDot);
  if (n < 0) return null;
  return { sid: sidBytes.toString('utf8', 0, n), expiresAt, generation };
}

/** The decimal number `s[from, to)` (1 to 15 digits, so always a safe integer), or -1. */
function digits(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** DESIGN "Nears expiry": less than half of the token's lifetime left. */
export function nearsExpiry(expiresAt: number, lifetime: number, now = Date.now()): boolean {
  return expiresAt - now < lifetime / 2;
}
