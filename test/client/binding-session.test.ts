/**
 * A session's device binding against msw (request logic only; the real shim and real browsers are in
 * test/browser/client-binding.test.ts): the key's IndexedDB is the fake one, the crypto Node's WebCrypto, and every
 * proof the fake API receives is judged by the server's own verifier (src/server/credentials/proof.ts).
 *
 * What must hold: a proof on every token request, the key made once; `Authorization: DPoP` and a proof of the actual
 * request on every fetch to the API and attachTo origins only when the endpoint said `bound: true`; one retry for a
 * nonce challenge, one renewal for a refused proof, never a loop; logout deletes the key; `binding: false`, no
 * IndexedDB or no crypto.subtle leave the session unbound and working (with a `binding` event for the latter two).
 */
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, HttpResponse } from 'msw';
import { decodeProtectedHeader } from 'jose';
import { createSession, type Session } from '../../src/client/index.ts';
import { ProofVerifier, accessTokenHash, type ProofResult } from '../../src/server/credentials/proof.ts';
import { installFakeIndexedDB, type FakeIndexedDB } from './fake-indexeddb.ts';
import { API, TOKEN_URL, mapStorage, mswServer, nextEvent, uniqueKey } from './support.ts';

const server = mswServer();
let idb: FakeIndexedDB;
beforeEach(() => {
  idb = installFakeIndexedDB();
});
afterEach(() => {
  server.resetHandlers();
  idb.uninstall();
});
after(() => server.close());

const FILES = 'https://files.example.test';

interface Seen {
  method: string;
  url: string;
  authorization: string | null;
  dpop: string | null;
  verdict?: ProofResult;
}

/** Claims of a compact JWS (no check: the verifier's verdict is in `verdict`). */
const claims = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString());
const jkt = (jws: string) => JSON.stringify(decodeProtectedHeader(jws).jwk);

/**
 * A token endpoint and an API that bind as the shim does: the first token request with a valid proof binds the
 * session (thumbprint), and from then on a token is good only as `DPoP` with a proof by that key. `bind: false` is a
 * server with binding 'off'. `nonce`: proofs without the server's nonce are refused with use_dpop_nonce (a device
 * clock that is off), `rebind`: a proof by another key rebinds at the endpoint (the cookie case), else it is refused.
 */
