/**
 * The demo's SPA in each real engine: bundled from `import { createSession } from 'hybrid-session'` and served by the
 * API server itself, so the httpOnly cookie and the token both reach the API, and the cookie alone recovers the
 * session when the token is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine as Browser } from '../helpers/engines/index.ts';
import { describeEngines } from '../helpers/browser.ts';
import {
  incHttp,
  inContext,
  incWs,
  ready,
  screenshot,
  signIn,
  tokenOf,
  until,
  useDemo,
  type Demo,
} from './harness.ts';


describeEngines('demo e2e: SPA (same origin, cookie and token)', {}, (engine) => {
  let demo: Demo;
  let browser: Browser;
  useDemo(engine, 'hs-e2e-spa-', {}, (d, b) => {
    demo = d;
    browser = b;
  });

  test('sign in, count over HTTP and websocket, reload: still signed in with the same count', async () => {
    await inContext(browser, async ({ open }) => {
      const page = await open('spa', demo.spaUrl);
      let s = await ready(page, 'a first anonymous session');
      assert.equal(s.user, 'Not signed in');
      assert.match(s.cookie, /^yes\b/, 'same origin: the httpOnly cookie reaches the API');
      assert.match(s.storage, /^(indexedDB|localStorage)$/);
      const cookies = await page.cookies(demo.apiUrl);
      assert.ok(cookies.some((c) => c.name === 'connect.sid' && c.httpOnly), 'the session cookie is httpOnly');

      s = await signIn(page, 'Ada');
      await incHttp(page, 1);
      s = await incWs(page, 2);
      await screenshot(page, 'spa-signed-in');

      await page.reload();
      const again = await ready(page, 'the same session after a reload');
      assert.equal(again.user, 'Signed in as Ada');
      assert.equal(again.sid, s.sid);
      assert.equal(again.count, '2');
    });
  });

  test('"Forget token": the httpOnly cookie recovers the same session and a new token is issued', async () => {
    await inContext(browser, async ({ open }) => {
      const page = await open('spa', demo.spaUrl);
      await ready(page);
      const s = await signIn(page, 'Barbara');
      await incWs(page, 1);
      const token = await tokenOf(page);
      assert.ok(token);

      await page.click('#forget');
      const recovered = await until(page, 'the same session recovered from the cookie', (x) => /cookie recovered the same session/.test(x.notice) && x.ws === 'connected');
      assert.equal(recovered.user, 'Signed in as Barbara');
      assert.equal(recovered.sid, s.sid);
      assert.equal(recovered.count, '1');
      const fresh = await tokenOf(page);
      assert.ok(fresh);
      assert.notEqual(fresh, token, 'a new token was issued');
      await incHttp(page, 2);
    });
  });

  test('with the cookie alone (all site storage wiped), a reload recovers the session with a new token', async () => {
    await inContext(browser, async ({ open }) => {
      const page = await open('spa', demo.spaUrl);
      await ready(page);
      const s = await signIn(page, 'Edsger');
      await incHttp(page, 1);
      const token = await tokenOf(page);

      // Wipe the token where the client keeps it, from a page of the same origin that runs no client (an open
      // IndexedDB connection would block deleteDatabase).
      await page.goto(`${demo.apiUrl}/demo.css`);
      await page.evaluate(async () => {
        localStorage.clear();
        sessionStorage.clear();
        for (const db of await indexedDB.databases()) {
          await new Promise<void>((resolve, reject) => {
            const request = indexedDB.deleteDatabase(db.name!);
            request.onsuccess = () => resolve();
            request.onerror = () => reject(request.error);
            request.onblocked = () => reject(new Error(`deleting ${db.name} is blocked`));
          });
        }
    });

    await page.goto(demo.spaUrl);
    const again = await ready(page, 'the session recovered from the cookie alone');
    assert.equal(again.user, 'Signed in as Edsger');
    assert.equal(again.sid, s.sid);
    assert.equal(again.count, '1');
    const fresh = await tokenOf(page);
    assert.ok(fresh);
    assert.notEqual(fresh, token, 'a new token was issued');
    });
  });

  test('a second tab shares the session; sign out in one tab signs out the other and closes its socket', async () => {
    await inContext(browser, async ({ open }) => {
      const one = await open('tab 1', demo.spaUrl);
      await ready(one);
      const signedIn = await signIn(one, 'Margaret');
      await incWs(one, 1);

      const two = await open('tab 2', demo.spaUrl);
      const s2 = await ready(two, 'the second tab on the same session');
      assert.equal(s2.user, 'Signed in as Margaret');
      assert.equal(s2.sid, signedIn.sid);
      await incHttp(two, 2);
      await until(one, 'tab 1 sees the count tab 2 changed over HTTP', (s) => s.count === '2');
      await incWs(one, 3);
      await until(two, 'tab 2 sees the count tab 1 changed over the websocket', (s) => s.count === '3');

      await two.click('#sign-out');
      await until(two, 'tab 2 signed out', (s) => s.user === 'Signed out' && s.ws === 'closed');
      await until(one, 'tab 1 signed out too, its socket closed', (s) => s.user === 'Signed out' && s.ws === 'closed');
      await until(one, 'the server holds no socket any more', () => demo.openSockets() === 0);
      assert.ok(!(await one.cookies(demo.apiUrl)).some((c) => c.name === 'connect.sid'), 'sign-out clears the cookie');
    });
  });
});
