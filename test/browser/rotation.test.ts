/**
 * Token rotation seen from a real page (DESIGN "Token rotation and reuse detection"), in every engine:
 * - a page closed right after sending its renewal (the answer lost) and reopened past the grace stays in its
 *   session: the server answers its stored, rotated-out token with the current one (lost answer), no reuse;
 * - a token copied out of the page's storage and presented from Node after the page renewed (past the grace) is
 *   reuse: the session ends, hs.on('reuse') fires once, and the page learns it (`expired`, a new session).
 * The API is on another site than the pages, so no cookie can rescue either case: the token alone decides.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine as Browser, Tab as Page } from '../helpers/engines/index.ts';
import { describeEngines, inFreshContext, until, useBrowserSuite, type Api, type Pages } from '../helpers/browser.ts';
import type { ReuseEvent } from '../../src/server/index.ts';
import { rotationRecord } from '../helpers/rotation-record.ts';

/** Short enough that a test waits it out, long enough that a loaded machine's delays stay inside it. */
const GRACE = 1500;

const tokenOf = (page: Page) => page.evaluate(() => session.token);
const me = (page: Page) => page.evaluate(async () => (await session.fetch('/api/me')).json() as Promise<{ sid: string }>);

describeEngines('rotation: lost answers and copied tokens', {}, (engineName) => {
  let browser: Browser;
  let api: Api;
  let pages: Pages;
  const reuses: ReuseEvent[] = [];

  useBrowserSuite(engineName, { api: { rotationGrace: GRACE } }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api } = suite.apis);
    api.hs.on('reuse', (e) => reuses.push(e));
  });

  /** Until the rotation grace of the session's current generation is over (read from the store, not guessed). */
  async function pastGrace(sid: string): Promise<void> {
    const { rotatedAt } = await rotationRecord(api, sid);
    await until('the rotation grace is over', () => Date.now() > rotatedAt + GRACE + 100, GRACE * 4);
  }

  test('a page closed right after sending its renewal, reopened past the grace: same session, no reuse', async () => {
    reuses.length = 0;
    await inFreshContext(browser, pages.url, async ({ open }) => {
      const first = await open('page');
      await first.evaluate((url) => start({ url }).ready(), api.url);
      const { sid } = await me(first);
      const before = await rotationRecord(api, sid);
      assert.equal(before.used, true, 'the first token was used (so a later renewal with it would be reuse but for the lost-answer rule)');

      // "Right after sending" made explicit: the renewal is held at the server until the page is gone.
      const gate = api.holdTokenPosts();
      await first.evaluate(() => void session.renew().catch(() => {}));
      await until('the renewal reached the server', () => gate.held() === 1);
      await first.close();
      gate.release();
      await until('the server rotated; its answer went nowhere', async () => (await rotationRecord(api, sid)).gen === before.gen + 1);
      await pastGrace(sid);

      const again = await open('reopened');
      await again.evaluate((url) => start({ url }).ready(), api.url);
      assert.equal(
        (await again.evaluate(() => eventsNamed('token')))[0]?.split('.')[3],
        String(before.gen),
        'the reopened page started from the rotated-out token in its storage (the new one never reached it)',
      );
      assert.equal((await me(again)).sid, sid, 'the same session');
      assert.equal((await rotationRecord(api, sid)).gen, before.gen + 1, 'answered with the generation already made, not a new one');
      assert.deepEqual(await again.evaluate(() => eventsNamed('expired')), []);
      assert.deepEqual(reuses, [], 'no reuse detected');
    });
  });

  test('a token copied out of storage, used from Node after the page renewed: the session ends, the page is told', async () => {
    reuses.length = 0;
    await inFreshContext(browser, pages.url, async ({ open }) => {
      const page = await open('page');
      // An unbound token (binding: false): a bound one's copy is refused for want of the key's proof before its
      // generation is even judged, and the session lives on (client-binding.test.ts); this case is reuse of a bearer.
      await page.evaluate((url) => start({ url, binding: false }).ready(), api.url);
      const { sid } = await me(page);
      await page.evaluate(async () => {
        const ws = openSocket('/ws', { minReconnectionDelay: 50, maxReconnectionDelay: 200 });
        await new Promise((r) => ws.addEventListener('open', r));
      });

      // What a script in the page (an XSS, an extension, a debug dump) reads: the token as stored. The client's
      // default key, 'hybrid-session:' + the API's origin, names its IndexedDB database, store and entry.
      assert.equal(await page.evaluate(() => session.storage), 'indexedDB');
      const copied = await page.evaluate(
        (key) =>
          new Promise<unknown>((resolve, reject) => {
            const open = indexedDB.open(key);
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
              try {
                const get = open.result.transaction(key).objectStore(key).get(key);
                get.onsuccess = () => resolve(get.result);
                get.onerror = () => reject(get.error);
              } catch (e) {
                reject(e);
              }
            };
          }),
        'hybrid-session:' + new URL(api.url).origin,
      );
      assert.equal(copied, await tokenOf(page), 'the copy is the token the page holds');

      const renewed = await page.evaluate(() => session.renew());
      assert.notEqual(renewed, copied);
      assert.equal((await me(page)).sid, sid, 'the renewed token works (and is now used)');
      await pastGrace(sid);

      const res = await fetch(api.url + api.hs.options.tokenPath, { method: 'POST', headers: { authorization: `Bearer ${copied}` } });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
      assert.equal(((await res.json()) as { code?: string }).code, 'HS_ERR_TOKEN_REUSED');
      assert.deepEqual(
        reuses.map((e) => [e.sessionID, e.via, e.generation, e.currentGeneration]),
        [[sid, 'bearer', 0, 1]],
        "hs.on('reuse') fired once, for this session",
      );
      await until('the session is gone from the store', async () => (await rotationRecord(api, sid, { allowMissing: true })).missing);

      // The page's socket is closed 4401, the client renews, the server no longer knows the session: `expired`.
      await until('the page was told', () => page.evaluate(() => eventsNamed('expired').length === 1));
      assert.ok((await page.evaluate(() => socketLog)).includes('close 4401'), 'the page’s socket was closed 4401');
      const after = await me(page);
      assert.notEqual(after.sid, sid, 'the page is on a new session');
      const stale = await fetch(`${api.url}/api/me`, { headers: { authorization: `Bearer ${copied}` } });
      assert.equal(stale.status, 401, 'the copy opens nothing');
      assert.equal(reuses.length, 1, 'still one reuse event');
    });
  });
});
