/**
 * The durable storage adapters (`hybrid-session/storage`) in each real engine against the real shim: Capacitor
 * Preferences through the real @capacitor/preferences package (its web implementation, as outside a native shell),
 * and the secure-storage and NativeStorage plugins through stand-ins written to their published interfaces
 * (fixtures/plugin-fakes.js). Each keeps the token across a reload without a new token request, clears it on
 * logout, and a plugin that fails moves the session to memory with a `storage` event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine, Tab } from '../helpers/engines/index.ts';
import { describeEngines, inFreshContext, useBrowserSuite, waitForHarness, type Api, type Pages } from '../helpers/browser.ts';

type Adapter = 'capacitorPreferences' | 'secureStorage' | 'cordovaNativeStorage';
const PLUGIN: Record<Adapter, string> = { capacitorPreferences: 'preferences', secureStorage: 'secureStorage', cordovaNativeStorage: 'nativeStorage' };
/** Where each plugin's web build (or stand-in) keeps the token (under the default key, which names the API). */
const STORED_PREFIX: Record<Adapter, string> = {
  capacitorPreferences: 'CapacitorStorage.',
  secureStorage: 'fake_sec_',
  cordovaNativeStorage: 'fake_ns_',
};

describeEngines('durable storage adapters', {}, (engineName) => {
  let browser: Engine;
  let api: Api;
  let pages: Pages;

  useBrowserSuite(engineName, { api: {} }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api } = suite.apis);
  });

  const startWith = (page: Tab, adapter: Adapter) =>
    page.evaluate(
      async ({ url, adapter, plugin }) => {
        const w = window as unknown as { adapters: Record<string, (p: unknown) => never>; plugins: Record<string, unknown> };
        const s = start({ url, storage: w.adapters[adapter](w.plugins[plugin]) });
        const token = await s.ready();
        const me = await (await s.fetch('/api/me')).json();
        await new Promise((r) => setTimeout(r, 50));
        return { token, storage: s.storage, me, changes: eventsNamed('storage') };
      },
      { url: api.url, adapter, plugin: PLUGIN[adapter] },
    );

  const stored = (page: Tab, adapter: Adapter) => page.evaluate((k) => localStorage.getItem(k), `${STORED_PREFIX[adapter]}hybrid-session:${api.url}`);

  for (const adapter of Object.keys(PLUGIN) as Adapter[]) {
    test(`${adapter}: the token is kept there, a reload reuses it without asking, logout clears it`, async () => {
      await inFreshContext(browser, pages.url, async ({ open }) => {
        const page = await open(adapter, 'capacitor');
        const first = await startWith(page, adapter);
        assert.equal(first.storage, 'custom');
        assert.deepEqual(first.changes, []);
        assert.equal(first.me.auth, `DPoP ${first.token}`);
        const raw = await stored(page, adapter);
        // NativeStorage keeps values JSON-encoded; the others as given.
        assert.equal(adapter === 'cordovaNativeStorage' ? JSON.parse(raw!) : raw, first.token);
        assert.equal(await page.evaluate((k) => localStorage.getItem(k), `hybrid-session:${api.url}`), null, 'not in localStorage itself');

        const posts = api.tokenRequests.POST;
        await page.reload();
        await waitForHarness(page);
        const second = await startWith(page, adapter);
        assert.equal(second.token, first.token);
        assert.equal(second.me.sid, first.me.sid);
        assert.equal(api.tokenRequests.POST, posts, 'no token request after the reload');

        await page.evaluate(() => session.logout());
        assert.equal(await stored(page, adapter), null, 'logout removed it');
      });
    });
  }

  for (const adapter of ['secureStorage', 'cordovaNativeStorage'] as const) {
    test(`${adapter}: a plugin that fails on every call moves the session to memory, and the app works`, async () => {
      await inFreshContext(browser, pages.url, async ({ open }) => {
        const page = await open(adapter, 'capacitor');
        await page.evaluate(() => void ((window as { pluginsFail?: boolean }).pluginsFail = true));
        const r = await startWith(page, adapter);
        assert.equal(r.storage, 'memory');
        assert.deepEqual(r.changes, [{ from: 'custom', to: 'memory', reason: 'error' }]);
        assert.equal(r.me.auth, `DPoP ${r.token}`);
      });
    });
  }
});
