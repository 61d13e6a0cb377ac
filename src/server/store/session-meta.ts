/**
 * What hybrid-session itself keeps in a session, under the one key it owns (`__hs`), read and validated in one
 * place. The value travels with the session through any store, so whatever an app or a client managed to put
 * there (a JSON body assigned into req.session, a hand-edited Redis value) is only ever read through readMeta():
 * a field that is not exactly what the library writes counts as absent, and the next library write replaces the
 * whole object. The Redis compare-and-set script (compare-and-set.ts) applies the same version rule inside Redis.
 */
import { UNROTATED, type RotationState } from '../credentials/rotation.js';

/** The session-data key the library owns. */
export const META_KEY = '__hs';

/** A version / generation is a non-negative safe integer; this is the largest (Lua compares against it too). */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

export interface SessionMeta {
  /** update()'s compare-and-set version: 0 when absent or not valid. */
  v: number;
  /** The token endpoint made the session without any credential and nothing has used it since (DESIGN "Provisional sessions"). */
  provisional?: true;
  /** Current token generation (DESIGN "Token rotation"); the three fields below only count beside it. */
  gen?: number;
  /** ms since epoch when `gen` became current: the previous generation's grace runs from here. */
  rotatedAt?: number;
  /** Expiry (ms) of the current generation's token, so it can be handed out again byte for byte. */
  tokenExp?: number;
  /** The current generation was seen on a request or handshake: its holder certainly has it (lost-answer rule). */
  used?: boolean;
  /** RFC 7638 thumbprint of the key the session is bound to (DESIGN "Device binding"): base64url SHA-256, 43 chars. */
  jkt?: string;
}

const isCounter = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/** The library's view of `sess[META_KEY]`: every field validated, anything else dropped. Never throws. */
export function readMeta(sess: unknown): SessionMeta {
  let raw: unknown;
  try {
    raw = typeof sess === 'object' && sess !== null ? (sess as Record<string, unknown>)[META_KEY] : undefined;
  } catch {
    raw = undefined; // a getter planted on an in-memory object
  }
  const meta: SessionMeta = { v: 0 };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return meta;
  const r = raw as Record<string, unknown>;
  if (isCounter(r.v)) meta.v = r.v;
  if (r.provisional === true) meta.provisional = true;
  if (isCounter(r.gen)) meta.gen = r.gen;
  if (isCounter(r.rotatedAt)) meta.rotatedAt = r.rotatedAt;
  if (isCounter(r.tokenExp)) meta.tokenExp = r.tokenExp;
  if (typeof r.used === 'boolean') meta.used = r.used;
  if (typeof r.jkt === 'string' && THUMBPRINT.test(r.jkt)) meta.jkt = r.jkt;
  return meta;
}

/** Writes `meta` as a fresh plain object (only the known, valid fields), replacing whatever stood there. */
export function writeMeta(sess: Record<string, unknown>, meta: SessionMeta): void {
  const clean: SessionMeta = { v: isCounter(meta.v) ? meta.v : 0 };
  if (meta.provisional === true) clean.provisional = true;
  if (isCounter(meta.gen)) clean.gen = meta.gen;
  if (isCounter(meta.rotatedAt)) clean.rotatedAt = meta.rotatedAt;
  if (isCounter(meta.tokenExp)) clean.tokenExp = meta.tokenExp;
  if (typeof meta.used === 'boolean') clean.used = meta.used;
  if (typeof meta.jkt === 'string' && THUMBPRINT.test(meta.jkt)) clean.jkt = meta.jkt;
  sess[META_KEY] = clean;
}

/** update()'s version of the stored session (0 when absent or planted). */
export function versionOf(sess: unknown): number {
  return readMeta(sess).v;
}

/** The version after `v`; wraps to 0 past the largest safe integer, so it never becomes a value readMeta rejects. */
export function nextVersion(v: number): number {
  return isCounter(v) && v < MAX_COUNTER ? v + 1 : 0;
}

/** Sets the update() version, keeping the library's other (validated) fields and dropping anything planted. */
export function withVersion(sess: Record<string, unknown>, v: number): void {
  writeMeta(sess, { ...readMeta(sess), v });
}

/**
 * The session's rotation record (credentials/rotation.ts). A session whose `gen` is absent or planted never rotated
 * (UNROTATED); a record that lost its other fields counts as rotated long ago and used, the strict reading: the
 * previous generation then gets no grace, and the current one still renews.
 */
export function rotationOf(sess: unknown): RotationState {
  const m = readMeta(sess);
  if (m.gen === undefined) return UNROTATED;
  return { gen: m.gen, at: m.rotatedAt ?? 0, exp: m.tokenExp ?? 0, used: m.used ?? true };
}

/** Stores `state` as the session's rotation record, keeping the library's other (validated) fields. */
export function withRotation(sess: Record<string, unknown>, state: RotationState): void {
  writeMeta(sess, { ...readMeta(sess), gen: state.gen, rotatedAt: state.at, tokenExp: state.exp, used: state.used });
}
