/**
 * The demo's hybrid app in each real engine: a PhoneGap-style page on another site than the API (http://localhost:…
 * against http://127.0.0.1:…) and the same files opened from file://. No cookie reaches the API from either: the
 * session lives on the token alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Engine as Browser } from '../helpers/engines/index.ts';
import { describeEngines } from '../helpers/browser.ts';
import {
  incHttp,
  inContext,
  incWs,
  ready,
  screenshot,
  shown,
  signIn,
  until,
  useDemo,
  type Demo,
} from './harness.ts';

describeEngines('demo e2e: hybrid app (another site, token only)', {}, (engine) => {
  let demo: Demo;
  let browser: Browser;
  useDemo(engine, 'hs-e2e-hybrid-', {}, (d, b) => {
    demo = d;
    browser = b;
  });

  test('sign in, count over HTTP and websocket, reload: still signed in with the same count', async () => {
    await inContext(browser, async ({ open }) => {
      const page = await open('hybrid', demo.hybridUrl);
      let s = await ready(page, 'a first anonymous session');
      assert.equal(s.user, 'Not signed in');
      assert.equal(s.count, '0');
      assert.match(s.cookie, /^no\b/, 'no cookie reaches the API from another site');
      assert.match(s.storage, /^(indexedDB|localStorage)$/);
      assert.notEqual(s.expires, '–', 'the token expiry is shown');

      const anonymous = s.sid;
      s = await signIn(page, 'Ada');
      assert.notEqual(s.sid, anonymous, 'sign-in rotates the session id');
      await incHttp(page, 1);
      s = await incWs(page, 2);
      assert.equal(s.user, 'Signed in as Ada');
      await screenshot(page, 'hybrid-signed-in');

      await page.reload();
      const again = await ready(page, 'the same session after a reload');
      assert.equal(again.user, 'Signed in as Ada');
      assert.equal(again.sid, s.sid);
      assert.equal(again.count, '2');
      await incWs(page, 3);
    });
  });

  test('"Forget token" with no cookie to fall back on: a new session, and the page says so', async () => {
    await inContext(browser, async ({ open }) => {
      const page = await open('hybrid', demo.hybridUrl);
      await ready(page);
      const s = await signIn(page, 'Ken');
      await incHttp(page, 1);
      await page.click('#forget');
      const now = await until(page, 'a new session, said on the page', (x) => /no cookie reaches the API/.test(x.notice) && x.ws === 'connected');
      assert.notEqual(now.sid, s.sid);
      assert.equal(now.user, 'Not signed in');
      assert.equal(now.count, '0');
      await incWs(page, 1);
    });
  });

  test('signing in twice in a row rotates the session twice, without a spurious "expired" or an error', async () => {
    await inContext(browser, async ({ open }) => {
      const page = await open('hybrid', demo.hybridUrl);
      await ready(page);
      const first = await signIn(page, 'Alice');
      // Right away, while the socket that reconnected after the first rotation is still young.
      const second = await signIn(page, 'Bob');
      assert.notEqual(second.sid, first.sid);
      await incWs(page, 1);
      const s = await shown(page);
      assert.equal(s.user, 'Signed in as Bob');
      assert.ok(!s.log.some((line) => /expired/.test(line)), `no "expired" in the event log:\n${s.log.join('\n')}`);
    });
  });

  test('from file:// (origin "null", allowed because the demo lists it): sign in, count, reload', async () => {
    await inContext(browser, async ({ open }) => {
      const origins = new Set<string>();
      const record = (req: IncomingMessage) => origins.add(String(req.headers.origin));
      demo.server.prependListener('request', record);
      demo.server.prependListener('upgrade', record);
      const page = await open('file', demo.fileUrl);
      let s = await ready(page, 'a session from a file:// page');
      assert.equal(await page.evaluate('location.protocol'), 'file:');
      // WebKit sends the API's session cookie with a file:// page's credentialed requests (origin "null"), as iOS
      // WKWebView apps loading from file:// see; Chromium and Firefox treat file:// as a site of its own and do
      // not. The flow below holds either way: the token carries the session.
      assert.match(s.cookie, engine === 'webkit' ? /^yes\b/ : /^no\b/);
      s = await signIn(page, 'Linus');
      await incHttp(page, 1);
      s = await incWs(page, 2);
      await screenshot(page, 'hybrid-file-signed-in');

      await page.reload();
      const again = await ready(page, 'the same session after reloading the file:// page');
      assert.equal(again.user, 'Signed in as Linus');
      assert.equal(again.sid, s.sid);
      assert.equal(again.count, '2');
      assert.deepEqual([...origins], ['null'], 'every request and handshake of the file:// page came from origin "null"');
      demo.server.off('request', record);
      demo.server.off('upgrade', record);
    });
  });

  test('a second tab shares the session; sign out in one tab signs out the other and closes its socket', async () => {
    await inContext(browser, async ({ open }) => {
      const one = await open('tab 1', demo.hybridUrl);
      await ready(one);
      const signedIn = await signIn(one, 'Grace');
      await incHttp(one, 1);

      const two = await open('tab 2', demo.hybridUrl);
      const s2 = await ready(two, 'the second tab on the same session');
      assert.equal(s2.user, 'Signed in as Grace');
      assert.equal(s2.sid, signedIn.sid);
      assert.equal(s2.count, '1');

      // Each change, over either transport from either tab, shows in both.
      await incWs(two, 2);
      await until(one, 'tab 1 sees the count tab 2 changed over the websocket', (s) => s.count === '2');
      await incHttp(one, 3);
      await until(two, 'tab 2 sees the count tab 1 changed over HTTP', (s) => s.count === '3');
      assert.equal(demo.openSockets(), 2);

      await one.click('#sign-out');
      await until(one, 'tab 1 signed out', (s) => s.user === 'Signed out' && s.ws === 'closed');
      const after2 = await until(two, 'tab 2 signed out too, its socket closed', (s) => s.user === 'Signed out' && s.ws === 'closed');
      assert.match(after2.notice, /another tab/);
      await until(one, 'the server holds no socket any more', () => demo.openSockets() === 0);

      // Signing in again from the signed-out tab starts a fresh session.
      const fresh = await signIn(two, 'Grace');
      assert.notEqual(fresh.sid, signedIn.sid);
      assert.equal(fresh.count, '0');
      assert.equal((await shown(one)).user, 'Signed out', 'the other tab stays signed out until it is used');
    });
  });

  // The page's token is bound to its key (every engine here has crypto.subtle and IndexedDB keys): the copy the thief
  // replays from the server side comes without a proof by that key, so it is refused and the session lives on. (An
  // unbound copy would end the session as reuse: test/server rotation tests cover that.)
  test('the token card shows its generation, next rotation, that it is bound and the key\'s thumbprint; "Simulate theft": refused, session kept', async () => {
    await inContext(browser, async ({ open }) => {
      const page = await open('hybrid', demo.hybridUrl);
      await ready(page);
      const s = await signIn(page, 'Mallory');
      assert.match(s.generation, /^\d+$/, 'the generation is shown');
      assert.match(s.rotates, /^(now|in \d+ (s|min|h|days)) · /, 'when the next rotation is due is shown');
      await incHttp(page, 1);
      const bound = await until(page, 'bound, with a thumbprint', (x) => x.bound === 'yes (DPoP)' && /^[A-Za-z0-9_-]{43}$/.test(x.thumbprint));
      const reusesBefore = demo.reuseEvents();

      await page.click('#simulate-theft');
      const after = await until(page, 'the replayed copy refused', (x) => /replayed: refused \(HS_ERR_INVALID_DPOP_PROOF\), session kept/.test(x.theft), 60_000);
      assert.equal(demo.reuseEvents() - reusesBefore, 0, 'no reuse: the copy never got as far as its generation');
      assert.equal(after.sid, s.sid, 'the same session');
      assert.equal(after.user, 'Signed in as Mallory');
      assert.equal(after.thumbprint, bound.thumbprint);
      // The page goes on working on its session.
      await incWs(page, 2);
      await screenshot(page, 'hybrid-theft-refused');
    });
  });
});
