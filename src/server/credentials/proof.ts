/**
 * DPoP proofs (RFC 9449 §4.3), judged as pure CPU: no store import, so a proof is checked before anyone asks the
 * store, exactly like a token MAC. The caller compares the returned thumbprint with the one the session is bound
 * to; everything else a proof can get wrong is decided here:
 *
 *   shape (one compact JWS, bounded length) → header (typ dpop+jwt, alg ES256 only, jwk a public P-256 key, no crit)
 *   → claims (jti, htm, htu, iat or the server's nonce, ath) → signature → jti not seen before on this process.
 *
 * The cheap checks run first and the signature last but one, so a proof for another URL costs no ECDSA; the jti is
 * remembered only once the signature held, so unsigned garbage cannot fill the replay memory.
 *
 * Why node:crypto and not jose (which the issue prefers, and which the tests use as the reference verifier):
 * measured on this machine, jose 6's compactVerify costs 2.1× node:crypto's verify for the same proof with a cached
 * key (WebCrypto's async job per verify), and importing the JWK, which jose does per call, costs as much again as
 * the verify. A bound request's goal is ≤ 1.4× a bearer request's CPU; with jose it would be above 2×. What is
 * hand-written here is parsing and comparing; the cryptography (point validation, ECDSA) is node:crypto's.
 */
