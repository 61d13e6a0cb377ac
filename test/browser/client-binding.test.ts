/**
 * Device binding (DESIGN "Device binding", RFC 9449 DPoP) in each real engine against the real shim: the page's
 * key is made in its secure context, kept in IndexedDB non-extractable, and every use of the token carries a proof
 * by it (fetch, websocket, renewal). What a script could copy out of the page — the token, even a proof it saw go
 * out (captured here by a hooked fetch, and from the handshake as the server received it) — is refused when replayed
 * from Node. Two tabs share one key; no crypto.subtle leaves the session unbound and working; a key deleted from
 * IndexedDB ends in a new session (no cookie here) or a rebinding (same origin, cookie), with a counted number of
 * token requests, never a loop.
 *
 * Origins: pages on http://127.0.0.1:<A>, the API on http://localhost:<B> (another site: no cookie crosses), both
 * potentially trustworthy origins, so secure contexts in all three engines (asserted, not assumed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { Engine as Browser, Tab as Page } from '../helpers/engines/index.ts';
import { DPOP_PREFIX, BEARER_PREFIX, SUBPROTOCOL } from '../../src/shared/protocol.ts';
import { jwkThumbprint } from '../../src/server/credentials/proof.ts';
import { describeEngines, inFreshContext, useBrowserSuite, type Api, type Pages } from '../helpers/browser.ts';

interface Captured {
  url: string;
  method: string;
  authorization: string | null;
  dpop: string | null;
}

declare global {
  var captured: Captured[];
}

/** Init script: every fetch the page makes is recorded with the headers it carries (what a page script can see). */
function hookFetch(): void {
  const real = window.fetch;
  window.captured = [];
  window.fetch = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
    const r = new Request(input, init);
    window.captured.push({ url: r.url, method: r.method, authorization: r.headers.get('authorization'), dpop: r.headers.get('dpop') });
    return real.call(this, input, init);
  } as typeof fetch;
}

const header = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString());
const claims = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString());
const thumbprintOf = (jws: string) => jwkThumbprint(header(jws).jwk);

/** In the page: the stored key pair, how it behaves (extractable? exportKey?), read from IndexedDB as any script could. */
const inspectKey = (page: Page, url: string) =>
  page.evaluate(async (url) => {
    const name = `hybrid-session:${new URL(url).origin}`;
    const pair = await new Promise<CryptoKeyPair | undefined>((resolve, reject) => {
      const open = indexedDB.open(name);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction(name, 'readonly').objectStore(name).get(`${name}.dpop`);
        get.onsuccess = () => resolve(get.result);
        get.onerror = () => reject(get.error);
      };
    });
    if (!pair) return null;
    const exported = await crypto.subtle.exportKey('jwk', pair.privateKey).then(
      () => 'exported',
      (e: Error) => e.name,
    );
    return {
      extractable: pair.privateKey.extractable,
      algorithm: (pair.privateKey.algorithm as EcKeyAlgorithm).namedCurve,
      usages: pair.privateKey.usages,
      exported,
    };
  }, url);

/** In the page: delete the key from IndexedDB, as clearing site data or eviction would (the token stays). */
const deleteKey = (page: Page, url: string) =>
  page.evaluate(async (url) => {
    const name = `hybrid-session:${new URL(url).origin}`;
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(name);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction(name, 'readwrite');
        tx.objectStore(name).delete(`${name}.dpop`);
        tx.oncomplete = () => {
          open.result.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error);
      };
    });
  }, url);

