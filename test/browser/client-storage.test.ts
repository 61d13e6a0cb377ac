/**
 * Where the token lives, in each real engine against the real shim: IndexedDB and localStorage surviving a reload
 * (no new token request), the server's storage hint, and the fallbacks when localStorage throws or IndexedDB
 * throws or never answers — a `storage` event, and the app keeps working.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context, Engine, Tab as Page } from '../helpers/engines/index.ts';
import { describeEngines, inFreshContext, useBrowserSuite, waitForHarness, type Api, type Pages } from '../helpers/browser.ts';

/** The default key names the API's origin too (two APIs on one page origin never share a slot). */
const keyOf = (api: Api) => `hybrid-session:${api.url}`;

describeEngines('token storage in the browser', {}, (engineName) => {
  let browser: Engine;
  let api: Api;
  /** Hints localStorage (SocketStream's ws.client.localStorage: true). */
  let lsApi: Api;
  let pages: Pages;

  useBrowserSuite(engineName, { api: {}, lsApi: { ws: { client: { localStorage: true } } } }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api, lsApi } = suite.apis);
  });

  /** A fresh context (empty storage), with `init` run before any page script. */
  const withPage = (fn: (page: Page, context: Context) => Promise<void>, init?: () => void) =>
    inFreshContext(browser, pages.url, async ({ open, context }) => fn(await open(), context), init);

  /** Start a session in the page; what it got, and how it works: /api/me through session.fetch. */
  const startAndUse = (page: Page, url: string, storage?: string) =>
    page.evaluate(
      async ({ url, storage }) => {
        const s = start(storage ? { url, storage: storage as never } : { url });
        const token = await s.ready();
        const me = await (await s.fetch('/api/me')).json();
        // The storage events of this start (they are asynchronous: let any pending one land).
        await new Promise((r) => setTimeout(r, 50));
        return { token, storage: s.storage, me, changes: eventsNamed('storage') };
      },
      { url, storage },
    );

  const readIndexedDB = (page: Page, from = api) =>
    page.evaluate(
      (key) =>
        new Promise<unknown>((resolve, reject) => {
          const open = indexedDB.open(key);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains(key)) return resolve(undefined);
            const get = db.transaction(key).objectStore(key).get(key);
            get.onsuccess = () => resolve(get.result);
            get.onerror = () => reject(get.error);
          };
        }),
      keyOf(from),
    );

  test("IndexedDB ('auto', the server's default hint): persisted, and a reload reuses it without asking", async () => {
    await withPage(async (page) => {
      const first = await startAndUse(page, api.url);
      assert.equal(first.storage, 'indexedDB');
      assert.deepEqual(first.changes, []);
      assert.equal(first.me.auth, `DPoP ${first.token}`);
      assert.equal(await readIndexedDB(page), first.token);
      const posts = api.tokenRequests.POST;
      await page.reload();
      await waitForHarness(page);
      const second = await startAndUse(page, api.url);
      assert.equal(second.token, first.token);
      assert.equal(second.storage, 'indexedDB');
      assert.equal(second.me.sid, first.me.sid);
      assert.equal(api.tokenRequests.POST, posts, 'no token request after the reload');
    });
  });

  test("localStorage (the server's hint): moved there from IndexedDB, and a reload finds it", async () => {
    await withPage(async (page) => {
      const first = await startAndUse(page, lsApi.url);
      assert.equal(first.storage, 'localStorage');
      assert.deepEqual(first.changes, [{ from: 'indexedDB', to: 'localStorage', reason: 'hint' }]);
      assert.equal(await page.evaluate((k) => localStorage.getItem(k), keyOf(lsApi)), first.token);
      assert.equal(await readIndexedDB(page, lsApi), undefined, 'nothing left behind in IndexedDB');
      const posts = lsApi.tokenRequests.POST;
      await page.reload();
      await waitForHarness(page);
      const second = await startAndUse(page, lsApi.url);
      assert.equal(second.token, first.token);
      assert.equal(second.storage, 'localStorage');
      assert.deepEqual(second.changes, []);
      assert.equal(second.me.sid, first.me.sid);
      assert.equal(lsApi.tokenRequests.POST, posts);
    });
  });

  test("storage: 'localStorage' chosen explicitly survives a reload", async () => {
    await withPage(async (page) => {
      const first = await startAndUse(page, api.url, 'localStorage');
      assert.equal(first.storage, 'localStorage');
      assert.equal(await page.evaluate((k) => localStorage.getItem(k), keyOf(api)), first.token);
      await page.reload();
      await waitForHarness(page);
      const second = await startAndUse(page, api.url, 'localStorage');
      assert.equal(second.token, first.token);
    });
  });

  test('localStorage that throws on write (Safari private mode): memory, a storage event, the app works', async () => {
    await withPage(
      async (page) => {
        const r = await startAndUse(page, api.url, 'localStorage');
        assert.equal(r.storage, 'memory');
        assert.deepEqual(r.changes, [{ from: 'localStorage', to: 'memory', reason: 'error' }]);
        assert.equal(r.me.auth, `DPoP ${r.token}`);
      },
      () => {
        Storage.prototype.setItem = function () {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        };
      },
    );
  });

  test('the hint names a localStorage that throws: on to memory, skipping nothing that works', async () => {
    await withPage(
      async (page) => {
        const r = await startAndUse(page, lsApi.url);
        assert.equal(r.storage, 'memory');
        assert.deepEqual(r.changes, [
          { from: 'indexedDB', to: 'localStorage', reason: 'hint' },
          { from: 'localStorage', to: 'memory', reason: 'error' },
        ]);
        assert.equal(r.me.auth, `DPoP ${r.token}`);
      },
      () => {
        Storage.prototype.setItem = function () {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        };
      },
    );
  });

  test('IndexedDB that never answers (some iOS webviews): localStorage after a bounded wait, the app works', async () => {
    await withPage(
      async (page) => {
        const r = await startAndUse(page, api.url);
        assert.equal(r.storage, 'localStorage');
        assert.deepEqual(r.changes, [{ from: 'indexedDB', to: 'localStorage', reason: 'timeout' }]);
        assert.equal(await page.evaluate((k) => localStorage.getItem(k), keyOf(api)), r.token);
        // No IndexedDB, so no key either (DESIGN "Device binding"): the token stays a plain bearer.
        assert.equal(r.me.auth, `Bearer ${r.token}`);
      },
      () => {
        // An open request that never fires success, error or blocked.
        IDBFactory.prototype.open = function () {
          return {} as IDBOpenDBRequest;
        };
      },
    );
  });

  test('IndexedDB that throws (blocked): localStorage, a storage event, the app works', async () => {
    await withPage(
      async (page) => {
        const r = await startAndUse(page, api.url);
        assert.equal(r.storage, 'localStorage');
        assert.deepEqual(r.changes, [{ from: 'indexedDB', to: 'localStorage', reason: 'error' }]);
        // No IndexedDB, so no key either (DESIGN "Device binding"): the token stays a plain bearer.
        assert.equal(r.me.auth, `Bearer ${r.token}`);
      },
      () => {
        IDBFactory.prototype.open = function () {
          throw new DOMException('IndexedDB is blocked', 'SecurityError');
        };
      },
    );
  });

  test('every storage throwing on every call: memory, one event per step, the app works', async () => {
    await withPage(
      async (page) => {
        const r = await startAndUse(page, api.url);
        assert.equal(r.storage, 'memory');
        assert.deepEqual(r.changes, [
          { from: 'indexedDB', to: 'localStorage', reason: 'error' },
          { from: 'localStorage', to: 'memory', reason: 'error' },
        ]);
        // No IndexedDB, so no key either (DESIGN "Device binding"): the token stays a plain bearer.
        assert.equal(r.me.auth, `Bearer ${r.token}`);
        assert.equal(await page.evaluate(() => session.renew().then(() => session.token !== null)), true);
      },
      () => {
        // No named function here: tsx would wrap it in a __name() helper the page does not have.
        IDBFactory.prototype.open = Storage.prototype.getItem = Storage.prototype.setItem = Storage.prototype.removeItem = function (): never {
          throw new DOMException('denied', 'SecurityError');
        };
      },
    );
  });

  test('quota exceeded mid-write (after the probe succeeded): the token goes on in memory', async () => {
    await withPage(
      async (page) => {
        const r = await startAndUse(page, api.url, 'localStorage');
        assert.equal(r.storage, 'memory');
        assert.deepEqual(r.changes, [{ from: 'localStorage', to: 'memory', reason: 'error' }]);
        assert.equal(r.me.auth, `DPoP ${r.token}`);
      },
      () => {
        const setItem = Storage.prototype.setItem;
        let writes = 0;
        Storage.prototype.setItem = function (k: string, v: string) {
          // The probe's write passes; the token's does not.
          if (++writes > 1) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          return setItem.call(this, k, v);
        };
      },
    );
  });

  test('a corrupt stored token is discarded, never sent, and replaced', async () => {
    await withPage(async (page) => {
      await page.evaluate((k) => localStorage.setItem(k, 'garbage token <x>'), keyOf(api));
      const sent = api.authorizations.length;
      const posts = api.tokenRequests.POST;
      const r = await startAndUse(page, api.url, 'localStorage');
      assert.notEqual(r.token, 'garbage token <x>');
      assert.equal(await page.evaluate((k) => localStorage.getItem(k), keyOf(api)), r.token);
      assert.equal(api.tokenRequests.POST, posts + 1);
      assert.ok(api.authorizations.slice(sent).every((a) => !a.includes('garbage')), 'what the API received');
    });
  });
});