import { createHash, createHmac, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { DPOP_ALG, DPOP_TYP, TOKEN_MAX_LENGTH } from '../../shared/protocol.js';

/** A proof is a few hundred characters (header with the jwk ≈ 250, claims ≈ 150 + the URL): 4 KiB bounds parsing. */
export const PROOF_MAX_LENGTH = 4096;
/** jti is ours to remember: a bounded string (the client sends 22 characters: 16 random bytes). */
const JTI_MAX_LENGTH = 64;
/** base64url of a 32-byte P-256 coordinate, and of a 64-byte r||s ES256 signature (RFC 7518 §3.4). */
const COORD_CHARS = 43;
const SIG_CHARS = 86;
const B64URL = /^[A-Za-z0-9_-]*$/;

export const DEFAULT_PROOF_MAX_AGE = 300_000;

/** Which check refused the proof; carried in the refusal so tests and debug logs can tell them apart. */
export type ProofFailure =
  | 'missing'
  | 'malformed'
  | 'typ'
  | 'alg'
  | 'jwk'
  | 'crit'
  | 'claims'
  | 'htm'
  | 'htu'
  | 'iat'
  | 'nonce'
  | 'ath'
  | 'signature'
  | 'replay'
  // possession.ts: the proof is fine, its use is not.
  | 'scheme'
  | 'key'
  | 'unbound';

export interface VerifiedProof {
  ok: true;
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url: what a session is bound to. */
  thumbprint: string;
  jti: string;
}

export interface RefusedProof {
  ok: false;
  reason: ProofFailure;
  /** use_dpop_nonce: a fresh proof with the server's nonce would do (clock off, stale nonce); else invalid_dpop_proof. */
  code: 'HS_ERR_INVALID_DPOP_PROOF' | 'HS_ERR_USE_DPOP_NONCE';
  message: string;
}

export type ProofResult = VerifiedProof | RefusedProof;

/** The request as the server saw it: method, and its URL without query and fragment (mount path and proxy included). */
export interface ProofExpectation {
  htm: string;
  htu: string;
  /** The token the request presents: the proof's ath must be its hash. Absent: a token request by cookie or none. */
  token?: string | undefined;
}

export interface ProofVerifierOptions {
  /** ms either side of now a proof's iat may be (default 300 s). */
  maxAge?: number;
  /** HMAC key of the nonces; the same key on every process makes one process's nonce good on all of them. */
  nonceKey: Buffer;
  /** jti values remembered per generation (two generations kept); bounds the replay memory. */
  replayCapacity?: number;
  /** Injected clock (ms) for tests. */
  now?: () => number;
}

export function refuse(reason: ProofFailure, message: string, code: RefusedProof['code'] = 'HS_ERR_INVALID_DPOP_PROOF'): RefusedProof {
  return { ok: false, reason, code, message };
}

/** RFC 7638 §3.2: the required members of an EC key, in lexicographic order, no whitespace; SHA-256, base64url. */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = `{"crv":${JSON.stringify(jwk.crv)},"kty":${JSON.stringify(jwk.kty)},"x":${JSON.stringify(jwk.x)},"y":${JSON.stringify(jwk.y)}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** RFC 9449 §4.2: ath = base64url(SHA-256(ASCII(token))). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * The one spelling both the proof's htu and the server's own URL are compared in: WHATWG URL parsing (lower-case
 * scheme and host, default port dropped, dot segments resolved, RFC 3986 §6.2.2 / §6.2.3 as RFC 9449 §4.3 asks),
 * without query and fragment. null for a value that is not an absolute http(s) / ws(s) URL.
 */
export function normalizeHtu(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:' && url.protocol !== 'wss:' && url.protocol !== 'ws:') return null;
  if (url.username !== '' || url.password !== '') return null;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * Nonces (RFC 9449 §8) derived, not stored: HMAC(key, time bucket), a bucket lasting maxAge. The current and the
 * previous bucket's nonce are accepted, so a nonce handed out just before the bucket turns still works once; a nonce
 * is therefore good for between one and two maxAge. Processes sharing the secret agree on it without talking.
 */
export class NonceSource {
  readonly #key: Buffer;
  readonly #period: number;
  readonly #now: () => number;
  #bucket = -1;
  #current = '';
  #previous = '';

  constructor(key: Buffer, period: number, now: () => number = Date.now) {
    this.#key = key;
    this.#period = period;
    this.#now = now;
  }

  #derive(bucket: number): string {
    return createHmac('sha256', this.#key).update(`hybrid-session dpop nonce ${bucket}`).digest().subarray(0, 16).toString('base64url');
  }

  #refresh(): void {
    const bucket = Math.floor(this.#now() / this.#period);
    if (bucket === this.#bucket) return;
    this.#previous = bucket === this.#bucket + 1 ? this.#current : this.#derive(bucket - 1);
    this.#current = this.#derive(bucket);
    this.#bucket = bucket;
  }

  /** The nonce to send in DPoP-Nonce now. */
  current(): string {
    this.#refresh();
    return this.#current;
  }

  /** Equality with public values: the nonce is no secret (the server hands it out), so no timing-safe compare. */
  accepts(nonce: string): boolean {
    this.#refresh();
    return nonce === this.#current || nonce === this.#previous;
  }
}

/**
 * jti values seen, in two generations of at most `capacity` each: a generation turns when it is full or `lifetime`
 * after it began, and the one before it is dropped. A jti is therefore remembered at least `lifetime` (the longest a
 * proof stays acceptable: iat may be maxAge ahead and is good until maxAge after it, and a nonce lives up to 2 ×
 * maxAge) unless more than `capacity` fresh signed proofs arrived since: memory stays bounded under any flood, and
 * what a flood buys is that a proof copied more than `capacity` proofs ago may be replayed once within its window.
 */
export class ReplayCache {
  readonly #capacity: number;
  readonly #lifetime: number;
  #current = new Set<string>();
  #previous = new Set<string>();
  #since: number;

  constructor(capacity: number, lifetime: number, now: number) {
    this.#capacity = capacity;
    this.#lifetime = lifetime;
    this.#since = now;
  }

  /** true when `jti` is new (and now remembered); false for a replay. */
  add(jti: string, now: number): boolean {
    if (now - this.#since >= this.#lifetime) {
      // Two lifetimes passed without a turn: nothing of the previous generation is still needed either.
      this.#previous = now - this.#since >= 2 * this.#lifetime ? new Set() : this.#current;
      this.#current = new Set();
      this.#since = now;
    }
    if (this.#current.has(jti) || this.#previous.has(jti)) return false;
    if (this.#current.size >= this.#capacity) {
      this.#previous = this.#current;
      this.#current = new Set();
      this.#since = now;
    }
    this.#current.add(jti);
    return true;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}

interface PublicKeyEntry {
  ok: true;
  key: KeyObject;
  thumbprint: string;
}

/**
 * Accepted proof headers, by their base64url text: a device signs every proof with the same key, so it sends the same
 * header every time, and a hit skips decoding it, its checks and the key's import (importing a JWK — point decoding
 * and validation — costs as much as the ECDSA verify itself). Only headers that passed every check are kept, and only
 * of the size a client sends (ours: ~200 characters): a header may carry members nobody reads, and 10,000 padded ones
 * must not hold 40 MB.
 */
const HEADER_CACHE = { entries: 10_000, keyLength: 512 };
/**
 * `ath` by token: a client presents the same token on every request until it renews, and the hash (public: anyone
 * holding the token can compute it) is one more SHA-256 per request otherwise. Only tokens of a length the server
 * issues are kept: the token endpoint hands over the raw bearer before anyone has judged it.
 */
const ATH_CACHE = { entries: 10_000, keyLength: TOKEN_MAX_LENGTH };

/** A bounded cache's insert: the oldest entry goes when full; a key longer than the cache's limit is not kept. */
function remember<V>(cache: Map<string, V>, limits: { entries: number; keyLength: number }, key: string, value: V): void {
  if (key.length > limits.keyLength) return;
  if (cache.size >= limits.entries) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}

interface ProofHeader {
  typ?: unknown;
  alg?: unknown;
  jwk?: unknown;
  crit?: unknown;
}

interface ProofClaims {
  jti?: unknown;
  htm?: unknown;
  htu?: unknown;
  iat?: unknown;
  ath?: unknown;
  nonce?: unknown;
}

function parseSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export class ProofVerifier {
  readonly maxAge: number;
  readonly nonces: NonceSource;
  readonly #replay: ReplayCache;
  readonly #now: () => number;
  readonly #headers = new Map<string, PublicKeyEntry>();
  readonly #aths = new Map<string, string>();

  constructor(options: ProofVerifierOptions) {
    this.maxAge = options.maxAge ?? DEFAULT_PROOF_MAX_AGE;
    this.#now = options.now ?? Date.now;
    this.nonces = new NonceSource(options.nonceKey, this.maxAge, this.#now);
    this.#replay = new ReplayCache(options.replayCapacity ?? 100_000, 2 * this.maxAge, this.#now());
  }

  /** Number of jti values held (for the memory bound's tests). */
  get remembered(): number {
    return this.#replay.size;
  }

  /** Entries in the header and ath caches (for the memory bound's tests). */
  get cached(): { headers: number; tokens: number } {
    return { headers: this.#headers.size, tokens: this.#aths.size };
  }

  #publicKey(jwk: unknown): PublicKeyEntry | null {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return null;
    const k = jwk as Record<string, unknown>;
    // A private member in the header would publish the key; a key with one is refused, not stripped (RFC 9449 §4.3).
    if ('d' in k) return null;
    if (k.kty !== 'EC' || k.crv !== 'P-256') return null;
    const { x, y } = k;
    if (typeof x !== 'string' || typeof y !== 'string' || x.length !== COORD_CHARS || y.length !== COORD_CHARS) return null;
    if (!B64URL.test(x) || !B64URL.test(y)) return null;
    let key: KeyObject;
    try {
      // node:crypto checks that the point is on the curve.
      key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
    } catch {
      return null;
    }
    return { ok: true, key, thumbprint: jwkThumbprint({ crv: 'P-256', kty: 'EC', x, y }) };
  }

  /** The header's key, from the cache or by checking the header (typ, alg, crit, jwk) and importing its key. */
  #headerKey(h: string): PublicKeyEntry | RefusedProof {
    const known = this.#headers.get(h);
    if (known) return known;
    if (!B64URL.test(h)) return refuse('malformed', 'the DPoP proof is not base64url');
    const header = parseSegment(h) as ProofHeader | null;
    if (!header) return refuse('malformed', 'the DPoP proof header or payload is not a JSON object');
    if (header.typ !== DPOP_TYP) return refuse('typ', `the DPoP proof's typ must be "${DPOP_TYP}"`);
    // ES256 only: `none` and the HMAC algorithms (whose "key" would be public) are refused here, before any crypto.
    if (header.alg !== DPOP_ALG) return refuse('alg', `the DPoP proof's alg must be ${DPOP_ALG}`);
    // We implement no JWS extension, so any critical one is not understood (RFC 7515 §4.1.11).
    if (header.crit !== undefined) return refuse('crit', 'the DPoP proof names critical header parameters');
    const entry = this.#publicKey(header.jwk);
    if (!entry) return refuse('jwk', 'the DPoP proof\'s jwk must be a public EC P-256 key');
    remember(this.#headers, HEADER_CACHE, h, entry);
    return entry;
  }

  #athOf(token: string): string {
    let ath = this.#aths.get(token);
    if (ath === undefined) {
      ath = accessTokenHash(token);
      remember(this.#aths, ATH_CACHE, token, ath);
    }
    return ath;
  }

  /** RFC 9449 §4.3, every check but the binding (the caller compares `thumbprint` with the session's). */
  verify(proof: unknown, expect: ProofExpectation): ProofResult {
    if (proof === undefined || proof === '') return refuse('missing', 'a DPoP proof is required');
    if (typeof proof !== 'string' || proof.length > PROOF_MAX_LENGTH) return refuse('malformed', 'the DPoP proof is not one compact JWS');
    const dot1 = proof.indexOf('.');
    const dot2 = dot1 === -1 ? -1 : proof.indexOf('.', dot1 + 1);
    // Two dots exactly; several DPoP headers arrive joined with ", " and fail here.
    if (dot2 === -1 || proof.indexOf('.', dot2 + 1) !== -1) return refuse('malformed', 'the DPoP proof is not one compact JWS');
    const h = proof.slice(0, dot1);
    const p = proof.slice(dot1 + 1, dot2);
    const s = proof.slice(dot2 + 1);
    if (!B64URL.test(p) || !B64URL.test(s)) return refuse('malformed', 'the DPoP proof is not base64url');
    const key = this.#headerKey(h);
    if (!key.ok) return key;
    const claims = parseSegment(p) as ProofClaims | null;
    if (!claims) return refuse('malformed', 'the DPoP proof header or payload is not a JSON object');

    const { jti, htm, htu, iat, ath, nonce } = claims;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > JTI_MAX_LENGTH || typeof htm !== 'string' || typeof htu !== 'string' ||
      typeof iat !== 'number' || !Number.isFinite(iat)) {
      return refuse('claims', 'the DPoP proof lacks jti, htm, htu or iat');
    }
    if (htm !== expect.htm) return refuse('htm', 'the DPoP proof was made for another HTTP method');
    // The client spells htu as the server does nearly always: the exact match skips two URL parses.
    if (htu !== expect.htu) {
      const claimed = normalizeHtu(htu);
      if (claimed === null || claimed !== normalizeHtu(expect.htu)) return refuse('htu', 'the DPoP proof was made for another URL');
    }

    const now = this.#now();
    if (nonce !== undefined) {
      // A nonce makes the proof fresh whatever the device's clock says (RFC 9449 §8); a stale one asks for the new one.
      if (typeof nonce !== 'string' || !this.nonces.accepts(nonce)) return refuse('nonce', 'the DPoP proof\'s nonce is not the server\'s current one', 'HS_ERR_USE_DPOP_NONCE');
    } else if (Math.abs(iat * 1000 - now) > this.maxAge) {
      return refuse('iat', 'the DPoP proof\'s iat is outside the accepted window: use the DPoP-Nonce sent', 'HS_ERR_USE_DPOP_NONCE');
    }

    if (expect.token !== undefined) {
      if (ath !== this.#athOf(expect.token)) return refuse('ath', 'the DPoP proof was made for another token');
    }

    if (s.length !== SIG_CHARS) return refuse('signature', 'the DPoP proof\'s signature is not valid');
    let valid: boolean;
    try {
      valid = verify('sha256', Buffer.from(proof.slice(0, dot2), 'latin1'), { key: key.key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid) return refuse('signature', 'the DPoP proof\'s signature is not valid');

    if (!this.#replay.add(jti, now)) return refuse('replay', 'the DPoP proof was already used');
    return { ok: true, thumbprint: key.thumbprint, jti };
  }
}
