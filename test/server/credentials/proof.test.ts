/**
 * The DPoP proof verifier on its own (RFC 9449 §4.3): proofs made by node:crypto, every field wrong one at a time,
 * each refused for its own reason; jose (a well-kept JOSE library) as the reference for what a valid proof and an
 * RFC 7638 thumbprint are.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, EmbeddedJWK } from 'jose';
import {
  NonceSource,
  PROOF_MAX_LENGTH,
  ProofVerifier,
  ReplayCache,
  accessTokenHash,
  jwkThumbprint,
  normalizeHtu,
  type ProofFailure,
  type ProofResult,
} from '../../../src/server/credentials/proof.ts';
import { makeHmacProof, makeProof, newProofKey } from '../../helpers/dpop.ts';

const HTU = 'https://api.example.com/app/data';
const TOKEN = 'v1.c2lk.9999999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const nonceKey = Buffer.alloc(32, 7);
const key = newProofKey();
const other = newProofKey();

function verifier(now?: () => number, replayCapacity?: number) {
  return new ProofVerifier({ nonceKey, maxAge: 300_000, now, replayCapacity });
}

function refused(result: ProofResult, reason: ProofFailure, code = 'HS_ERR_INVALID_DPOP_PROOF') {
  assert.equal(result.ok, false, `accepted, expected refusal for ${reason}`);
  if (result.ok) return;
  assert.equal(result.reason, reason, result.message);
  assert.equal(result.code, code);
}

describe('DPoP proof: a valid one', () => {
  test('is accepted, with the RFC 7638 thumbprint jose computes, and verifies with jose too', async () => {
    const v = verifier();
    const proof = makeProof(key, { htm: 'GET', htu: HTU, token: TOKEN });
    const result = v.verify(proof, { htm: 'GET', htu: HTU, token: TOKEN });
    assert.equal(result.ok, true, result.ok ? '' : result.message);
    assert.equal(result.ok && result.thumbprint, await calculateJwkThumbprint(key.publicJwk as never));
    const checked = await compactVerify(proof, EmbeddedJWK, { algorithms: ['ES256'], typ: 'dpop+jwt' } as never);
    assert.equal(checked.protectedHeader.alg, 'ES256');
  });

  test('the thumbprint is the one jose computes for the same key (RFC 7638 canonical members, SHA-256)', async () => {
    const jwk = { kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.y };
    assert.equal(jwkThumbprint(jwk), await calculateJwkThumbprint(jwk as never));
  });

  test('no token expected: ath is not needed (a token request by cookie or with no credential)', () => {
    const result = verifier().verify(makeProof(key, { htm: 'POST', htu: HTU }), { htm: 'POST', htu: HTU });
    assert.equal(result.ok, true);
  });

  test('htu is compared normalised and without query and fragment (RFC 9449 §4.3)', () => {
    const v = verifier();
    for (const htu of ['HTTPS://API.example.com:443/app/data', 'https://api.example.com/app/./data', 'https://api.example.com/app/data?x=1#frag']) {
      assert.equal(v.verify(makeProof(key, { htm: 'GET', htu }), { htm: 'GET', htu: HTU }).ok, true, htu);
    }
  });

  test('ath is base64url(SHA-256(token))', () => {
    assert.equal(accessTokenHash('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});

describe('DPoP proof: every field wrong, one at a time', () => {
  const expect = { htm: 'GET', htu: HTU, token: TOKEN };
  const base = { htm: 'GET', htu: HTU, token: TOKEN };
  const cases: [string, () => string, ProofFailure, string?][] = [
    ['no proof', () => '', 'missing'],
    ['two proofs (two DPoP headers joined)', () => `${makeProof(key, base)}, ${makeProof(key, base)}`, 'malformed'],
    ['not a JWS', () => 'abc.def', 'malformed'],
    ['header not JSON', () => `bm90IGpzb24.${makeProof(key, base).split('.').slice(1).join('.')}`, 'malformed'],
    ['too long', () => `${'a'.repeat(PROOF_MAX_LENGTH)}.b.c`, 'malformed'],
    ['typ missing', () => makeProof(key, { ...base, header: { typ: undefined } }), 'typ'],
    ['typ "JWT"', () => makeProof(key, { ...base, header: { typ: 'JWT' } }), 'typ'],
    ['alg none', () => makeProof(key, { ...base, header: { alg: 'none' } }).replace(/\.[^.]*$/, '.'), 'alg'],
    ['alg HS256 keyed with the public key', () => makeHmacProof(key, base, (i) => createHmac('sha256', key.publicJwk.x).update(i).digest()), 'alg'],
    ['alg ES384', () => makeProof(key, { ...base, header: { alg: 'ES384' } }), 'alg'],
    ['alg RS256', () => makeProof(key, { ...base, header: { alg: 'RS256' } }), 'alg'],
    ['crit header', () => makeProof(key, { ...base, header: { crit: ['b64'], b64: false } }), 'crit'],
    ['jwk missing', () => makeProof(key, { ...base, header: { jwk: undefined } }), 'jwk'],
    ['jwk with its private part', () => makeProof(key, { ...base, header: { jwk: { ...key.publicJwk, d: (key.privateKey.export({ format: 'jwk' }) as { d: string }).d } } }), 'jwk'],
    ['jwk on another curve', () => makeProof(key, { ...base, header: { jwk: { ...key.publicJwk, crv: 'P-384' } } }), 'jwk'],
    ['jwk not on the curve', () => makeProof(key, { ...base, header: { jwk: { ...key.publicJwk, y: key.publicJwk.x } } }), 'jwk'],
    ['jwk an RSA key', () => makeProof(key, { ...base, header: { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } } }), 'jwk'],
    ['jti missing', () => makeProof(key, { ...base, claims: { jti: undefined } }), 'claims'],
    ['iat missing', () => makeProof(key, { ...base, claims: { iat: undefined } }), 'claims'],
    ['iat a string', () => makeProof(key, { ...base, claims: { iat: String(Math.floor(Date.now() / 1000)) } }), 'claims'],
    ['htm POST for a GET', () => makeProof(key, { ...base, htm: 'POST' }), 'htm'],
    ['htm lower case', () => makeProof(key, { ...base, htm: 'get' }), 'htm'],
    ['htu another path', () => makeProof(key, { ...base, htu: 'https://api.example.com/app/other' }), 'htu'],
    ['htu without the mount path', () => makeProof(key, { ...base, htu: 'https://api.example.com/data' }), 'htu'],
    ['htu http for https', () => makeProof(key, { ...base, htu: 'http://api.example.com/app/data' }), 'htu'],
    ['htu another host', () => makeProof(key, { ...base, htu: 'https://evil.example/app/data' }), 'htu'],
    ['htu relative', () => makeProof(key, { ...base, htu: '/app/data' }), 'htu'],
    ['iat 10 minutes old', () => makeProof(key, { ...base, iat: Math.floor(Date.now() / 1000) - 600 }), 'iat', 'HS_ERR_USE_DPOP_NONCE'],
    ['iat 10 minutes ahead', () => makeProof(key, { ...base, iat: Math.floor(Date.now() / 1000) + 600 }), 'iat', 'HS_ERR_USE_DPOP_NONCE'],
    ['nonce not the server\'s', () => makeProof(key, { ...base, nonce: 'made-up-nonce' }), 'nonce', 'HS_ERR_USE_DPOP_NONCE'],
    ['ath missing', () => makeProof(key, { ...base, token: undefined }), 'ath'],
    ['ath of another token', () => makeProof(key, { ...base, token: `${TOKEN}x` }), 'ath'],
    ['signature by another key', () => makeProof(key, { ...base, signWith: other.privateKey }), 'signature'],
    ['signature flipped', () => { const p = makeProof(key, base); return p.slice(0, -2) + (p.endsWith('AA') ? 'BA' : 'AA'); }, 'signature'],
    ['signature DER-encoded (not JWS r||s)', () => { const p = makeProof(key, base); return `${p.split('.').slice(0, 2).join('.')}.${'MEUCIQ'.padEnd(96, 'A')}`; }, 'signature'],
    ['payload changed after signing', () => {
      const [h, , s] = makeProof(key, base).split('.');
      const claims = Buffer.from(JSON.stringify({ jti: 'x'.repeat(22), htm: 'GET', htu: HTU, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(TOKEN) })).toString('base64url');
      return `${h}.${claims}.${s}`;
    }, 'signature'],
  ];
  for (const [name, make, reason, code] of cases) {
    test(`${name} → ${reason}`, () => refused(verifier().verify(make(), expect), reason, code));
  }

  // The verifier remembers accepted headers (a device sends the same one on every proof): one that has accepted
  // this key's header must still refuse each case for its own reason, the cached header included.
  const warm = verifier();
  for (const [name, make, reason, code] of cases) {
    test(`${name} → ${reason}, on a verifier that already accepted this key's header`, () => {
      assert.equal(warm.verify(makeProof(key, base), expect).ok, true);
      refused(warm.verify(make(), expect), reason, code);
    });
  }

  test('the same proof twice → replay (the second one)', () => {
    const v = verifier();
    const proof = makeProof(key, base);
    assert.equal(v.verify(proof, expect).ok, true);
    refused(v.verify(proof, expect), 'replay');
  });

  test('a refused proof (bad signature) does not burn its jti: its signed twin still passes', () => {
    const v = verifier();
    const proof = makeProof(key, { ...base, claims: { jti: 'fixed-jti-value-0001' } });
    const forged = makeProof(key, { ...base, claims: { jti: 'fixed-jti-value-0001' }, signWith: other.privateKey });
    refused(v.verify(forged, expect), 'signature');
    assert.equal(v.verify(proof, expect).ok, true);
  });
});

describe('DPoP nonce', () => {
  test('a proof carrying the current nonce is fresh whatever its iat (a device clock that is off)', () => {
    let now = 1_000_000_000_000;
    const v = verifier(() => now);
    const nonce = v.nonces.current();
    const proof = makeProof(key, { htm: 'GET', htu: HTU, nonce, iat: 1 });
    assert.equal(v.verify(proof, { htm: 'GET', htu: HTU }).ok, true);
    // The previous bucket's nonce still works once the bucket turns, not after two.
    now += 300_000;
    assert.equal(v.verify(makeProof(key, { htm: 'GET', htu: HTU, nonce, iat: 1 }), { htm: 'GET', htu: HTU }).ok, true);
    now += 300_000;
    refused(v.verify(makeProof(key, { htm: 'GET', htu: HTU, nonce, iat: 1 }), { htm: 'GET', htu: HTU }), 'nonce', 'HS_ERR_USE_DPOP_NONCE');
    assert.notEqual(v.nonces.current(), nonce);
  });

  test('processes with the same key agree on the nonce; another key does not', () => {
    const t = () => 42 * 300_000;
    assert.equal(new NonceSource(nonceKey, 300_000, t).current(), new NonceSource(nonceKey, 300_000, t).current());
    assert.equal(new NonceSource(Buffer.alloc(32, 8), 300_000, t).accepts(new NonceSource(nonceKey, 300_000, t).current()), false);
  });
});

describe('what the verifier caches stays small', () => {
  test('padded headers and overlong tokens are judged as always but not remembered; a client\'s own are', () => {
    const v = verifier();
    const expect = { htm: 'GET', htu: HTU, token: TOKEN };
    assert.equal(v.verify(makeProof(key, expect), expect).ok, true);
    assert.deepEqual(v.cached, { headers: 1, tokens: 1 });
    // A header may carry members nobody reads: padded to ~3 KB it still verifies, and 10,000 of them must not stay.
    for (let i = 0; i < 200; i++) {
      assert.equal(v.verify(makeProof(key, { ...expect, header: { pad: `${i}`.padEnd(2000, 'x') } }), expect).ok, true);
    }
    // The token endpoint hands the verifier the raw bearer before anything judges it: a forged one may be long.
    for (let i = 0; i < 200; i++) {
      const long = `${TOKEN}${i}`.padEnd(3000, 'A');
      assert.equal(v.verify(makeProof(key, { ...expect, token: long }), { ...expect, token: long }).ok, true);
    }
    assert.deepEqual(v.cached, { headers: 1, tokens: 1 });
  });
});

describe('jti memory is bounded', () => {
  test('a flood of fresh signed proofs never holds more than two generations', () => {
    const v = verifier(undefined, 50);
    for (let i = 0; i < 500; i++) {
      assert.equal(v.verify(makeProof(key, { htm: 'GET', htu: HTU }), { htm: 'GET', htu: HTU }).ok, true);
      assert.ok(v.remembered <= 100, `${v.remembered} jti values held`);
    }
  });

  test('within capacity, every jti is remembered for the whole window (2 × maxAge)', () => {
    const cache = new ReplayCache(1000, 600_000, 0);
    assert.equal(cache.add('a', 0), true);
    assert.equal(cache.add('a', 599_999), false);
    assert.equal(cache.add('b', 600_000), true); // the generation turns: 'a' moves to the previous one
    assert.equal(cache.add('a', 1_100_000), false);
    assert.equal(cache.add('c', 1_200_000), true); // turns again: 'a' (seen at 0) is past its window and gone
    assert.equal(cache.add('a', 1_200_001), true);
    assert.equal(cache.add('b', 1_200_002), false);
  });
});

describe('normalizeHtu', () => {
  test('scheme and host lower-cased, default port dropped, query and fragment gone, userinfo refused', () => {
    assert.equal(normalizeHtu('HTTPS://Api.Example.com:443/a/../b?q#f'), 'https://api.example.com/b');
    assert.equal(normalizeHtu('ws://127.0.0.1:80/ws'), 'ws://127.0.0.1/ws');
    assert.equal(normalizeHtu('https://user:pw@api.example.com/'), null);
    assert.equal(normalizeHtu('capacitor://localhost/'), null);
    assert.equal(normalizeHtu('not a url'), null);
  });
});
