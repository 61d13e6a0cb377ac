/**
 * The SocketStream docs' examples driven from each real engine: the script-tag build (dist/hybrid-session.umd.min.js)
 * on one origin, the facade (createSocketStream) as the API on another, so the token is the only credential, as in
 * a PhoneGap app. session.rpc speaks JSON-RPC over the session's websocket; session.fetch carries the same token.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchEngine, type Engine as Browser, type Tab as Page } from '../helpers/engines/index.ts';
import { createSocketStream } from '../../src/socketstream/index.ts';
import { close } from '../helpers/net.ts';
import { describeEngines, inFreshContext, startPages, type Pages } from '../helpers/browser.ts';

describeEngines('SocketStream facade (session.rpc + session.fetch)', {}, (engineName) => {
  let browser: Browser;
  let pages: Pages;
  let server: Server;
  let api: string;
  let ss: ReturnType<typeof createSocketStream>;

  before(async () => {
    pages = await startPages();
    ss = createSocketStream({ allowedOrigins: [pages.url] });
    ss.set('*', { session: { cookie: { httpOnly: true } }, ws: { client: { localStorage: true } } });
    ss.rpc.actions('app', function (req: any, res: any) {
      req.use('session');
      return {
        getSession: function () {
          res(req.session);
        },
        updateSession: function () {
          req.session.myVar = 1234;
          req.session.cart = { items: 3, checkout: false };
          req.session.save(function () {
            res(req.session);
          });
        },
        refuse: function () {
          res(Object.assign(new Error('not allowed'), { code: 'E_FORBIDDEN' }));
        },
        silent: function () {
          // Never answers: the caller's timeout is what ends the call.
        },
        signIn: function (user: string) {
          req.session.setUserId(user, function () {
            res(req.session.userId);
          });
        },
      };
    });
    ss.http.route('/updateSession', function (req: any, res: any) {
      req.session.myVar = 4321;
      res.end('req.session.myVar has been updated to', req.session.myVar);
    });
    ss.http.route('/session', function (req: any, res: any) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(req.session));
    });
    ss.session.options.maxAge = 8640000;
    ss.session.options.secret = crypto.randomBytes(32).toString('hex');
    server = await ss.start({ port: 0, host: '127.0.0.1' });
    // Another site than the pages (127.0.0.1): no cookie crosses, the token is the only credential.
    api = `http://localhost:${(server.address() as AddressInfo).port}`;
    browser = await launchEngine(engineName);
  });
  after(async () => {
    await browser?.close();
    await ss?.stop();
    if (server) await close(server);
    await pages?.close();
  });

  const withPage = (fn: (page: Page) => Promise<void>) => inFreshContext(browser, pages.url, async ({ open }) => fn(await open()));

  test("session.rpc('app.updateSession'), then session.fetch sees myVar 1234 and the cart", async () => {
    await withPage(async (page) => {
      const out = await page.evaluate(async (url) => {
        const s = start({ url });
        await s.ready();
        const rpc = await s.rpc<any>('app.updateSession');
        const seen = await (await s.fetch('/session')).json();
        return { storage: s.storage, rpc: rpc.myVar, myVar: seen.myVar, cart: seen.cart };
      }, api);
      assert.deepEqual(out, { storage: 'localStorage', rpc: 1234, myVar: 1234, cart: { items: 3, checkout: false } });
    });
  });

  test("session.fetch('/updateSession') (the docs' res.end call), then session.rpc('app.getSession') sees 4321", async () => {
    await withPage(async (page) => {
      const out = await page.evaluate(async (url) => {
        const s = start({ url });
        const text = await (await s.fetch('/updateSession')).text();
        const session = await s.rpc<any>('app.getSession');
        return { text, myVar: session.myVar };
      }, api);
      assert.deepEqual(out, { text: 'req.session.myVar has been updated to 4321', myVar: 4321 });
    });
  });

  test('an RPC error rejects with its message and codes; an unknown method too; the socket carries on', async () => {
    await withPage(async (page) => {
      const out = await page.evaluate(async (url) => {
        const s = start({ url });
        // No named helper functions in here: tsx would wrap them in a __name() the page does not have.
        const [refused, unknown] = await Promise.all(
          [s.rpc('app.refuse'), s.rpc('app.nope')].map((p) =>
            p.then(
              () => null,
              (e: any) => ({ name: e.name, code: e.code, rpcCode: e.rpcCode, data: e.data ?? null, message: e.message }),
            ),
          ),
        );
        const after = await s.rpc<any>('app.getSession');
        return { refused, unknown, alive: typeof after === 'object' };
      }, api);
      assert.deepEqual(out.refused, {
        name: 'HybridSessionError', code: 'HS_ERR_RPC', rpcCode: -32000, data: { code: 'E_FORBIDDEN' }, message: 'not allowed',
      });
      assert.equal(out.unknown?.rpcCode, -32601);
      assert.equal(out.unknown?.code, 'HS_ERR_RPC');
      assert.equal(out.alive, true);
    });
  });

  test('a call the server never answers rejects after rpcTimeout, and later calls still work', async () => {
    await withPage(async (page) => {
      const out = await page.evaluate(async (url) => {
        const s = start({ url, rpcTimeout: 500 });
        let timeout: { code: string } | null = null;
        try {
          await s.rpc('app.silent');
        } catch (e: any) {
          timeout = { code: e.code };
        }
        const session = await s.rpc<any>('app.getSession');
        return { timeout, alive: typeof session === 'object' };
      }, api);
      assert.deepEqual(out, { timeout: { code: 'HS_ERR_RPC_TIMEOUT' }, alive: true });
    });
  });

  test('setUserId over session.rpc: the client keeps the new token from the notification, and fetch uses it', async () => {
    await withPage(async (page) => {
      const out = await page.evaluate(async (url) => {
        const s = start({ url });
        const before = await s.ready();
        await s.rpc('app.updateSession');
        const user = await s.rpc('app.signIn', 'alice');
        // The notification arrives just before the answer on the same socket; let the token event land.
        for (let i = 0; i < 50 && s.token === before; i++) await new Promise((r) => setTimeout(r, 20));
        const seen = await (await s.fetch('/session')).json();
        const stale = await fetch(url + '/session', { headers: { Authorization: 'Bearer ' + before } });
        return { user, changed: s.token !== before, userId: seen.userId, myVar: seen.myVar, stale: stale.status };
      }, api);
      assert.deepEqual(out, { user: 'alice', changed: true, userId: 'alice', myVar: 1234, stale: 401 });
    });
  });
});
