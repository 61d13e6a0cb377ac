/**
 * The client under a hostile neighbour or a wrong clock, in a real browser against the real shim (issue 14): a
 * device clock 2 h ahead (no renewal storm: the lifetime is dated by the server's own Date), a Request made in an
 * iframe (another realm: sent to its own URL), two APIs on one page origin (neither sees the other's token), a
 * stored value without the token prefix (dropped, never sent), and hostile messages on the tab channel (ignored,
 * reported, never thrown).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine as Browser, Tab as Page } from '../helpers/engines/index.ts';
import { describeEngines, inFreshContext, useBrowserSuite, type Api, type Pages } from '../helpers/browser.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeEngines('the client under a hostile neighbour or a wrong clock', {}, (engineName) => {
  let browser: Browser;
  let api: Api;
  let other: Api;
  let pages: Pages;

  useBrowserSuite(engineName, { api: {}, other: {} }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api, other } = suite.apis);
  });

  const withPage = (fn: (page: Page) => Promise<void>, init?: () => void) =>
    inFreshContext(browser, pages.url, async ({ open }) => fn(await open()), init);

  test('a device clock 2 h ahead: one token request, the token counted valid for the life the server gave it', async () => {
    await withPage(
      async (page) => {
        const posts = api.tokenRequests.POST;
        const r = await page.evaluate(async (url) => {
          const s = start({ url, storage: 'localStorage' });
          await s.ready();
          return { left: s.expiresAt! - Date.now() };
        }, api.url);
        // Not a timing assertion: a slower machine makes fewer requests in this window, never more.
        await sleep(3000);
        assert.ok(api.tokenRequests.POST - posts <= 3, `${api.tokenRequests.POST - posts} token requests in 3 s`);
        // A new session's first token lives provisionalMaxAge (15 min); by the device clock alone it would be 2 h past.
        assert.ok(r.left > 10 * 60_000 && r.left <= 16 * 60_000, `the token counted valid ${Math.round(r.left / 1000)} s more, by the device clock`);
      },
      () => {
        const now = Date.now;
        Date.now = () => now() + 2 * 3_600_000;
      },
    );
  });

  test("a Request made in an iframe (another realm) is sent to its own URL, with the token", async () => {
    await withPage(async (page) => {
      const r = await page.evaluate(async (url) => {
        const s = start({ url });
        await s.ready();
        const frame = document.createElement('iframe');
        document.body.append(frame);
        const Foreign = (frame.contentWindow as unknown as { Request: typeof Request }).Request;
        const req = new Foreign(url + '/api/me');
        const res = await s.fetch(req);
        return { isLocal: req instanceof Request, status: res.status, url: res.url, body: await res.json(), token: s.token };
      }, api.url);
      assert.equal(r.isLocal, false);
      assert.equal(r.status, 200);
      assert.equal(r.url, api.url + '/api/me');
      assert.equal(r.body.auth, `DPoP ${r.token}`);
    });
  });

  test("two APIs on one page origin, default options: API B never sees A's token", async () => {
    await withPage(async (page) => {
      const r = await page.evaluate(
        async ({ a, b }) => {
          const sa = HybridSession.createSession({ url: a, storage: 'localStorage' });
          const ta = await sa.ready();
          const sb = HybridSession.createSession({ url: b, storage: 'localStorage' });
          const tb = await sb.ready();
          const me = await (await sb.fetch('/api/me')).json();
          return { ta, tb, auth: me.auth, a: sa.token };
        },
        { a: api.url, b: other.url },
      );
      assert.notEqual(r.ta, r.tb);
      assert.equal(r.auth, `DPoP ${r.tb}`);
      assert.equal(r.a, r.ta, "B's token did not reach A over the tab channel");
    });
  });

  test('a stored value without the token version prefix (stale, or foreign): dropped, never sent, a new token fetched', async () => {
    await withPage(async (page) => {
      const key = 'hybrid-session:' + api.url;
      const posts = api.tokenRequests.POST;
      const sent = api.authorizations.length;
      const r = await page.evaluate(
        async ({ url, key }) => {
          localStorage.setItem(key, 'abcDEF0123456789.notours');
          const s = start({ url, storage: 'localStorage' });
          const token = await s.ready();
          const me = await (await s.fetch('/api/me')).json();
          return { token, auth: me.auth, stored: localStorage.getItem(key) };
        },
        { url: api.url, key },
      );
      assert.ok(r.token?.startsWith('v1.'), String(r.token));
      assert.equal(r.auth, `DPoP ${r.token}`);
      assert.equal(r.stored, r.token);
      assert.equal(api.tokenRequests.POST, posts + 1);
      assert.ok(api.authorizations.slice(sent).every((a) => !a.includes('notours')), 'what the API received');
    });
  });

  test('hostile tab messages: the token kept, each reported through `error`, nothing thrown', async () => {
    await withPage(async (page) => {
      const r = await page.evaluate(async (url) => {
        const s = start({ url });
        const token = await s.renew();
        const channel = new BroadcastChannel('hybrid-session:' + url);
        const hostile = [42, 'x'.repeat(100_000), { token: 'v1.x' }, ['not a token!', 1, 2, url], [], undefined];
        for (const m of hostile) channel.postMessage(m);
        const deadline = Date.now() + 10_000;
        while (eventsNamed('error').length < hostile.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        channel.close();
        return { token, now: s.token, errors: eventsNamed('error').map((e) => e.code) };
      }, api.url);
      assert.equal(r.now, r.token);
      assert.deepEqual(new Set(r.errors), new Set(['HS_ERR_INVALID_TOKEN']));
      assert.equal(r.errors.length, 6);
    });
  });
});
