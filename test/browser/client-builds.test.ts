/**
 * Both browser builds against the real shim, from a page on another origin than the API (the hybrid-app case: no
 * cookie reaches the API, the token is the only credential): script tag (dist/hybrid-session.umd.min.js, global
 * HybridSession) and ESM (dist/client/index.js with an import map for its two dependencies).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEARER_PREFIX, DPOP_PREFIX, SUBPROTOCOL } from '../../src/shared/protocol.ts';
import type { Engine } from '../helpers/engines/index.ts';
import { describeEngines, inFreshContext, useBrowserSuite, type Api, type Pages } from '../helpers/browser.ts';

describeEngines('browser builds, page and API on different origins', {}, (engineName) => {
  let browser: Engine;
  let api: Api;
  let pages: Pages;

  useBrowserSuite(engineName, { api: {} }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api } = suite.apis);
  });

  for (const build of ['umd', 'esm'] as const) {
    test(`${build}: token, fetch with the bearer, a websocket offering it, logout`, async () => {
      await inFreshContext(browser, pages.url, async ({ open }) => {
      const page = await open(build, build);
      const before = api.upgrades.length;
      const r = await page.evaluate(async (url) => {
        const s = start({ url });
        const token = await s.ready();
        const me = await (await s.fetch('/api/me')).json();
        const inc = await (await s.fetch(new Request(url + '/api/inc', { method: 'POST' }))).json();
        const ws = s.websocket('/ws');
        const reply = await new Promise<any>((resolve, reject) => {
          ws.addEventListener('open', () => ws.send('hello'));
          ws.addEventListener('message', (e) => resolve(JSON.parse(e.data)));
          ws.addEventListener('error', () => reject(new Error('websocket error')));
        });
        const protocol = ws.protocol;
        ws.close();
        return { token, me, inc, reply, protocol, storage: s.storage, pageOrigin: location.origin };
      }, api.url);
      assert.notEqual(new URL(r.pageOrigin).host, new URL(api.url).host);
      assert.ok(r.token);
      assert.equal(r.me.auth, `DPoP ${r.token}`);
      assert.equal(r.inc.sid, r.me.sid);
      assert.equal(r.inc.n, 1);
      assert.equal(r.reply.sid, r.me.sid, 'the websocket reached the same session');
      assert.equal(r.reply.data, 'hello');
      assert.equal(r.protocol, SUBPROTOCOL);
      assert.equal(r.storage, 'indexedDB');
      const up = api.upgrades[before];
      // Bound (DESIGN "Device binding"): a proof for this connect beside the token.
      assert.deepEqual(up.offered.slice(0, 2), [SUBPROTOCOL, BEARER_PREFIX + r.token]);
      assert.equal(up.offered.length, 3);
      assert.ok(up.offered[2]!.startsWith(DPOP_PREFIX));
      assert.equal(up.selected, SUBPROTOCOL, 'the bearer is never echoed');
      assert.ok(!up.url.includes(r.token), 'the token is not in the URL');

      const deletes = api.tokenRequests.DELETE;
      const out = await page.evaluate(async () => {
        await session.logout();
        return { token: session.token, events: eventsNamed('logout').length };
      });
      assert.deepEqual(out, { token: null, events: 1 });
      assert.equal(api.tokenRequests.DELETE, deletes + 1);
      // The session is gone on the server: its token is refused.
      const res = await fetch(`${api.url}/api/me`, { headers: { Authorization: `Bearer ${r.token}` } });
      assert.equal(res.status, 401);
      });
    });
  }
});
