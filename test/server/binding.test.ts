/**
 * Device binding through the real server (DESIGN "Device binding"): proofs made with node:crypto against
 * hs.middleware, the token endpoint and websocket upgrades. Binding at the first token request with a proof; a bound
 * session's token refused as Bearer, without a proof, with any field of its proof wrong, or by another key; the nonce
 * challenge; 'off', 'optional', 'required'; cookie-only requests; the lost key's rebinding by cookie; DELETE with a
 * copied token; the htu as the server saw it (mount path, proxy).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import express from 'express';
import { WebSocket } from 'ws';
import { makeHmacProof, makeProof, newProofKey, type ProofKey } from '../helpers/dpop.ts';
import { close, listen } from '../helpers/net.ts';
import { hybridSession } from '../../src/server/index.ts';
import { SECRET, startApp, type TestApp } from './helpers.ts';

interface Issued {
  status: number;
  token: string;
  bound: boolean;
  created: boolean;
  cookie: string;
  headers: Headers;
  body: any;
}

async function tokenRequest(app: TestApp, opts: { key?: ProofKey; token?: string; scheme?: string; cookie?: string; nonce?: string; proof?: string } = {}): Promise<Issued> {
  const htu = `${app.url}/session/token`;
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `${opts.scheme ?? 'DPoP'} ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  const proof = opts.proof ?? (opts.key ? makeProof(opts.key, { htm: 'POST', htu, token: opts.token, nonce: opts.nonce }) : undefined);
  if (proof) headers.dpop = proof;
  const res = await fetch(htu, { method: 'POST', headers });
  const body = (await res.json()) as any;
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { status: res.status, token: body.token, bound: body.bound, created: body.created, cookie, headers: res.headers, body };
}

/** GET /me with the token as `scheme` and, when `key` is given, a proof for it. */
function use(app: TestApp, token: string, key?: ProofKey, fields: Partial<Parameters<typeof makeProof>[1]> = {}, scheme = 'DPoP') {
  const htu = `${app.url}/me`;
  const headers: Record<string, string> = { authorization: `${scheme} ${token}` };
  if (key) headers.dpop = makeProof(key, { htm: 'GET', htu, token, ...fields });
  return fetch(htu, { headers });
}

function assertProofRefused(res: Response, error = 'invalid_dpop_proof') {
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), `DPoP algs="ES256", error="${error}"`);
  assert.match(res.headers.get('dpop-nonce') ?? '', /^[A-Za-z0-9_-]{22}$/);
}

