/** Storage fallback in Node: what throws, hangs or is missing degrades along the chain, with `storage` events, never an exception. */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSession } from '../../src/client/index.ts';
import type { StorageChange } from '../../src/client/events.ts';
import { API, mapStorage, mswServer, nextEvent, tokenEndpoint, uniqueKey } from './support.ts';
import { http, HttpResponse } from 'msw';

const server = mswServer();
after(() => server.close());
afterEach(() => {
  server.resetHandlers();
  delete (globalThis as { localStorage?: unknown }).localStorage;
});

/** A localStorage stand-in (Node 20 has none), optionally throwing like Safari's private mode. */
function fakeLocalStorage(throwOnSet = false) {
  const map = new Map<string, string>();
  const ls = {
    map,
    getItem: (k: string) => map.get(k) ?? null,
    setItem(k: string, v: string) {
      if (throwOnSet) throw new DOMException('quota', 'QuotaExceededError');
      map.set(k, String(v));
    },
    removeItem: (k: string) => void map.delete(k),
  };
  (globalThis as { localStorage?: unknown }).localStorage = ls;
  return ls;
}

function collect(s: ReturnType<typeof createSession>) {
  const changes: StorageChange[] = [];
  s.on('storage', (c) => changes.push(c));
  return changes;
}

describe('storage fallback', () => {
  test("'auto' without IndexedDB or localStorage ends in memory, each step reported after createSession returned", async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    let sync = true;
    let early = false;
    const s = createSession({ url: API, key: uniqueKey() });
    s.on('storage', () => (early ||= sync));
    sync = false;
    const changes = collect(s);
    assert.equal(await s.ready(), 'v1.tok1');
    assert.equal(early, false, 'no storage event inside createSession()');
    assert.deepEqual(
      changes.map(({ from, to, reason }) => [from, to, reason]),
      [
        ['indexedDB', 'localStorage', 'error'],
        ['localStorage', 'memory', 'error'],
      ],
    );
    assert.ok(changes[0].error instanceof Error);
    assert.equal(s.storage, 'memory');
  });

  test("'auto' without IndexedDB uses localStorage, and a server hint of 'memory' moves the token out of it", async () => {
    const ls = fakeLocalStorage();
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const s = createSession({ url: API, key });
    const changes = collect(s);
    // tokenEndpoint hints 'memory'
    assert.equal(await s.ready(), 'v1.tok1');
    assert.deepEqual(
      changes.map(({ from, to, reason }) => [from, to, reason]),
      [
        ['indexedDB', 'localStorage', 'error'],
        ['localStorage', 'memory', 'hint'],
      ],
    );
    assert.equal(s.storage, 'memory');
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(ls.map.get(key), undefined, 'nothing left in localStorage');
  });

  test("a hint of 'localStorage' is followed in 'auto' and ignored for an explicit choice", async () => {
    const ls = fakeLocalStorage();
    server.use(http.post(`${API}/session/token`, () => HttpResponse.json({ token: 'v1.h', expiresAt: Date.now() + 1e6, storage: 'localStorage', created: true })));
    const key = uniqueKey();
    const auto = createSession({ url: API, key });
    await auto.ready();
    assert.equal(auto.storage, 'localStorage');
    assert.equal(ls.map.get(key), 'v1.h');
    const explicit = createSession({ url: API, key: uniqueKey(), storage: 'memory' });
    await explicit.ready();
    assert.equal(explicit.storage, 'memory');
  });

  test("'localStorage' that throws on write (private mode) falls back to memory; the app keeps its token", async () => {
    fakeLocalStorage(true);
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const s = createSession({ url: API, key: uniqueKey(), storage: 'localStorage' });
    const change = nextEvent(s, 'storage');
    assert.equal(await s.ready(), 'v1.tok1');
    const { from, to, reason, error } = await change;
    assert.deepEqual([from, to, reason], ['localStorage', 'memory', 'error']);
    assert.equal(error?.code, 'HS_ERR_STORAGE');
    assert.equal((error?.cause as DOMException).name, 'QuotaExceededError');
    assert.equal(s.storage, 'memory');
  });

  test('a custom storage that hangs times out to memory (reason timeout)', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const never = () => new Promise<never>(() => {});
    const s = createSession({ url: API, key: uniqueKey(), storage: { get: never, set: never, del: never } });
    const change = nextEvent(s, 'storage');
    assert.equal(await s.ready(), 'v1.tok1');
    const { error, ...rest } = await change;
    assert.deepEqual(rest, { from: 'custom', to: 'memory', reason: 'timeout' });
    assert.equal(error?.code, 'HS_ERR_STORAGE');
  });

  test('a custom storage that starts failing later: the token is carried over to memory, nothing thrown', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const storage = mapStorage();
    const s = createSession({ url: API, key: uniqueKey(), storage });
    assert.equal(await s.ready(), 'v1.tok1');
    storage.set = () => Promise.reject(new Error('keychain locked'));
    const change = nextEvent(s, 'storage');
    assert.equal(await s.renew(), 'v1.tok2');
    const c = await change;
    assert.deepEqual([c.from, c.to, c.error?.code, (c.error?.cause as Error).message], ['custom', 'memory', 'HS_ERR_STORAGE', 'keychain locked']);
    assert.equal(s.token, 'v1.tok2');
    assert.equal(s.storage, 'memory');
  });

  test('sync custom storages work too (values, not promises)', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const map = new Map([[key, 'v1.sync']]);
    const s = createSession({
      url: API,
      key,
      storage: { get: (k) => map.get(k), set: (k, v) => void map.set(k, v), del: (k) => void map.delete(k) },
    });
    assert.equal(await s.ready(), 'v1.sync');
    assert.equal(s.storage, 'custom');
    assert.equal(endpoint.state.posts, 0);
  });
});
