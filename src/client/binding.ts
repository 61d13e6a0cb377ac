/**
 * Device binding (DESIGN "Device binding", RFC 9449 DPoP): one ECDSA P-256 key pair per origin and `key`, whose
 * private half is non-extractable (no script, ours included, can read it out), kept in IndexedDB so every tab and
 * every later visit signs with the same key, and DPoP proofs signed with it by WebCrypto directly (ES256's JWS
 * signature is the raw r||s WebCrypto gives, RFC 7518 §3.4).
 *
 * A key is made only when a token request asks for one, which runs under the renewal's Web Lock: two tabs never make
 * two keys. Where none can be kept (no crypto.subtle, IndexedDB failing or hanging, a CryptoKey it cannot clone as in
 * Lockdown Mode), the session stays unbound, as without binding, and says why once (`binding` event): a key kept only
 * in memory would bind the session to a key the next page load has lost.
 */
import { DPOP_ALG, DPOP_SCHEME, DPOP_TYP, HEADERS } from '../shared/protocol.js';
import { BEARER, noop } from './core.js';
import { later } from './later.js';
import type { TokenStorage } from './options.js';

export interface Binding {
  /** A proof for this request, or undefined when there is no key. `create`: make and keep the key if there is none. */
  proof(htm: string, htu: string, token?: string | null, create?: boolean): Promise<string | undefined>;
  /** The last DPoP-Nonce the server sent (RFC 9449 §8): every later proof carries it. */
  nonce?: string | null;
  /** Forget the key here; `del`: delete it too (logout() in this tab; another tab's logout only forgets). */
  drop(del?: boolean): Promise<unknown>;
}

/**
 * The Authorization header of a request carrying `token`: `DPoP` beside a proof (RFC 9449 §7.1), else `Bearer`. A
 * DPoP-Nonce on the answer replaces the one kept (§8.2: a server may send a new nonce with any answer).
 */
export const authorize = (headers: Headers, token: string, proof?: string) => {
  headers.set(HEADERS.authorization, (proof ? DPOP_SCHEME + ' ' : BEARER) + token);
  if (proof) headers.set(HEADERS.dpop, proof);
};

/** The answer's challenge, if any (`WWW-Authenticate` error), after keeping its DPoP-Nonce. */
export const challenge = (binding: Binding, res: Response) => {
  binding.nonce = res.headers.get(HEADERS.dpopNonce) || binding.nonce;
  return res.status == 401 ? /error="(\w+)/.exec(res.headers.get(HEADERS.wwwAuthenticate)!)?.[1] : undefined;
};

/** What a binding that cannot be kept reports (the `binding` event). */
export interface BindingChange {
  bound: false;
  reason: 'unsupported' | 'error' | 'timeout';
  error?: unknown;
}

type Key = [pair: CryptoKeyPair, header: string];

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
/** As the token store's bound: some iOS webviews never answer indexedDB.open. */
const BOUND = 1500;
const TIMEOUT = new Error('timeout');

const utf8 = (s: string) => new TextEncoder().encode(s);
/** base64url without padding (RFC 7515 §2) of bytes or of an ASCII string (JSON of ASCII values, a URL's href). */
export const b64 = (v: ArrayBuffer | Uint8Array | string) =>
  btoa(typeof v == 'string' ? v : String.fromCharCode(...new Uint8Array(v))).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const json = (v: object) => b64(JSON.stringify(v));

/** `enabled` false (the `binding: false` option): never a key, and nothing said. */
export function createBinding(store: TokenStorage, name: string, said: (change: BindingChange) => void, enabled = true): Binding {
  const subtle = (enabled && globalThis.crypto?.subtle) as SubtleCrypto;
  const item = name + '.dpop';
  /** The key once loaded or made; a miss (no key yet, not asked to make one) is not kept. */
  let key: Promise<Key | null> | null = null;
  let off = !subtle;
  const fail = (reason: BindingChange['reason'], error?: unknown) => {
    // Once: from now on this page is unbound.
    if (!off) said({ bound: false, reason, error });
    off = true;
    return null;
  };
  const bounded = <T>(p: unknown) => Promise.race([p as Promise<T>, new Promise<never>((_, reject) => later(() => reject(TIMEOUT), BOUND))]);

  const load = async (create?: boolean): Promise<Key | null> => {
    let pair = (await bounded(store.get(item))) as unknown as CryptoKeyPair | undefined;
    if (!pair?.privateKey) {
      if (!create) return null;
      pair = (await subtle.generateKey(ECDSA, false, ['sign'])) as CryptoKeyPair;
      await bounded(store.set(item, pair as never));
    }
    const { crv, kty, x, y } = await subtle.exportKey('jwk', pair.publicKey);
    return [pair, json({ typ: DPOP_TYP, alg: DPOP_ALG, jwk: { crv, kty, x, y } })];
  };

  const get = (create?: boolean) =>
    (key ||= load(create).then(
      (k) => k || (key = null),
      (e) => (e == TIMEOUT ? fail('timeout') : fail('error', e)),
    ));

  const binding: Binding = {
    async proof(htm, htu, token, create) {
      if (off) return;
      // A look-up that found no key (a fetch's, at the same time) is no answer for a token request that may make one.
      const k = (await get()) || (create && !off && (await get(true)));
      if (!k) return;
      const claims: Record<string, unknown> = { jti: b64(crypto.getRandomValues(new Uint8Array(16))), htm, htu: htu.replace(/[?#].*/, ''), iat: (Date.now() / 1e3) | 0 };
      if (token) claims.ath = b64(await subtle.digest('SHA-256', utf8(token)));
      if (binding.nonce) claims.nonce = binding.nonce;
      const input = k[1] + '.' + json(claims);
      return input + '.' + b64(await subtle.sign(ECDSA, k[0].privateKey, utf8(input)));
    },
    async drop(del) {
      key = null;
      // A store that fails here has no key to delete either.
      if (del) await bounded(Promise.resolve(item).then(store.del)).catch(noop);
    },
  };
  // Asynchronously, as the storage event: a listener attached right after createSession() sees it.
  if (off && enabled) Promise.resolve().then(() => said({ bound: false, reason: 'unsupported' }));
  return binding;
}