function handshake(app: TestApp, protocols: string[], headers: Record<string, string> = {}): Promise<{ open: boolean; code?: number; reason?: string; protocol?: string; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${app.wsUrl}/ws`, protocols, { headers });
    let opened = false;
    ws.on('open', () => {
      opened = true;
      // A socket the server keeps stays open; one it refuses is closed at once (4401).
      ws.send(JSON.stringify({ op: 'get' }));
    });
    ws.on('message', () => resolve({ open: true, protocol: ws.protocol, ws }));
    ws.on('close', (code, reason) => resolve({ open: false, code, reason: String(reason), ws }));
    ws.on('error', () => !opened && resolve({ open: false, ws }));
  });
}

const wsProof = (app: TestApp, key: ProofKey, token: string, fields: Partial<Parameters<typeof makeProof>[1]> = {}) =>
  `hybrid-session.dpop.${makeProof(key, { htm: 'GET', htu: `${app.wsUrl}/ws`, token, ...fields })}`;

describe("binding: 'optional' (default)", () => {
  let app: TestApp;
  const key = newProofKey();
  const other = newProofKey();
  before(async () => {
    app = await startApp();
  });
  after(() => app.stop());

  test('the first token request with a valid proof binds the session ("bound": true), with the thumbprint under __hs', async () => {
    const issued = await tokenRequest(app, { key });
    assert.equal(issued.status, 200);
    assert.equal(issued.bound, true);
    assert.equal(issued.created, true);
    const sid = JSON.parse(await (await use(app, issued.token, key)).text()).sid;
    const stored = await new Promise<any>((r) => app.hs.store.get(sid, (_e: unknown, s: unknown) => r(s)));
    assert.match(stored.__hs.jkt, /^[A-Za-z0-9_-]{43}$/);
  });

  test('a bound token with a valid proof works, many times (a new jti each)', async () => {
    const { token } = await tokenRequest(app, { key });
    for (let i = 0; i < 3; i++) assert.equal((await use(app, token, key)).status, 200);
  });

  test('a bound token as plain Bearer is refused, even with a valid proof beside it', async () => {
    const { token } = await tokenRequest(app, { key });
    assertProofRefused(await use(app, token, undefined, {}, 'Bearer'));
    assertProofRefused(await use(app, token, key, {}, 'Bearer'));
    assertProofRefused(await use(app, token)); // DPoP scheme, no proof
  });

  test('every field of the proof wrong, one at a time → 401 invalid_dpop_proof (or use_dpop_nonce for time)', async () => {
    const { token } = await tokenRequest(app, { key });
    const now = Math.floor(Date.now() / 1000);
    const htu = `${app.url}/me`;
    const cases: [string, () => string, string?][] = [
      ['signature', () => makeProof(key, { htm: 'GET', htu, token, signWith: other.privateKey })],
      ['typ', () => makeProof(key, { htm: 'GET', htu, token, header: { typ: 'JWT' } })],
      ['alg none', () => makeProof(key, { htm: 'GET', htu, token, header: { alg: 'none' } }).replace(/\.[^.]*$/, '.')],
      ['alg HS256', () => makeHmacProof(key, { htm: 'GET', htu, token }, (i) => createHmac('sha256', key.publicJwk.x).update(i).digest())],
      ['htm', () => makeProof(key, { htm: 'POST', htu, token })],
      ['htu', () => makeProof(key, { htm: 'GET', htu: `${app.url}/other`, token })],
      ['iat old', () => makeProof(key, { htm: 'GET', htu, token, iat: now - 3600 }), 'use_dpop_nonce'],
      ['iat future', () => makeProof(key, { htm: 'GET', htu, token, iat: now + 3600 }), 'use_dpop_nonce'],
      ['ath', () => makeProof(key, { htm: 'GET', htu, token: `${token}x` })],
      ['another key', () => makeProof(other, { htm: 'GET', htu, token })],
    ];
    for (const [name, make, error] of cases) {
      const res = await fetch(htu, { headers: { authorization: `DPoP ${token}`, dpop: make() } });
      assert.equal(res.status, 401, name);
      assertProofRefused(res, error);
    }
    // Replayed jti: the same proof twice.
    const proof = makeProof(key, { htm: 'GET', htu, token });
    assert.equal((await fetch(htu, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status, 200);
    assertProofRefused(await fetch(htu, { headers: { authorization: `DPoP ${token}`, dpop: proof } }));
  });

  test('the DPoP-Nonce challenge: a device clock an hour off gets use_dpop_nonce, then succeeds with the nonce', async () => {
    const { token } = await tokenRequest(app, { key });
    const skewed = Math.floor(Date.now() / 1000) - 3600;
    const first = await use(app, token, key, { iat: skewed });
    assertProofRefused(first, 'use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce')!;
    assert.equal((await use(app, token, key, { iat: skewed, nonce })).status, 200);
    // The token endpoint too.
    const refused = await tokenRequest(app, { proof: makeProof(key, { htm: 'POST', htu: `${app.url}/session/token`, iat: skewed }) });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'use_dpop_nonce');
  });

  test('an unbound client (no proof) still works with Bearer', async () => {
    const issued = await tokenRequest(app);
    assert.equal(issued.bound, false);
    assert.equal((await use(app, issued.token, undefined, {}, 'Bearer')).status, 200);
  });

  test('cookie-only ordinary requests of a bound session need no proof; its token requests do', async () => {
    const issued = await tokenRequest(app, { key });
    const me = await fetch(`${app.url}/me`, { headers: { cookie: issued.cookie } });
    assert.equal(me.status, 200);
    const byCookie = await tokenRequest(app, { cookie: issued.cookie });
    assert.equal(byCookie.status, 401);
    assert.equal(byCookie.body.error, 'invalid_dpop_proof');
    const byBearer = await tokenRequest(app, { token: issued.token, scheme: 'Bearer' });
    assert.equal(byBearer.status, 401);
    const renewed = await tokenRequest(app, { key, token: issued.token });
    assert.equal(renewed.status, 200);
    assert.equal(renewed.bound, true);
    assert.equal(renewed.created, false);
  });

  test('a lost key: a valid cookie + a proof by a NEW key rebinds; the old key stops working; a token alone cannot', async () => {
    const lost = newProofKey();
    const issued = await tokenRequest(app, { key: lost });
    const fresh = newProofKey();
    // The token alone with another key's proof: refused (it is what a thief with the token would try).
    const thief = await tokenRequest(app, { key: fresh, token: issued.token });
    assert.equal(thief.status, 401);
    const rebound = await tokenRequest(app, { key: fresh, token: issued.token, cookie: issued.cookie });
    assert.equal(rebound.status, 200);
    assert.equal(rebound.bound, true);
    assert.equal(rebound.created, false);
    assert.equal((await use(app, rebound.token, fresh)).status, 200);
    assertProofRefused(await use(app, rebound.token, lost));
    assertProofRefused(await use(app, issued.token, lost));
  });

  test('DELETE with a copied bound token (no proof) ends nothing; with the proof it ends the session', async () => {
    const issued = await tokenRequest(app, { key });
    const htu = `${app.url}/session/token`;
    const del = await fetch(htu, { method: 'DELETE', headers: { authorization: `DPoP ${issued.token}` } });
    assert.equal(del.status, 204);
    assert.equal((await use(app, issued.token, key)).status, 200, 'still alive');
    const proof = makeProof(key, { htm: 'DELETE', htu, token: issued.token });
    assert.equal((await fetch(htu, { method: 'DELETE', headers: { authorization: `DPoP ${issued.token}`, dpop: proof } })).status, 204);
    assert.equal((await use(app, issued.token, key)).status, 401);
  });

  test('websocket: hybrid-session.dpop.<proof> (htm GET, htu the ws URL) opens; without it, or wrong, 4401; never echoed', async () => {
    const { token } = await tokenRequest(app, { key });
    const ok = await handshake(app, ['hybrid-session', `hybrid-session.bearer.${token}`, wsProof(app, key, token)]);
    assert.equal(ok.open, true);
    assert.equal(ok.protocol, 'hybrid-session');
    ok.ws.close();
    const refusedCases: [string, string[]][] = [
      ['no proof', ['hybrid-session', `hybrid-session.bearer.${token}`]],
      ['htu http', ['hybrid-session', `hybrid-session.bearer.${token}`, wsProof(app, key, token, { htu: `${app.url}/ws` })]],
      ['htm POST', ['hybrid-session', `hybrid-session.bearer.${token}`, wsProof(app, key, token, { htm: 'POST' })]],
      ['another key', ['hybrid-session', `hybrid-session.bearer.${token}`, wsProof(app, other, token)]],
      ['two proofs', ['hybrid-session', `hybrid-session.bearer.${token}`, wsProof(app, key, token), wsProof(app, key, token)]],
    ];
    for (const [name, protocols] of refusedCases) {
      const r = await handshake(app, protocols);
      assert.equal(r.open, false, name);
      assert.equal(r.code, 4401, name);
      assert.equal(r.reason, 'invalid_dpop_proof', name);
    }
    // A replayed handshake proof.
    const proof = wsProof(app, key, token);
    const first = await handshake(app, ['hybrid-session', `hybrid-session.bearer.${token}`, proof]);
    assert.equal(first.open, true);
    first.ws.close();
    const again = await handshake(app, ['hybrid-session', `hybrid-session.bearer.${token}`, proof]);
    assert.equal(again.code, 4401);
    // Stale iat: 4401 use_dpop_nonce.
    const stale = await handshake(app, ['hybrid-session', `hybrid-session.bearer.${token}`, wsProof(app, key, token, { iat: 1 })]);
    assert.equal(stale.reason, 'use_dpop_nonce');
  });

  // A login regenerates the session: the new session's token, handed out in Session-Token, must be bound as the one
  // it replaces, or a copy of it taken right after the login would work as a plain Bearer until the next renewal.
  test('regenerate() (login) over HTTP keeps the binding: the new token as Bearer is refused, with the proof it works', async () => {
    const { token } = await tokenRequest(app, { key });
    const htu = `${app.url}/regenerate`;
    const res = await fetch(htu, { headers: { authorization: `DPoP ${token}`, dpop: makeProof(key, { htm: 'GET', htu, token }) } });
    assert.equal(res.status, 200);
    const next = res.headers.get('session-token')!;
    assert.ok(next && next !== token);
    assertProofRefused(await use(app, next, undefined, {}, 'Bearer'));
    assertProofRefused(await use(app, next, other));
    assert.equal((await use(app, next, key)).status, 200);
  });

  test('regenerate() over a websocket (setUserId) keeps the binding too', async () => {
    const { token } = await tokenRequest(app, { key });
    const r = await handshake(app, ['hybrid-session', `hybrid-session.bearer.${token}`, wsProof(app, key, token)]);
    assert.equal(r.open, true);
    const answer = new Promise<any>((resolve) => r.ws.once('message', (m) => resolve(JSON.parse(String(m)))));
    r.ws.send(JSON.stringify({ op: 'regenerate' }));
    const { token: next } = await answer;
    r.ws.close();
    assert.ok(next && next !== token);
    assertProofRefused(await use(app, next, undefined, {}, 'Bearer'));
    assert.equal((await use(app, next, key)).status, 200);
  });

  test('websocket of a native client: Authorization: DPoP + DPoP header', async () => {
    const { token } = await tokenRequest(app, { key });
    const proof = makeProof(key, { htm: 'GET', htu: `${app.wsUrl}/ws`, token });
    const r = await handshake(app, ['hybrid-session'], { authorization: `DPoP ${token}`, dpop: proof });
    assert.equal(r.open, true);
    r.ws.close();
  });
});

describe("binding: 'required'", () => {
  let app: TestApp;
  const key = newProofKey();
  before(async () => {
    app = await startApp({ binding: 'required' });
  });
  after(() => app.stop());

  test('a token request without a proof is refused (and makes no session); with one it binds', async () => {
    const refused = await tokenRequest(app);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'invalid_dpop_proof');
    assert.equal(refused.cookie, '', 'no session, no cookie');
    const issued = await tokenRequest(app, { key });
    assert.equal(issued.bound, true);
    assert.equal((await use(app, issued.token, key)).status, 200);
  });
});

describe("binding: 'off'", () => {
  let app: TestApp;
  const key = newProofKey();
  before(async () => {
    app = await startApp({ binding: 'off' });
  });
  after(() => app.stop());

  test('proofs are ignored: never bound, Bearer works, a broken proof changes nothing', async () => {
    const issued = await tokenRequest(app, { key });
    assert.equal(issued.status, 200);
    assert.equal(issued.bound, false);
    assert.equal((await use(app, issued.token, undefined, {}, 'Bearer')).status, 200);
    const broken = await tokenRequest(app, { proof: 'not.a.proof' });
    assert.equal(broken.status, 200);
  });
});

describe('htu as the server saw it: mount path and proxy', () => {
  test('express mount path is part of htu; with proxy: true, X-Forwarded-Proto https makes it https', async () => {
    // tokenPath is matched against the full path, mount point included.
    const hs = hybridSession({ secret: SECRET, proxy: true, tokenPath: '/api/session/token' });
    const app = express();
    const api = express.Router();
    api.use(hs.middleware);
    api.get('/me', (req: any, res) => res.json({ sid: req.sessionID }));
    app.use('/api', api);
    const server = createServer(app);
    const url = await listen(server);
    const key = newProofKey();
    try {
      const host = new URL(url).host;
      const base = `https://${host}`;
      const headers = { 'x-forwarded-proto': 'https' };
      const tokenRes = await fetch(`${url}/api/session/token`, { method: 'POST', headers: { ...headers, dpop: makeProof(key, { htm: 'POST', htu: `${base}/api/session/token` }) } });
      assert.equal(tokenRes.status, 200, await tokenRes.clone().text());
      const { token, bound } = (await tokenRes.json()) as any;
      assert.equal(bound, true);
      const ok = await fetch(`${url}/api/me`, { headers: { ...headers, authorization: `DPoP ${token}`, dpop: makeProof(key, { htm: 'GET', htu: `${base}/api/me`, token }) } });
      assert.equal(ok.status, 200);
      for (const htu of [`${base}/me`, `${url}/api/me`]) {
        const res = await fetch(`${url}/api/me`, { headers: { ...headers, authorization: `DPoP ${token}`, dpop: makeProof(key, { htm: 'GET', htu, token }) } });
        assert.equal(res.status, 401, htu);
      }
    } finally {
      hs.close();
      await close(server);
    }
  });
});
