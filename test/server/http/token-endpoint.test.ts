import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../src/server/index.ts';
import { ask, connect, cookiePair, countingStore, getToken, startApp } from '../helpers.ts';

describe('POST tokenPath', () => {
  test('200 {token, expiresAt, storage, created} with no-store, and the httpOnly cookie', async () => {
    const app = await startApp();
    try {
      const res = await fetch(app.url + '/session/token', { method: 'POST' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.match(res.headers.get('content-type')!, /^application\/json/);
      const body = (await res.json()) as any;
      assert.deepEqual(Object.keys(body).sort(), ['bound', 'created', 'expiresAt', 'storage', 'token']);
      assert.equal(body.bound, false, 'no proof: not bound');
      assert.equal(body.created, true);
      assert.equal(body.storage, 'indexedDB');
      assert.equal(typeof body.expiresAt, 'number');
      // A session made without any credential is provisional (DESIGN "Provisional sessions"): it and its first token
      // live provisionalMaxAge (15 minutes) until something other than the token endpoint uses it.
      assert.ok(body.expiresAt > Date.now() + 14 * 60 * 1000 && body.expiresAt <= Date.now() + 15 * 60 * 1000, 'provisionalMaxAge: 15 minutes by default');
      // Used once, it lives maxAge; its token is not near expiry (DESIGN: less than half of *its own* lifetime left),
      // so the first use rotates nothing, and the next renewal issues a tokenMaxAge (1 hour by default) token.
      const used = await fetch(app.url + '/', { headers: { authorization: `Bearer ${body.token}` } });
      assert.equal(used.headers.get('session-token'), null, 'the first use does not rotate a fresh token');
      const again = (await (await fetch(app.url + '/session/token', { method: 'POST', headers: { authorization: `Bearer ${body.token}` } })).json()) as any;
      assert.ok(again.expiresAt > Date.now() + 59 * 60 * 1000 && again.expiresAt <= Date.now() + 3600 * 1000, 'tokenMaxAge: 1 hour by default');
      const [cookie] = res.headers.getSetCookie();
      assert.match(cookie!, /^connect\.sid=s%3A.+; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/);
      assert.doesNotMatch(cookie!, /Secure/, 'secure: auto over plain http');
    } finally {
      await app.stop();
    }
  });

  test('Secure cookie when the request came over HTTPS behind a trusted proxy (secure: auto, proxy: true)', async () => {
    const app = await startApp({ proxy: true });
    try {
      const res = await fetch(app.url + '/session/token', { method: 'POST', headers: { 'x-forwarded-proto': 'https' } });
      assert.match(res.headers.getSetCookie()[0]!, /; Secure/);
    } finally {
      await app.stop();
    }
  });

  test('resolves a valid bearer first, else the cookie, else creates (an invalid bearer is ignored here)', async () => {
    const app = await startApp();
    try {
      const a = await getToken(app.url);
      const b = await getToken(app.url);
      const sidOf = async (token: string) => (await app.hs.authenticate({ headers: { authorization: `Bearer ${token}` } } as never)).sessionID;
      const [sa, sb] = [await sidOf(a.token), await sidOf(b.token)];
      // the client's own bearer wins over a (possibly planted) cookie
      const byBoth = await getToken(app.url, { headers: { cookie: a.cookie!, authorization: `Bearer ${b.token}` } });
      assert.deepEqual([byBoth.created, await sidOf(byBoth.token)], [false, sb]);
      // cookie alone
      const byCookie = await getToken(app.url, { headers: { cookie: a.cookie! } });
      assert.deepEqual([byCookie.created, await sidOf(byCookie.token)], [false, sa]);
      // bearer alone
      const byBearer = await getToken(app.url, { headers: { authorization: `Bearer ${b.token}` } });
      assert.deepEqual([byBearer.created, await sidOf(byBearer.token)], [false, sb]);
      assert.ok(byBearer.cookie, 'the bearer client gets the cookie too');
      // an invalid bearer: falls back to the cookie…
      const fallback = await getToken(app.url, { headers: { cookie: a.cookie!, authorization: 'Bearer nonsense' } });
      assert.deepEqual([fallback.created, await sidOf(fallback.token)], [false, sa]);
      // …or makes a new session
      const fresh = await getToken(app.url, { headers: { authorization: `Bearer ${b.token.slice(0, -2)}AA` } });
      assert.equal(fresh.created, true);
      assert.notEqual(await sidOf(fresh.token), sb);
    } finally {
      await app.stop();
    }
  });

  test('storage hint follows ws.client', async () => {
    for (const [ws, hint] of [[{ client: { localStorage: true } }, 'localStorage'], [{ client: { localStorage: false } }, 'memory']] as const) {
      const app = await startApp({ ws });
      try {
        assert.equal((await getToken(app.url)).storage, hint);
      } finally {
        await app.stop();
      }
    }
  });

  test('renewing touches the session: the new token is capped by the extended expiry', async () => {
    const app = await startApp({ maxAge: 2_000 });
    try {
      const a = await getToken(app.url);
      await new Promise((r) => setTimeout(r, 300));
      const b = await getToken(app.url, { headers: { authorization: `Bearer ${a.token}` } });
      assert.equal(b.created, false);
      assert.ok(b.expiresAt >= a.expiresAt + 250);
    } finally {
      await app.stop();
    }
  });

  test('other methods: 405 with Allow', async () => {
    const app = await startApp();
    try {
      const res = await fetch(app.url + '/session/token');
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'POST, DELETE, OPTIONS');
    } finally {
      await app.stop();
    }
  });
});

describe('DELETE tokenPath', () => {
  test('destroys the session, clears the cookie, closes its websockets with 4401, answers 204', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      const byToken = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      const byCookie = connect(app.wsUrl, ['hybrid-session'], { headers: { cookie: t.cookie! } });
      await byToken.opened;
      await byCookie.opened;
      assert.ok((await ask(byCookie.ws, { op: 'sid' })).sid);
      const res = await fetch(app.url + '/session/token', { method: 'DELETE', headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(res.status, 204);
      assert.match(res.headers.getSetCookie()[0]!, /^connect\.sid=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
      assert.equal((await byToken.closed).code, 4401);
      assert.equal((await byCookie.closed).code, 4401);
      assert.equal(store.calls.destroy, 1);
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
      const fresh = await getToken(app.url, { headers: { cookie: t.cookie! } });
      assert.equal(fresh.created, true, 'the cookie names nothing any more');
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('ends the cookie\'s session when the bearer is invalid; 204 with no session at all', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const res = await fetch(app.url + '/session/token', { method: 'DELETE', headers: { cookie: t.cookie!, authorization: 'Bearer junk' } });
      assert.equal(res.status, 204);
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
      assert.equal((await fetch(app.url + '/session/token', { method: 'DELETE' })).status, 204);
    } finally {
      await app.stop();
    }
  });

  test('a custom tokenPath and cookie name', async () => {
    const app = await startApp({ tokenPath: '/auth/t', cookie: { name: 'sid' } });
    try {
      const res = await fetch(app.url + '/auth/t', { method: 'POST' });
      assert.equal(res.status, 200);
      assert.ok(cookiePair(res, 'sid'));
      assert.equal((await fetch(app.url + '/session/token', { method: 'POST' })).status, 200, 'the old path is the app\'s');
      assert.equal((await fetch(app.url + '/auth/t', { method: 'DELETE' })).status, 204);
    } finally {
      await app.stop();
    }
  });
});
