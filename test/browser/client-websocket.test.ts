/**
 * Session websockets in each real engine against the real shim: the handshake offers the token (never in the URL),
 * a server-side revoke (4401) is followed by a renewal and a reconnect offering the new token, a login's
 * regenerate by a reconnect with the Session-Token, a second 4401 in a row by `expired` and no more attempts,
 * logout closes them, and a wake-up (Cordova's resume) reconnects a socket that was waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine as Browser, Tab as Page } from '../helpers/engines/index.ts';
import { BEARER_PREFIX, DPOP_PREFIX, SUBPROTOCOL } from '../../src/shared/protocol.ts';
import { describeEngines, inFreshContext, until, useBrowserSuite, type Api, type Pages } from '../helpers/browser.ts';

/** The offer without its proof, after checking there is one right after the token (the session is bound). */
function unproved(offered: string[]): string[] {
  assert.ok(offered[2]?.startsWith(DPOP_PREFIX), `a proof beside the token in ${offered.map((p) => p.slice(0, 24)).join(', ')}`);
  return offered.filter((_, i) => i !== 2);
}

describeEngines('session websockets', {}, (engineName) => {
  let browser: Browser;
  let api: Api;
  /** Its app closes every connection with 4401 at once. */
  let refusing: Api;
  let pages: Pages;

  useBrowserSuite(engineName, { api: {}, refusing: { socket: 'close4401' } }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api, refusing } = suite.apis);
  });

  const withPage = (fn: (page: Page) => Promise<void>) => inFreshContext(browser, pages.url, async ({ open }) => fn(await open()));

  const connect = (page: Page, url: string, options: object) =>
    page.evaluate(
      async ({ url, options }) => {
        const s = start({ url });
        await s.ready();
        const ws = openSocket('/ws', options, 'app.v1');
        await new Promise((r) => ws.addEventListener('open', r));
        return s.token!;
      },
      { url, options },
    );

  test('the handshake offers the token; after a server-side revoke the next attempt offers a renewed one', async () => {
    await withPage(async (page) => {
      const first = api.upgrades.length;
      const posts = api.tokenRequests.POST;
      const token = await connect(page, api.url, { minReconnectionDelay: 50, maxReconnectionDelay: 200 });
      const up = api.upgrades[first];
      assert.deepEqual(unproved(up.offered), [SUBPROTOCOL, BEARER_PREFIX + token, 'app.v1']);
      assert.equal(up.selected, SUBPROTOCOL);
      assert.ok(!up.url.includes(token));

      await api.hs.revoke(up.sid);
      await until('a second open', () => page.evaluate(() => opens() >= 2));
      const after = await page.evaluate(() => ({ token: session.token, log: socketLog, expired: eventsNamed('expired').length }));
      assert.notEqual(after.token, token);
      assert.deepEqual(after.log, ['open', 'close 4401', 'open']);
      assert.equal(api.upgrades.length, first + 2, 'no attempt with the refused token');
      assert.deepEqual(unproved(api.upgrades[first + 1].offered), [SUBPROTOCOL, BEARER_PREFIX + after.token, 'app.v1']);
      assert.equal(api.tokenRequests.POST, posts + 2, 'the first token, then one renewal');
      // No cookie crosses sites here: the revoked session cannot be recovered, so the page hears `expired`.
      assert.equal(after.expired, 1);
      const reply = await page.evaluate(async () => {
        ws.send('ping');
        await new Promise((r) => ws.addEventListener('message', r));
        return JSON.parse(socketLog[socketLog.length - 1].slice('message '.length));
      });
      assert.equal(reply.sid, api.upgrades[first + 1].sid);
      assert.notEqual(reply.sid, up.sid);
    });
  });

  test("a login regenerating the session: the socket comes back on the new session with the response's token", async () => {
    await withPage(async (page) => {
      const first = api.upgrades.length;
      const token = await connect(page, api.url, { minReconnectionDelay: 500, maxReconnectionDelay: 1000 });
      const posts = api.tokenRequests.POST;
      const login = await page.evaluate(async () => (await session.fetch('/api/login', { method: 'POST' })).json());
      await until('the socket back', () => page.evaluate(() => opens() >= 2));
      const after = await page.evaluate(() => ({ token: session.token, log: socketLog, expired: eventsNamed('expired').length }));
      assert.notEqual(after.token, token, 'Session-Token picked up');
      assert.deepEqual(after.log, ['open', 'close 4401', 'open']);
      assert.equal(after.expired, 0);
      assert.equal(api.tokenRequests.POST, posts, 'nothing asked: the login brought the token');
      assert.deepEqual(unproved(api.upgrades[first + 1].offered), [SUBPROTOCOL, BEARER_PREFIX + after.token, 'app.v1']);
      assert.equal(api.upgrades[first + 1].sid, login.sid);
    });
  });

  test('two logins in a row on a young socket: two rotations, never `expired`', async () => {
    await withPage(async (page) => {
      const first = api.upgrades.length;
      await connect(page, api.url, { minReconnectionDelay: 300, maxReconnectionDelay: 600 });
      const posts = api.tokenRequests.POST;
      for (const n of [2, 3]) {
        const login = await page.evaluate(async () => (await session.fetch('/api/login', { method: 'POST' })).json());
        await until(`open #${n}`, () => page.evaluate((n) => opens() >= n, n));
        assert.equal(api.upgrades[first + n - 1].sid, login.sid);
        assert.deepEqual(unproved(api.upgrades[first + n - 1].offered), [SUBPROTOCOL, BEARER_PREFIX + (await page.evaluate(() => session.token)), 'app.v1']);
      }
      assert.deepEqual(await page.evaluate(() => socketLog), ['open', 'close 4401', 'open', 'close 4401', 'open']);
      assert.equal(await page.evaluate(() => eventsNamed('expired').length), 0);
      assert.equal(api.tokenRequests.POST, posts);
    });
  });

  test('refused again right after a renewal: `expired`, and no more attempts', async () => {
    await withPage(async (page) => {
      const posts = refusing.tokenRequests.POST;
      await page.evaluate(async (url) => {
        const s = start({ url });
        await s.ready();
        openSocket('/ws', { minReconnectionDelay: 50, maxReconnectionDelay: 100 });
      }, refusing.url);
      await until('expired', () => page.evaluate(() => eventsNamed('expired').length === 1));
      // Give a looping client the time for several more attempts, then count.
      await new Promise((r) => setTimeout(r, 1000));
      const log = await page.evaluate(() => socketLog);
      assert.deepEqual(log, ['open', 'close 4401', 'open', 'close 4401']);
      assert.equal(refusing.upgrades.filter((u) => u.url === '/ws').length >= 2, true);
      assert.equal(refusing.tokenRequests.POST, posts + 2, 'the first token, one renewal');
      assert.equal(await page.evaluate(() => eventsNamed('expired').length), 1);
    });
  });

  test('logout closes the session sockets, and they stay closed', async () => {
    await withPage(async (page) => {
      await connect(page, api.url, { minReconnectionDelay: 50, maxReconnectionDelay: 100 });
      const upgrades = api.upgrades.length;
      await page.evaluate(() => session.logout());
      await until('the close', () => page.evaluate(() => socketLog.some((l) => l.startsWith('close'))));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(api.upgrades.length, upgrades);
      assert.equal(await page.evaluate(() => ws.readyState), 3);
    });
  });

  test("Cordova's resume reconnects a socket that was waiting out its backoff", async () => {
    await withPage(async (page) => {
      const first = api.upgrades.length;
      // A backoff long enough that only the wake-up can explain a prompt reconnect.
      await connect(page, api.url, { minReconnectionDelay: 600_000, maxReconnectionDelay: 600_000 });
      api.upgrades[first].ws.close(1001, 'going away');
      await until('the close', () => page.evaluate(() => socketLog.includes('close 1001')));
      assert.equal(await page.evaluate(() => opens()), 1);
      await page.evaluate(() => document.dispatchEvent(new Event('resume')));
      await until('the reconnect', () => page.evaluate(() => opens() === 2));
      assert.equal(api.upgrades.length, first + 2);
    });
  });
});
