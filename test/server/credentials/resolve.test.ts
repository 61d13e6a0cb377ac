/**
 * The credential resolver (src/server/credentials/resolve.ts): one reader of cookie, bearer, subprotocols and query
 * token, with one policy per caller (DESIGN "Which credential wins", "Origins", "Foreign bearer tokens"). Unit tests
 * of each policy over fake requests, then the one rule the three old readers applied in different orders: the MAC
 * decides before the store's readiness is looked at, over HTTP as on an upgrade.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveCredentials, type CredentialPolicy } from '../../../src/server/credentials/resolve.ts';
import { signToken } from '../../../src/server/credentials/token.ts';
import { signCookieValue } from '../../../src/server/credentials/cookie.ts';
import { normalizeServerOptions } from '../../../src/server/options.ts';
import { MemoryStore } from '../../../src/server/index.ts';
import { SECRET, connect, countingStore, getToken, startApp } from '../helpers.ts';

const options = normalizeServerOptions({ secret: SECRET, allowedOrigins: ['https://app.example'] });
const queryOptions = normalizeServerOptions({ secret: SECRET, allowQueryToken: true });
const NOW = 1_800_000_000_000;
const tokenOf = (sid: string, exp = NOW + 60_000, gen = 0) => signToken(sid, exp, options.tokenKeys, gen);
const cookieOf = (sid: string) => `connect.sid=${encodeURIComponent(signCookieValue(sid, SECRET))}`;
const FORGED = tokenOf('victim').slice(0, -2) + (tokenOf('victim').endsWith('AA') ? 'BA' : 'AA');

function req(headers: Record<string, string>, url = '/'): IncomingMessage {
  return { headers: { host: 'api.example', ...headers }, url, socket: { encrypted: false } } as unknown as IncomingMessage;
}
const resolve = (policy: CredentialPolicy, headers: Record<string, string>, protocols: string[] | null = [], url = '/', opts = options) =>
  resolveCredentials(req(headers, url), policy, opts, protocols, NOW);

describe('request policy (ordinary HTTP requests)', () => {
  test('a valid bearer names its session; the cookie is still read (a login moves both)', () => {
    const c = resolve('request', { authorization: `Bearer ${tokenOf('a')}`, cookie: cookieOf('b') });
    assert.equal(c.refused, undefined);
    assert.deepEqual(c.candidates, ['a'], 'the bearer wins and the cookie is no fallback');
    assert.equal(c.via, 'bearer');
    assert.equal(c.cookieId, 'b');
  });

  test('an invalid bearer (forged, expired, malformed after the prefix) is refused even beside a valid cookie', () => {
    for (const bad of [FORGED, tokenOf('a', NOW - 1), 'v1.', 'v1.!!!']) {
      const c = resolve('request', { authorization: `Bearer ${bad}`, cookie: cookieOf('b') });
      assert.equal(c.refused?.code, 'HS_ERR_INVALID_TOKEN', bad);
      assert.equal(c.refused?.status, 401);
      assert.deepEqual(c.candidates, []);
    }
  });

  test('a foreign Authorization value is not ours: the cookie, as if there were no bearer', () => {
    for (const value of ['Bearer sk_live_123', 'Basic dXNlcjpwYXNz', 'Bearer eyJhbGciOi.eyJzdWIi.sig']) {
      const c = resolve('request', { authorization: value, cookie: cookieOf('b') });
      assert.equal(c.refused, undefined, value);
      assert.equal(c.token, undefined);
      assert.deepEqual(c.candidates, ['b']);
      assert.equal(c.via, 'cookie');
    }
  });

  test('no credentials: no candidates, no refusal (the app gets a new session)', () => {
    const c = resolve('request', {});
    assert.deepEqual([c.refused, c.candidates, c.via], [undefined, [], undefined]);
  });

  test('a foreign origin is not refused here (CORS just leaves it out), and subprotocols and ?session_token= are not read', () => {
    const c = resolve('request', { origin: 'https://evil.example', cookie: cookieOf('b') }, [`hybrid-session.bearer.${tokenOf('a')}`], `/?session_token=${tokenOf('a')}`, queryOptions);
    assert.equal(c.origin.kind, 'foreign');
    assert.deepEqual([c.refused, c.candidates], [undefined, ['b']]);
  });

  test('the DPoP scheme is recorded, case-insensitively', () => {
    assert.equal(resolve('request', { authorization: `dpop ${tokenOf('a')}` }).token?.dpop, true);
    assert.equal(resolve('request', { authorization: `BEARER ${tokenOf('a')}` }).token?.dpop, false);
  });
});

describe('endpoint policy (POST / DELETE tokenPath)', () => {
  test("the client's own token comes before a cookie (a planted cookie cannot move it), the cookie second", () => {
    const c = resolve('endpoint', { authorization: `Bearer ${tokenOf('mine')}`, cookie: cookieOf('planted') });
    assert.deepEqual(c.candidates, ['mine', 'planted']);
    assert.equal(c.via, 'bearer');
  });

  test('an expired but authentic token still counts (the current generation renews after its expiry)', () => {
    const c = resolve('endpoint', { authorization: `Bearer ${tokenOf('mine', NOW - 1)}` });
    assert.deepEqual(c.candidates, ['mine']);
    assert.equal(c.token?.expired, true);
  });

  test('a forged bearer is ignored, never refused: the cookie, else nothing (a new session)', () => {
    const c = resolve('endpoint', { authorization: `Bearer ${FORGED}`, cookie: cookieOf('b') });
    assert.equal(c.refused, undefined);
    assert.deepEqual(c.candidates, ['b']);
    assert.equal(c.via, 'cookie');
    assert.equal(c.token?.verified, null, 'kept as presented: a DPoP proof is judged against it');
    assert.deepEqual(resolve('endpoint', { authorization: `Bearer ${FORGED}` }).candidates, []);
  });

  test('token and cookie naming the same session: one candidate', () => {
    assert.deepEqual(resolve('endpoint', { authorization: `Bearer ${tokenOf('a')}`, cookie: cookieOf('a') }).candidates, ['a']);
  });

  test('a foreign origin is refused (403); same-origin counts the scheme; a listed one and none pass', () => {
    const foreign = resolve('endpoint', { origin: 'https://evil.example', cookie: cookieOf('b') });
    assert.equal(foreign.refused?.code, 'HS_ERR_FORBIDDEN_ORIGIN');
    assert.equal(foreign.refused?.status, 403);
    assert.deepEqual(foreign.candidates, []);
    assert.equal(resolve('endpoint', { origin: 'https://api.example' }).refused?.code, 'HS_ERR_FORBIDDEN_ORIGIN', 'https page, http request');
    assert.equal(resolve('endpoint', { origin: 'http://api.example' }).refused, undefined);
    assert.equal(resolve('endpoint', { origin: 'https://app.example' }).refused, undefined);
    assert.equal(resolve('endpoint', {}).refused, undefined);
  });
});

describe('upgrade policy (websocket handshakes)', () => {
  test('the bearer subprotocol names the session; the cookie is not read beside it', () => {
    const c = resolve('upgrade', { cookie: cookieOf('b') }, ['hybrid-session', `hybrid-session.bearer.${tokenOf('a')}`]);
    assert.deepEqual([c.refused, c.candidates, c.via, c.cookieId], [undefined, ['a'], 'bearer', undefined]);
  });

  test('Authorization (native clients) counts; the same token offered twice counts once; two different ones are refused', () => {
    assert.deepEqual(resolve('upgrade', { authorization: `Bearer ${tokenOf('a')}` }).candidates, ['a']);
    assert.deepEqual(resolve('upgrade', { authorization: `Bearer ${tokenOf('a')}` }, [`hybrid-session.bearer.${tokenOf('a')}`]).candidates, ['a']);
    const two = resolve('upgrade', {}, [`hybrid-session.bearer.${tokenOf('a')}`, `hybrid-session.bearer.${tokenOf('b')}`]);
    assert.equal(two.refused?.code, 'HS_ERR_INVALID_TOKEN');
    assert.equal(two.refused?.closeCode, 4401);
  });

  test('an invalid bearer is 4401 even beside a valid cookie', () => {
    for (const bad of [FORGED, tokenOf('a', NOW - 1)]) {
      const c = resolve('upgrade', { cookie: cookieOf('b') }, [`hybrid-session.bearer.${bad}`]);
      assert.equal(c.refused?.closeCode, 4401);
      assert.deepEqual(c.candidates, []);
    }
  });

  test('?session_token= only with allowQueryToken', () => {
    const url = `/ws?session_token=${tokenOf('a')}`;
    assert.equal(resolve('upgrade', {}, [], url).refused?.code, 'HS_ERR_NO_CREDENTIALS', 'not read by default');
    assert.deepEqual(resolve('upgrade', {}, [], url, queryOptions).candidates, ['a']);
  });

  test('the cookie when no bearer; nothing at all is refused (never a new session over a websocket)', () => {
    assert.deepEqual(resolve('upgrade', { cookie: cookieOf('b') }).candidates, ['b']);
    const none = resolve('upgrade', {});
    assert.equal(none.refused?.code, 'HS_ERR_NO_CREDENTIALS');
    assert.equal(none.refused?.closeCode, 4401);
  });

  test('a malformed subprotocol header and a foreign origin are refused before any token is read', () => {
    assert.equal(resolve('upgrade', { cookie: cookieOf('b') }, null).refused?.code, 'HS_ERR_INVALID_TOKEN');
    const foreign = resolve('upgrade', { origin: 'http://evil.example' }, [`hybrid-session.bearer.${tokenOf('a')}`]);
    assert.equal(foreign.refused?.code, 'HS_ERR_FORBIDDEN_ORIGIN');
    assert.equal(foreign.token, undefined);
  });
});

describe('folder rule', () => {
  test('nothing under src/server/credentials imports the store layer (MAC before any store lookup, visible in the tree)', () => {
    const dir = new URL('../../../src/server/credentials/', import.meta.url).pathname;
    for (const name of readdirSync(dir)) {
      const text = readFileSync(join(dir, name), 'utf8');
      assert.doesNotMatch(text, /from\s+['"][^'"]*\/store\//, name);
      assert.doesNotMatch(text, /import\(\s*['"][^'"]*\/store\//, name);
    }
  });
});

describe('one order through real servers: the MAC before the store', () => {
  test('with the store down, a forged bearer is 401 over HTTP and 4401 on an upgrade, not 503 / 1011', { timeout: 60_000 }, async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const { token } = await getToken(app.url);
      const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BA' : 'AA');
      // Down as a network store is: its calls fail too (else the store probe would find it answering).
      store.failGet = Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:6379'), { code: 'ECONNREFUSED' });
      store.emit('disconnect');
      const http = await fetch(app.url + '/', { headers: { authorization: `Bearer ${forged}` } });
      assert.equal(http.status, 401, 'a forged token is refused by its MAC whatever the store is doing');
      assert.match(http.headers.get('www-authenticate') ?? '', /invalid_token/);
      const ws = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${forged}`]);
      assert.equal((await ws.closed).code, 4401);
      // The store really is down for a valid credential: this is what the forged one would otherwise have met.
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${token}` } })).status, 503);
    } finally {
      await app.stop();
      store.close();
    }
  });
});
