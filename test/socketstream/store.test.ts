import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { createClient } from 'redis';
import { buildStore, chooseStore } from '../../src/socketstream/store.ts';
import { isHybridSessionError } from '../../src/shared/errors.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { freePort } from '../helpers/net.ts';

const quiet = () => {};

describe("ss.session.store.use(): what it accepts", () => {
  test("'memory', 'redis' with each documented config shape, and any express-session Store", () => {
    assert.deepEqual(chooseStore('memory'), { kind: 'memory' });
    assert.deepEqual(chooseStore('redis'), { kind: 'redis', config: {} });
    assert.deepEqual(chooseStore('redis', { port: 1234 }), { kind: 'redis', config: { port: 1234 } });
    assert.deepEqual(chooseStore('redis', { url: 'redis://127.0.0.1:1234', prefix: 'app:' }).kind, 'redis');
    assert.deepEqual(chooseStore('redis', { host: 'h', port: 1, password: 'p', db: 2 }).kind, 'redis');
    const store = new session.MemoryStore();
    assert.deepEqual(chooseStore(store), { kind: 'instance', store });
  });

  test('unknown stores and options are refused by name', () => {
    assert.throws(() => chooseStore('mongo'), /unknown store/);
    assert.throws(() => chooseStore('redis', { hots: 'x' }), /unknown option "hots"/);
    assert.throws(() => chooseStore('redis', { port: 'x' }), /port/);
    assert.throws(() => chooseStore('redis', { url: 'http://x' }), /redis:\/\//);
    assert.throws(() => chooseStore(42), /'memory', 'redis'/);
  });

  test('an ioredis-style client is refused with a clear error (connect-redis 9 loses its TTL silently)', () => {
    // The shape ioredis instances have: status string, scanStream, no isOpen.
    class Redis {
      status = 'ready';
      options = {};
      scanStream() {}
      get() {}
      set() {}
    }
    assert.throws(() => chooseStore('redis', { client: new Redis() }), (e: unknown) => {
      assert.ok(isHybridSessionError(e));
      assert.equal(e.code, 'HS_ERR_INVALID_OPTIONS');
      assert.match(e.message, /ioredis/);
      assert.match(e.message, /createClient/);
      return true;
    });
    assert.throws(() => chooseStore('redis', { client: { get() {}, set() {} } }), /node-redis/);
  });

  test('a node-redis client is accepted, with only prefix beside it', () => {
    const client = createClient();
    assert.equal(chooseStore('redis', { client, prefix: 'x:' }).kind, 'redis');
    assert.throws(() => chooseStore('redis', { client, port: 1 }), /only prefix/);
  });
});

describe('the Redis store, against a real redis-server', { skip: noRedis }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test("{port}: sessions land under connect-redis's prefix with a TTL from maxAge", async () => {
    const built = await buildStore(chooseStore('redis', { port: redis.port }), 90_000, quiet);
    try {
      await built.ready;
      await new Promise<void>((resolve, reject) => built.store!.set('abc', { cookie: {} } as never, (e) => (e ? reject(e) : resolve())));
      const probe = createClient({ url: redis.url });
      await probe.connect();
      try {
        assert.ok(await probe.get('sess:abc'));
        const ttl = await probe.ttl('sess:abc');
        assert.ok(ttl > 80 && ttl <= 90, `ttl ${ttl}`);
      } finally {
        await probe.close();
      }
    } finally {
      await built.close();
    }
  });

  test('{url, prefix} and {client}: the given client is used and left open', async () => {
    const byUrl = await buildStore(chooseStore('redis', { url: redis.url, prefix: 'app:' }), 60_000, quiet);
    await byUrl.ready;
    await new Promise<void>((resolve, reject) => byUrl.store!.set('k1', { cookie: {} } as never, (e) => (e ? reject(e) : resolve())));
    await byUrl.close();

    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const byClient = await buildStore(chooseStore('redis', { client, prefix: 'app:' }), 60_000, quiet);
      await byClient.ready;
      const got = await new Promise((resolve, reject) => byClient.store!.get('k1', (e, s) => (e ? reject(e) : resolve(s))));
      assert.deepEqual(got, { cookie: {} });
      await byClient.close();
      assert.equal(client.isOpen, true, 'a client the app passed in is the app\'s to close');
    } finally {
      await client.close();
    }
  });

  test('compareAndSet (added for update()): writes only over the expected version, keeps the TTL rule', async () => {
    const built = await buildStore(chooseStore('redis', { port: redis.port, prefix: 'cas:' }), 120_000, quiet);
    await built.ready;
    const store = built.store as unknown as {
      compareAndSet(sid: string, expected: number, sess: object, cb: (e: unknown, ok?: boolean) => void): void;
      set(sid: string, sess: object, cb: (e?: unknown) => void): void;
    };
    const cas = (expected: number, sess: object) =>
      new Promise<boolean>((resolve, reject) => store.compareAndSet('s1', expected, sess, (e, ok) => (e ? reject(e) : resolve(ok!))));
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      assert.equal(await cas(0, { cookie: {}, n: 1, __hs: { v: 1 } }), false, 'no session: nothing to compare against');
      await new Promise<void>((resolve, reject) => store.set('s1', { cookie: {}, n: 0 }, (e) => (e ? reject(e) : resolve())));
      assert.equal(await cas(0, { cookie: {}, n: 1, __hs: { v: 1 } }), true);
      assert.equal(await cas(0, { cookie: {}, n: 2, __hs: { v: 1 } }), false, 'a stale version loses');
      assert.equal(await cas(1, { cookie: {}, n: 2, __hs: { v: 2 } }), true);
      assert.deepEqual(JSON.parse((await probe.get('cas:s1'))!), { cookie: {}, n: 2, __hs: { v: 2 } });
      const ttl = await probe.ttl('cas:s1');
      assert.ok(ttl > 100 && ttl <= 120, `ttl ${ttl}`);
      const expires = new Date(Date.now() + 30_000).toISOString();
      assert.equal(await cas(2, { cookie: { expires }, n: 3, __hs: { v: 3 } }), true);
      const ttl2 = await probe.ttl('cas:s1');
      assert.ok(ttl2 > 20 && ttl2 <= 30, `ttl from cookie.expires ${ttl2}`);
    } finally {
      await probe.close();
      await built.close();
    }
  });

  test('no redis listening: ready rejects with HS_ERR_STORE_UNAVAILABLE after connectTimeout, not a hang', async () => {
    const port = await freePort();
    const built = await buildStore(chooseStore('redis', { port, connectTimeout: 300 }), 60_000, quiet);
    await assert.rejects(built.ready, (e: unknown) => {
      assert.ok(isHybridSessionError(e));
      assert.equal(e.code, 'HS_ERR_STORE_UNAVAILABLE');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    await built.close();
  });
});
