/**
 * The client's key and proofs, in Node (its WebCrypto is the browsers' API): a proof the client signs is one the
 * server's verifier and jose both accept; the key is made only when asked, once, non-extractable, kept in the given
 * store; a store that cannot keep a CryptoKey (DataCloneError, a hang) or no crypto.subtle leaves it unbound, once,
 * with an event saying why. The browser tests cover the same in real IndexedDB.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compactVerify, EmbeddedJWK, decodeProtectedHeader } from 'jose';
import { createBinding, type BindingChange } from '../../src/client/binding.ts';
import type { TokenStorage } from '../../src/client/options.ts';
import { ProofVerifier, accessTokenHash } from '../../src/server/credentials/proof.ts';

/** An IndexedDB stand-in: values are structured-cloned on the way in, as IndexedDB does. */
function cloningStore(): TokenStorage & { map: Map<string, unknown>; sets: number } {
  const map = new Map<string, unknown>();
  const s = {
    map,
    sets: 0,
    get: async (k: string) => (map.has(k) ? (structuredClone(map.get(k)) as string) : undefined),
    set: async (k: string, v: string) => {
      s.sets++;
      map.set(k, structuredClone(v));
    },
    del: async (k: string) => void map.delete(k),
  };
  return s;
}

const HTU = 'https://api.example.test/data';
const TOKEN = 'v1.c2lk.9999999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

describe('client binding', () => {
  test('no key until a token request asks for one; then one non-extractable key, kept, reused', async () => {
    const store = cloningStore();
    const changes: BindingChange[] = [];
    const b = createBinding(store, 'k1', (c) => changes.push(c));
    assert.equal(await b.proof('GET', HTU, TOKEN), undefined, 'no key yet, and not asked to make one');
    assert.equal(store.sets, 0);
    const first = await b.proof('POST', HTU, null, true);
    assert.ok(first);
    assert.equal(store.sets, 1);
    const pair = store.map.get('k1.dpop') as CryptoKeyPair;
    assert.equal(pair.privateKey.extractable, false);
    await assert.rejects(crypto.subtle.exportKey('jwk', pair.privateKey));
    // Another tab (another binding over the same store) signs with the same key and makes none.
    const other = createBinding(store, 'k1', (c) => changes.push(c));
    const second = await other.proof('GET', HTU, TOKEN);
    assert.deepEqual(decodeProtectedHeader(second!).jwk, decodeProtectedHeader(first).jwk);
    assert.equal(store.sets, 1);
    assert.deepEqual(changes, []);
  });

  test('its proofs pass the server verifier and jose: typ, alg, public jwk only, htu without query, ath, nonce', async () => {
    const b = createBinding(cloningStore(), 'k2', () => {});
    const v = new ProofVerifier({ nonceKey: Buffer.alloc(32, 1) });
    const proof = (await b.proof('GET', `${HTU}?q=1#f`, TOKEN, true))!;
    const header = decodeProtectedHeader(proof);
    assert.deepEqual(Object.keys(header.jwk!).sort(), ['crv', 'kty', 'x', 'y']);
    assert.equal(header.typ, 'dpop+jwt');
    const { payload } = await compactVerify(proof, EmbeddedJWK, { algorithms: ['ES256'] });
    const claims = JSON.parse(new TextDecoder().decode(payload));
    assert.equal(claims.htu, HTU);
    assert.equal(claims.ath, accessTokenHash(TOKEN));
    assert.equal(typeof claims.jti, 'string');
    assert.ok(Number.isInteger(claims.iat));
    const result = v.verify(proof, { htm: 'GET', htu: HTU, token: TOKEN });
    assert.equal(result.ok, true, result.ok ? '' : result.message);

    b.nonce = v.nonces.current();
    const withNonce = (await b.proof('POST', HTU))!;
    assert.equal(JSON.parse(Buffer.from(withNonce.split('.')[1]!, 'base64url').toString()).nonce, b.nonce);
    assert.equal(JSON.parse(Buffer.from(withNonce.split('.')[1]!, 'base64url').toString()).ath, undefined, 'no ath without a token');
    assert.equal(v.verify(withNonce, { htm: 'POST', htu: HTU }).ok, true);
  });

  test('drop(true) deletes the key (logout); drop() only forgets it here (another tab logged out)', async () => {
    const store = cloningStore();
    const b = createBinding(store, 'k3', () => {});
    const before = decodeProtectedHeader((await b.proof('POST', HTU, null, true))!).jwk;
    await b.drop();
    assert.ok(store.map.has('k3.dpop'));
    await b.drop(true);
    assert.equal(store.map.has('k3.dpop'), false);
    assert.equal(await b.proof('GET', HTU, TOKEN), undefined);
    const after = decodeProtectedHeader((await b.proof('POST', HTU, null, true))!).jwk;
    assert.notDeepEqual(after, before, 'a new key after logout');
  });

  test('a store that cannot clone a CryptoKey (DataCloneError): unbound, one event, no retry per request', async () => {
    const store = cloningStore();
    store.set = async () => {
      throw new DOMException('could not clone', 'DataCloneError');
    };
    const changes: BindingChange[] = [];
    const b = createBinding(store, 'k4', (c) => changes.push(c));
    assert.equal(await b.proof('POST', HTU, null, true), undefined);
    assert.equal(await b.proof('POST', HTU, null, true), undefined);
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.reason, 'error');
    assert.equal((changes[0]!.error as DOMException).name, 'DataCloneError');
  });

  test('a store that never answers: unbound after the bound, reason timeout', async () => {
    const store = cloningStore();
    store.get = () => new Promise(() => {});
    const changes: BindingChange[] = [];
    const b = createBinding(store, 'k5', (c) => changes.push(c));
    // The client's timers do not keep Node alive (later.ts): this one does, until the bound has passed.
    const alive = setInterval(() => {}, 1000);
    try {
      assert.equal(await b.proof('POST', HTU, null, true), undefined);
    } finally {
      clearInterval(alive);
    }
    assert.deepEqual(changes, [{ bound: false, reason: 'timeout', error: undefined }]);
  });

  test('no crypto.subtle: unbound, the event after creation (asynchronously)', async () => {
    const desc = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
    try {
      const changes: BindingChange[] = [];
      const b = createBinding(cloningStore(), 'k6', (c) => changes.push(c));
      assert.deepEqual(changes, [], 'not inside createBinding');
      assert.equal(await b.proof('POST', HTU, null, true), undefined);
      assert.deepEqual(changes, [{ bound: false, reason: 'unsupported' }]);
    } finally {
      Object.defineProperty(globalThis, 'crypto', desc);
    }
  });
});