/** A websocket from Node with these subprotocols: its close code, or 'open' when the server kept it. */
function nodeHandshake(api: Api, protocols: string[]): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${api.url.replace('http', 'ws')}/ws`, protocols);
    ws.on('open', () => ws.send('ping'));
    ws.on('message', () => {
      resolve('open');
      ws.close();
    });
    ws.on('close', (code) => resolve(code));
    ws.on('error', () => {});
  });
}

describeEngines('device binding', {}, (engineName) => {
  let browser: Browser;
  let api: Api;
  let pages: Pages;

  useBrowserSuite(engineName, { api: {} }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api } = suite.apis);
  });

  const storedJkt = (sid: string) =>
    new Promise<string | undefined>((resolve) => api.hs.store.get(sid, (_e: unknown, s: any) => resolve(s?.__hs?.jkt)));

  /**
   * The opening most tests share: in a fresh context (`init` before any page script; by default the fetch hook), a
   * page on `pagesUrl` whose session on the API (window.session) is started and ready; `fn` gets the page and the
   * token `ready()` gave.
   */
  const readyPage = (pagesUrl: string, fn: (page: Page, token: string | null) => Promise<void>, init: () => void = hookFetch) =>
    inFreshContext(
      browser,
      pagesUrl,
      async ({ open }) => {
        const page = await open();
        const token = await page.evaluate((url) => start({ url }).ready(), api.url);
        await fn(page, token);
      },
      init,
    );

  /** In the page: the session's GET /api/me, and the session id it answers. */
  const sidOf = (page: Page) => page.evaluate(async () => (await (await session.fetch('/api/me')).json()).sid as string);

  /**
   * Reload the page and start its session again: what its first GET /api/me answers, the events of the new page,
   * and how many token requests (POST) the start made.
   */
  const restart = async (page: Page) => {
    await page.reload();
    const posts = api.tokenRequests.POST;
    const r = await page.evaluate(async (url) => {
      const s = start({ url });
      await s.ready();
      const res = await s.fetch('/api/me');
      // Let any renewal still in flight land before counting.
      await new Promise((r) => setTimeout(r, 300));
      return { status: res.status, me: await res.json(), bound: s.bound, expired: eventsNamed('expired').length, errors: eventsNamed('error') };
    }, api.url);
    return { ...r, tokenPosts: api.tokenRequests.POST - posts };
  };

  test('bound fetch, websocket and renewal; the key is non-extractable, and the server holds its thumbprint', async () => {
    await readyPage(pages.url, async (page, token) => {
      const first = api.upgrades.length;
      const r = await page.evaluate(async () => {
        const secure = { isSecureContext, subtle: typeof crypto.subtle?.sign };
        const me = await (await session.fetch('/api/me')).json();
        const ws = openSocket('/ws');
        await new Promise((r) => ws.addEventListener('open', r));
        ws.send('hi');
        await new Promise((r) => ws.addEventListener('message', r));
        const renewed = await session.renew();
        const after = await (await session.fetch('/api/inc', { method: 'POST' })).json();
        ws.close();
        return { secure, me, renewed, after, bound: session.bound, changes: eventsNamed('binding') };
      });
      // If an engine ever lacks a secure context or WebCrypto here, this says so before anything else.
      assert.deepEqual(r.secure, { isSecureContext: true, subtle: 'function' }, `${engineName}: secure context and crypto.subtle on ${pages.url}`);
      assert.deepEqual(r.changes, []);
      assert.equal(r.bound, true);
      assert.equal(r.me.auth, `DPoP ${token}`);
      assert.equal(r.after.sid, r.me.sid);
      assert.notEqual(r.renewed, token);

      const key = await inspectKey(page, api.url);
      assert.deepEqual(key, { extractable: false, algorithm: 'P-256', usages: ['sign'], exported: 'InvalidAccessError' });

      // Every request the page made carried a proof by one key, whose thumbprint the session is bound to.
      const calls = await page.evaluate(() => captured);
      assert.deepEqual(
        calls.map((c) => [c.method, new URL(c.url).pathname, c.authorization?.split(' ')[0] ?? null, !!c.dpop]),
        [
          ['POST', '/session/token', null, true],
          ['GET', '/api/me', 'DPoP', true],
          ['POST', '/session/token', 'DPoP', true],
          ['POST', '/api/inc', 'DPoP', true],
        ],
      );
      const thumbprints = new Set(calls.map((c) => thumbprintOf(c.dpop!)));
      assert.equal(thumbprints.size, 1);
      assert.equal(await storedJkt(r.me.sid), [...thumbprints][0]);
      assert.deepEqual(
        calls.map((c) => [claims(c.dpop!).htm, claims(c.dpop!).htu]),
        calls.map((c) => [c.method, c.url]),
      );

      const up = api.upgrades[first]!;
      assert.equal(up.offered.length, 3);
      assert.deepEqual(up.offered.slice(0, 2), [SUBPROTOCOL, BEARER_PREFIX + token]);
      const wsProof = up.offered[2]!.slice(DPOP_PREFIX.length);
      assert.deepEqual([claims(wsProof).htm, claims(wsProof).htu], ['GET', `${api.url.replace('http', 'ws')}/ws`]);
      assert.equal(thumbprintOf(wsProof), [...thumbprints][0]);
      assert.equal(up.selected, SUBPROTOCOL, 'the proof is never echoed');
    });
  });

  test('a token and even a proof copied out of the page are refused when replayed from Node (401 / 4401)', async () => {
    await readyPage(pages.url, async (page) => {
      const first = api.upgrades.length;
      const token = await page.evaluate(async () => {
        await session.fetch('/api/me');
        const ws = openSocket('/ws');
        await new Promise((r) => ws.addEventListener('open', r));
        return session.token!;
      });
      const seen = (await page.evaluate(() => captured)).find((c) => c.url.endsWith('/api/me'))!;
      assert.equal(seen.authorization, `DPoP ${token}`);
      const refused = async (res: Response) => [res.status, res.headers.get('www-authenticate')];
      const dpopRefusal = [401, 'DPoP algs="ES256", error="invalid_dpop_proof"'];

      // The token alone, as a Bearer and as DPoP without a proof.
      assert.deepEqual(await refused(await fetch(`${api.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })), dpopRefusal);
      assert.deepEqual(await refused(await fetch(`${api.url}/api/me`, { headers: { authorization: `DPoP ${token}` } })), dpopRefusal);
      // The token with the proof the page sent: already used (jti), and for one method and URL only.
      assert.deepEqual(await refused(await fetch(`${api.url}/api/me`, { headers: { authorization: `DPoP ${token}`, dpop: seen.dpop! } })), dpopRefusal);
      assert.deepEqual(
        await refused(await fetch(`${api.url}/api/inc`, { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: seen.dpop! } })),
        dpopRefusal,
      );
      // Nor can it renew: the token endpoint wants a proof by the bound key.
      const renewal = await fetch(`${api.url}/session/token`, { method: 'POST', headers: { authorization: `DPoP ${token}` } });
      assert.equal(renewal.status, 401);
      // Websocket: the token alone, and with the handshake proof the page offered.
      const offered = api.upgrades[first]!.offered;
      assert.equal(await nodeHandshake(api, [SUBPROTOCOL, BEARER_PREFIX + token]), 4401);
      assert.equal(await nodeHandshake(api, offered), 4401);
      // The page itself goes on working with the same token.
      assert.equal(await page.evaluate(async () => (await session.fetch('/api/me')).status), 200);
      assert.equal(await page.evaluate(() => session.token), token);
    });
  });

  test('two tabs started at once share one key (one thumbprint); the second never makes its own', async () => {
    await inFreshContext(
      browser,
      pages.url,
      async ({ open }) => {
        const [a, b] = [await open('tab A'), await open('tab B')];
        // "At once" made explicit: tab A's token request is held at the server until tab B has started too.
        const gate = api.holdTokenPosts();
        await a.evaluate((url) => void ((window as { started?: unknown }).started = start({ url }).ready()), api.url);
        await b.evaluate((url) => void ((window as { started?: unknown }).started = start({ url }).ready()), api.url);
        gate.release();
        for (const tab of [a, b]) await tab.evaluate(() => (window as { started?: Promise<unknown> }).started);
        for (const tab of [a, b]) assert.equal(await tab.evaluate(async () => (await session.fetch('/api/me')).status), 200);
        const calls = [...(await a.evaluate(() => captured)), ...(await b.evaluate(() => captured))].filter((c) => c.dpop);
        assert.equal(new Set(calls.map((c) => thumbprintOf(c.dpop!))).size, 1, 'one key for both tabs');
        assert.equal(calls.filter((c) => c.url.endsWith('/session/token')).length, 1, 'one token request in all');
        assert.equal(await a.evaluate(() => session.token), await b.evaluate(() => session.token));
      },
      hookFetch,
    );
  });

  test('no crypto.subtle (removed before any page script): unbound and working, one binding event', async () => {
    await readyPage(
      pages.url,
      async (page, token) => {
        const first = api.upgrades.length;
        const r = await page.evaluate(async () => {
          const me = await (await session.fetch('/api/me')).json();
          const ws = openSocket('/ws');
          await new Promise((r) => ws.addEventListener('open', r));
          ws.close();
          return { subtle: typeof crypto.subtle, me, bound: session.bound, changes: eventsNamed('binding') };
        });
        assert.equal(r.subtle, 'undefined');
        assert.equal(r.bound, false);
        assert.deepEqual(r.changes, [{ bound: false, reason: 'unsupported', error: null }]);
        assert.equal(r.me.auth, `Bearer ${token}`);
        assert.deepEqual(api.upgrades[first]!.offered, [SUBPROTOCOL, BEARER_PREFIX + token]);
        assert.equal(await storedJkt(r.me.sid), undefined);
      },
      () => {
        // An own property on the instance shadows the prototype's getter (which Chromium does not let a script redefine).
        Object.defineProperty(crypto, 'subtle', { value: undefined });
      },
    );
  });

  test('the key deleted from IndexedDB (no cookie to rebind): after a reload, one new session, bound to a new key; no loop', async () => {
    await readyPage(pages.url, async (page) => {
      const before = await sidOf(page);
      const oldKey = thumbprintOf((await page.evaluate(() => captured))[0]!.dpop!);
      await deleteKey(page, api.url);
      const r = await restart(page);
      assert.equal(r.status, 200);
      assert.notEqual(r.me.sid, before, 'a new session: nothing could rebind the old one to a new key');
      assert.equal(r.expired, 1);
      assert.deepEqual(r.errors, []);
      assert.equal(r.bound, true);
      // The renewal with the token (refused: a proof by another key, no cookie), then one without it.
      assert.equal(r.tokenPosts, 2);
      const newKey = thumbprintOf((await page.evaluate(() => captured)).at(-1)!.dpop!);
      assert.notEqual(newKey, oldKey);
      assert.equal(await storedJkt(r.me.sid), newKey);
    });
  });

  test('the key deleted, same origin (the cookie names the session): rebound to a new key, same session, one token request', async () => {
    await readyPage(api.url, async (page) => {
      const before = await sidOf(page);
      const oldKey = await storedJkt(before);
      await deleteKey(page, api.url);
      const r = await restart(page);
      assert.equal(r.status, 200);
      assert.equal(r.me.sid, before);
      assert.equal(r.expired, 0);
      assert.equal(r.tokenPosts, 1);
      const newKey = await storedJkt(before);
      assert.ok(newKey && newKey !== oldKey);
    });
  });
});
