/**
 * Store round trips per operation (issue 17), counted on the store's own methods: a session in use costs one read per
 * bearer request and one per handshake. The HTTP touch is throttled as a websocket's is (at most once per
 * touchInterval: it comes when it would move the stored expiry by that much), and the first use of a provisional
 * session writes from the read it already made. bench/redis-roundtrips.benchmark.mjs counts the same on the wire
 * against redis-server. Counts, not timings: every assertion holds at any machine speed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/server/index.ts';
import { connect, countingStore, getToken, startApp } from '../server/helpers.ts';

/** The default store, counting get / set / destroy / touch and its compare-and-set (update()'s write). */
function counted() {
  const store = countingStore(new MemoryStore());
  store.calls.compareAndSet = 0;
  const cas = store.compareAndSet.bind(store);
  store.compareAndSet = ((...args: Parameters<MemoryStore['compareAndSet']>) => {
    store.calls.compareAndSet!++;
    return cas(...args);
  }) as MemoryStore['compareAndSet'];
  return store;
}

const get = (store: MemoryStore, sid: string) => new Promise<any>((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
const set = (store: MemoryStore, sid: string, s: unknown) => new Promise<void>((resolve, reject) => store.set(sid, s as never, (err) => (err ? reject(err) : resolve())));

/** A test app on a fresh counted store, stopped (and the store's sweep closed) whatever the test does. */
async function withCountedApp(fn: (store: ReturnType<typeof counted>, app: Awaited<ReturnType<typeof startApp>>) => Promise<void>): Promise<void> {
  const store = counted();
  const app = await startApp({ store });
  try {
    await fn(store, app);
  } finally {
    await app.stop();
    store.close();
  }
}

async function bearerGet(url: string, token: string): Promise<string> {
  const res = await fetch(url + '/', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { sid: string }).sid;
}

describe('store round trips per operation', () => {
  test('a bearer request on a session in use reads the store once and touches it only when that moves its expiry by touchInterval', async () => {
    await withCountedApp(async (store, app) => {
      const { token } = await getToken(app.url);
      const sid = await bearerGet(app.url, token); // first use: promotes the provisional session (a write)
      store.reset();
      for (let i = 0; i < 10; i++) assert.equal(await bearerGet(app.url, token), sid);
      assert.deepEqual(store.calls, { get: 10, set: 0, destroy: 0, touch: 0, compareAndSet: 0 }, 'one read per request, the stored expiry is fresh');

      // The stored expiry lags a fresh one by more than touchInterval: the next request touches, once.
      const { touchInterval, maxAge } = app.hs.options;
      const stored = await get(store, sid);
      const lagging = Date.now() + maxAge - touchInterval - 60_000;
      stored.cookie.expires = new Date(lagging).toISOString();
      await set(store, sid, stored);
      store.reset();
      await bearerGet(app.url, token);
      await bearerGet(app.url, token);
      assert.deepEqual(store.calls, { get: 2, set: 0, destroy: 0, touch: 1, compareAndSet: 0 });
      const after = new Date((await get(store, sid)).cookie.expires).getTime();
      assert.ok(after >= lagging + touchInterval, 'the touch moved the stored expiry forward: the session keeps sliding');
    });
  });

  test('the first request of a provisional session writes from its one read (one compare-and-set, no second read, no touch)', async () => {
    await withCountedApp(async (store, app) => {
      const { token } = await getToken(app.url);
      store.reset();
      await bearerGet(app.url, token);
      assert.deepEqual(store.calls, { get: 1, set: 0, destroy: 0, touch: 0, compareAndSet: 1 });
    });
  });

  test('a handshake on a session in use reads the store once and writes nothing', async () => {
    await withCountedApp(async (store, app) => {
      const { token } = await getToken(app.url);
      await bearerGet(app.url, token);
      store.reset();
      for (let i = 0; i < 5; i++) {
        const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
        await c.opened;
        c.ws.close();
        await c.closed;
      }
      assert.deepEqual(store.calls, { get: 5, set: 0, destroy: 0, touch: 0, compareAndSet: 0 });
    });
  });
});