function boundApi(opts: { bind?: boolean; nonce?: boolean | 'always-stale'; rebind?: boolean } = {}) {
  const verifier = new ProofVerifier({ nonceKey: Buffer.alloc(32, 7) });
  const state = {
    posts: [] as Seen[],
    deletes: [] as Seen[],
    api: [] as Seen[],
    /** thumbprint per token */
    bound: new Map<string, string | undefined>(),
    n: 0,
    created: 0,
  };
  const refuse = (error: string) =>
    HttpResponse.json(
      { error },
      { status: 401, headers: { 'WWW-Authenticate': `DPoP algs="ES256", error="${error}"`, 'DPoP-Nonce': verifier.nonces.current() } },
    );
  const see = (request: Request, token?: string): Seen => {
    const dpop = request.headers.get('dpop');
    const url = request.url.replace(/[?#].*/, '');
    const s: Seen = { method: request.method, url: request.url, authorization: request.headers.get('authorization'), dpop };
    if (dpop) s.verdict = verifier.verify(dpop, { htm: request.method, htu: url, token });
    return s;
  };
  /** A verdict that passed the verifier but lacks the nonce this server demands. */
  const stale = (s: Seen) =>
    s.dpop && (opts.nonce === 'always-stale' || (opts.nonce && claims(s.dpop).nonce !== verifier.nonces.current()));
  const tokenOf = (s: Seen) => /^(?:Bearer|DPoP) (.+)$/.exec(s.authorization ?? '')?.[1];

  const handlers = [
    http.post(TOKEN_URL, ({ request }) => {
      const bearer = /^(?:Bearer|DPoP) (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
      const s = see(request, bearer);
      state.posts.push(s);
      if (s.verdict && !s.verdict.ok) return refuse(s.verdict.code === 'HS_ERR_USE_DPOP_NONCE' ? 'use_dpop_nonce' : 'invalid_dpop_proof');
      if (stale(s)) return refuse('use_dpop_nonce');
      const thumb = s.verdict?.ok && opts.bind !== false ? s.verdict.thumbprint : undefined;
      let created = !bearer || !state.bound.has(bearer);
      if (bearer && state.bound.has(bearer)) {
        const was = state.bound.get(bearer);
        if (was && was !== thumb && !opts.rebind) return refuse('invalid_dpop_proof');
        created = false;
      }
      if (created) state.created++;
      const token = `v1.b${++state.n}`;
      state.bound.set(token, thumb);
      return HttpResponse.json({ token, expiresAt: Date.now() + 3_600_000, storage: 'memory', created, bound: !!thumb });
    }),
    http.delete(TOKEN_URL, ({ request }) => {
      state.deletes.push(see(request, tokenOf({ authorization: request.headers.get('authorization') } as Seen)));
      return new HttpResponse(null, { status: 204 });
    }),
    ...[API, FILES].map((origin) =>
      http.all(`${origin}/api/*`, ({ request }) => {
        const auth = request.headers.get('authorization') ?? '';
        const token = /^(?:Bearer|DPoP) (.+)$/.exec(auth)?.[1];
        const s = see(request, token);
        state.api.push(s);
        if (!token || !state.bound.has(token)) return HttpResponse.json({ error: 'invalid_token' }, { status: 401, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
        const thumb = state.bound.get(token);
        if (thumb) {
          if (!auth.startsWith('DPoP ') || !s.verdict) return refuse('invalid_dpop_proof');
          if (!s.verdict.ok) return refuse(s.verdict.code === 'HS_ERR_USE_DPOP_NONCE' ? 'use_dpop_nonce' : 'invalid_dpop_proof');
          if (stale(s)) return refuse('use_dpop_nonce');
          if (s.verdict.thumbprint !== thumb) return refuse('invalid_dpop_proof');
        }
        return HttpResponse.json({ ok: true });
      }),
    ),
  ];
  server.use(...handlers);
  return { state, verifier };
}

function start(extra: Partial<Parameters<typeof createSession>[0]> = {}): Session {
  return createSession({ url: API, storage: 'memory', key: uniqueKey(), attachTo: [FILES], ...extra });
}

describe('a bound session', () => {
  test('the first token request carries a proof (no Authorization, no ath); the key is made once and kept in IndexedDB', async () => {
    const { state } = boundApi();
    const key = uniqueKey();
    const s = start({ key });
    await s.ready();
    assert.equal(s.bound, true);
    const [first] = state.posts;
    assert.equal(first!.authorization, null);
    assert.ok(first!.verdict?.ok, 'the server verifier accepts the token request proof');
    assert.equal(claims(first!.dpop!).htm, 'POST');
    assert.equal(claims(first!.dpop!).htu, TOKEN_URL);
    assert.equal(claims(first!.dpop!).ath, undefined);
    const pair = idb.databases.get(key)?.get(key)?.get(`${key}.dpop`) as CryptoKeyPair;
    assert.equal(pair.privateKey.extractable, false);
    await assert.rejects(crypto.subtle.exportKey('jwk', pair.privateKey));
    // A renewal signs with the same key, as DPoP, with ath of the token it renews.
    const before = s.token!;
    await s.renew();
    const second = state.posts[1]!;
    assert.equal(second.authorization, `DPoP ${before}`);
    assert.ok(second.verdict?.ok);
    assert.equal(claims(second.dpop!).ath, accessTokenHash(before));
    assert.equal(jkt(second.dpop!), jkt(first!.dpop!));
  });

  test('every fetch to the API and attachTo: Authorization DPoP and a proof of that very request; other origins get nothing', async () => {
    const { state } = boundApi();
    const s = start();
    await s.ready();
    let foreign: Request | undefined;
    server.use(http.get('https://other.example.test/x', ({ request }) => ((foreign = request), HttpResponse.json({}))));
    assert.equal((await s.fetch('/api/a?q=1#frag')).status, 200);
    assert.equal((await s.fetch(new Request(`${API}/api/b`, { method: 'PUT', body: 'x' }))).status, 200);
    assert.equal((await s.fetch(`${FILES}/api/c`, { method: 'DELETE' })).status, 200);
    await s.fetch('https://other.example.test/x');
    const [a, b, c] = state.api;
    for (const seen of [a!, b!, c!]) {
      assert.equal(seen.authorization, `DPoP ${s.token}`);
      assert.ok(seen.verdict?.ok, `${seen.method} ${seen.url}: ${seen.verdict && !seen.verdict.ok ? seen.verdict.message : ''}`);
    }
    assert.deepEqual(
      [a, b, c].map((x) => [claims(x!.dpop!).htm, claims(x!.dpop!).htu]),
      [
        ['GET', `${API}/api/a`],
        ['PUT', `${API}/api/b`],
        ['DELETE', `${FILES}/api/c`],
      ],
    );
    assert.equal(new Set([a, b, c].map((x) => claims(x!.dpop!).jti)).size, 3, 'a fresh jti per request');
    assert.equal(foreign!.headers.get('authorization'), null);
    assert.equal(foreign!.headers.get('dpop'), null);
  });

  test('a server that does not bind (bound: false): Bearer and no proof on fetches; token requests still carry one', async () => {
    const { state } = boundApi({ bind: false });
    const s = start();
    await s.ready();
    assert.equal(s.bound, false);
    await s.fetch('/api/a');
    assert.equal(state.api[0]!.authorization, `Bearer ${s.token}`);
    assert.equal(state.api[0]!.dpop, null);
    await s.renew();
    assert.ok(state.posts[1]!.dpop);
  });

  test('the bound flag is stored with the token: a reload sends DPoP at once, with the same key, without a token request', async () => {
    const { state } = boundApi();
    const key = uniqueKey();
    const storage = mapStorage();
    const s1 = start({ key, storage });
    await s1.ready();
    assert.equal(state.posts.length, 1);
    const s2 = start({ key, storage });
    assert.equal(await s2.ready(), s1.token);
    assert.equal(s2.bound, true);
    await s2.fetch('/api/a');
    assert.equal(state.posts.length, 1, 'no token request');
    assert.ok(state.api[0]!.verdict?.ok);
    assert.equal(jkt(state.api[0]!.dpop!), jkt(state.posts[0]!.dpop!));
  });
});

describe('challenges and refusals: one retry each, never a loop', () => {
  test('use_dpop_nonce on a fetch (device clock off): one retry carrying the nonce, then it works', async () => {
    const { state, verifier } = boundApi();
    const s = start();
    await s.ready();
    // From now on the server wants its nonce in every proof.
    server.use(
      http.all(`${API}/api/*`, ({ request }) => {
        const dpop = request.headers.get('dpop')!;
        state.api.push({ method: request.method, url: request.url, authorization: null, dpop });
        if (claims(dpop).nonce !== verifier.nonces.current())
          return HttpResponse.json({}, { status: 401, headers: { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': verifier.nonces.current() } });
        return HttpResponse.json({ ok: true });
      }),
    );
    assert.equal((await s.fetch('/api/a')).status, 200);
    assert.equal(state.api.length, 2);
    assert.equal(claims(state.api[1]!.dpop!).nonce, verifier.nonces.current());
    // The nonce is kept: the next request carries it at once.
    assert.equal((await s.fetch('/api/b')).status, 200);
    assert.equal(state.api.length, 3);
  });

  test('a server answering use_dpop_nonce to everything: the fetch sends twice, the token endpoint is asked twice, then it fails', async () => {
    const { state } = boundApi({ nonce: 'always-stale' });
    const s = start();
    await assert.rejects(s.ready(), (e: { code?: string }) => e.code === 'HS_ERR_ENDPOINT');
    assert.equal(state.posts.length, 2, 'one retry with the nonce');
  });

  test('use_dpop_nonce at the token endpoint (clock off): the retry with the nonce binds', async () => {
    const { state } = boundApi({ nonce: true });
    const s = start();
    await s.ready();
    assert.equal(state.posts.length, 2);
    assert.equal(s.bound, true);
    assert.equal((await s.fetch('/api/a')).status, 200, 'later proofs carry the nonce');
    assert.equal(state.api.length, 1);
  });

  test('invalid_dpop_proof on a fetch: one renewal and one retry with the new token; refused again: the 401 is the caller’s', async () => {
    const { state } = boundApi();
    const s = start();
    await s.ready();
    const first = s.token;
    let refusals = 0;
    server.use(
      http.all(`${API}/api/*`, ({ request }) => {
        state.api.push({ method: request.method, url: request.url, authorization: request.headers.get('authorization'), dpop: null });
        refusals++;
        return HttpResponse.json({}, { status: 401, headers: { 'WWW-Authenticate': 'DPoP error="invalid_dpop_proof"' } });
      }),
    );
    assert.equal((await s.fetch('/api/a')).status, 401);
    assert.equal(refusals, 2);
    assert.equal(state.posts.length, 2, 'one renewal');
    assert.notEqual(s.token, first);
  });

  test('the key is gone (IndexedDB cleared) and no cookie can rebind: the token goes, a new session starts, once', async () => {
    const { state } = boundApi();
    const key = uniqueKey();
    const storage = mapStorage();
    const s1 = start({ key, storage });
    await s1.ready();
    idb.remove(key, `${key}.dpop`);
    // A reload: the token (bound) is in storage, the key is not.
    const s2 = start({ key, storage });
    const expired = nextEvent(s2, 'expired');
    await s2.ready();
    assert.equal((await s2.fetch('/api/a')).status, 200);
    await expired;
    // The bound token went out without a proof (refused), the renewal with a proof by a new key (refused: no cookie),
    // then a token request without the token: a new session, bound to the new key.
    assert.deepEqual(
      state.posts.slice(1).map((p) => [p.authorization?.split(' ')[0] ?? null, !!p.dpop]),
      [
        ['DPoP', true],
        [null, true],
      ],
    );
    assert.equal(state.api.length, 2);
    assert.notEqual(jkt(state.posts[2]!.dpop!), jkt(state.posts[0]!.dpop!), 'a new key');
    assert.equal(s2.bound, true);
  });

  test('the key is gone but the cookie names the session: rebound to the new key, same session, no expired', async () => {
    const { state } = boundApi({ rebind: true });
    const key = uniqueKey();
    const storage = mapStorage();
    await start({ key, storage }).ready();
    idb.remove(key, `${key}.dpop`);
    const s2 = start({ key, storage });
    let expired = 0;
    s2.on('expired', () => expired++);
    await s2.ready();
    assert.equal((await s2.fetch('/api/a')).status, 200);
    assert.equal(state.posts.length, 2);
    assert.equal(state.created, 1);
    assert.equal(expired, 0);
  });
});

describe('logout and the unbound cases', () => {
  test('logout: the DELETE carries a proof by the key, then the key is deleted; the next session gets a new key', async () => {
    const { state } = boundApi();
    const key = uniqueKey();
    const s = start({ key });
    await s.ready();
    const token = s.token!;
    await s.logout();
    assert.equal(state.deletes.length, 1);
    assert.equal(state.deletes[0]!.authorization, `DPoP ${token}`);
    assert.ok(state.deletes[0]!.verdict?.ok);
    assert.equal(claims(state.deletes[0]!.dpop!).htm, 'DELETE');
    assert.equal(idb.databases.get(key)?.get(key)?.has(`${key}.dpop`), false, 'the key is deleted');
    await s.ready();
    assert.notEqual(jkt(state.posts.at(-1)!.dpop!), jkt(state.posts[0]!.dpop!));
  });

  test('binding: false: no key, no proof, no event; Bearer everywhere', async () => {
    const { state } = boundApi();
    const key = uniqueKey();
    const s = start({ key, binding: false });
    let events = 0;
    s.on('binding', () => events++);
    await s.ready();
    await s.fetch('/api/a');
    assert.equal(state.posts[0]!.dpop, null);
    assert.equal(state.api[0]!.authorization, `Bearer ${s.token}`);
    assert.equal(s.bound, false);
    assert.equal(idb.databases.has(key), false);
    assert.equal(events, 0);
  });

  test('no IndexedDB: unbound and working, one binding event (error)', async () => {
    idb.uninstall();
    const { state } = boundApi();
    const s = start();
    const change = nextEvent(s, 'binding');
    await s.ready();
    assert.equal((await change).reason, 'error');
    await s.fetch('/api/a');
    await s.renew();
    assert.deepEqual(state.posts.map((p) => p.dpop), [null, null]);
    assert.equal(state.api[0]!.authorization, 'Bearer v1.b1');
  });

  test('no crypto.subtle: unbound and working, one binding event (unsupported) after creation', async () => {
    const desc = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
    try {
      const { state } = boundApi();
      const s = start();
      const change = nextEvent(s, 'binding');
      await s.ready();
      assert.deepEqual(await change, { bound: false, reason: 'unsupported' });
      await s.fetch('/api/a');
      assert.equal(state.posts[0]!.dpop, null);
      assert.equal(state.api[0]!.authorization, `Bearer ${s.token}`);
    } finally {
      Object.defineProperty(globalThis, 'crypto', desc);
    }
  });
});
