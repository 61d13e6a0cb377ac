/**
 * DESIGN "One version rule": what the library keeps in a session lives under `__hs`, read through one function;
 * a value the app or a client planted there (or under the old `__hsVersion` key) is replaced, never trusted, and
 * cannot make update() fail or loop — on the default store, express-session's MemoryStore and connect-redis.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { MemoryStore, VERSION_KEY } from '../../../src/server/index.ts';
import { META_KEY, nextVersion, readMeta, versionOf, writeMeta } from '../../../src/server/store/session-meta.ts';
import { noRedis } from '../../helpers/env.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { SECRET, defaultHandler, getToken, startApp } from '../helpers.ts';

/** What a client can get into a session when the app copies request fields into it. */
const PLANTED: unknown[] = [-1, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER, '3', 'x', true, null, [1, 2], {}, { v: -1 }, { v: 1.5 }, { v: 2 ** 53 }, { v: '7' }, { v: [1] }, { v: null }, { v: 12 }, { v: Number.MAX_SAFE_INTEGER }];

describe('session-meta: the one reader of __hs', () => {
  test('a version is a non-negative safe integer, anything else reads as 0', () => {
    assert.equal(versionOf({ [META_KEY]: { v: 5 } }), 5);
    for (const v of [-1, 1.5, 2 ** 53, '3', null, [], {}, NaN, Infinity]) assert.equal(versionOf({ [META_KEY]: { v } }), 0, String(v));
    for (const raw of [-1, 1.5, 2 ** 53, 'x', null, [1], true]) assert.equal(versionOf({ [META_KEY]: raw }), 0, JSON.stringify(raw));
    assert.equal(versionOf({ __hsVersion: 9 }), 0, 'the old key is app data now');
    assert.equal(versionOf(null), 0);
    assert.equal(versionOf({ get [META_KEY]() { throw new Error('planted getter'); } }), 0);
  });

  test('other fields are validated too; writeMeta replaces the whole object', () => {
    assert.deepEqual(readMeta({ [META_KEY]: { v: 1, gen: 2, provisional: true, jkt: 'a'.repeat(43), extra: 'x' } }), { v: 1, gen: 2, provisional: true, jkt: 'a'.repeat(43) });
    assert.deepEqual(readMeta({ [META_KEY]: { v: 1, gen: -2, provisional: 'yes', jkt: 'short' } }), { v: 1 });
    const sess: Record<string, unknown> = { [META_KEY]: { v: 3, evil: { deep: true } } };
    writeMeta(sess, { v: 4 });
    assert.deepEqual(sess[META_KEY], { v: 4 });
  });

  test('the next version never leaves the valid range', () => {
    assert.equal(nextVersion(0), 1);
    assert.equal(nextVersion(Number.MAX_SAFE_INTEGER), 0);
    assert.equal(nextVersion(-1), 0);
  });

  test('VERSION_KEY (public) names the key the library owns', () => {
    assert.equal(VERSION_KEY, META_KEY);
  });
});

/** An app that copies the client's JSON into its session (`/plant?key=…&value=…`), then update()s it. */
async function plantThenUpdate(store: session.Store): Promise<void> {
  const app = await startApp({ store }, async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/plant') req.session[url.searchParams.get('key')!] = JSON.parse(url.searchParams.get('value')!);
    return defaultHandler(req, res);
  });
  try {
    const { token } = await getToken(app.url);
    const auth = { authorization: `Bearer ${token}` };
    let expected = 0;
    for (const key of ['__hsVersion', META_KEY]) {
      for (const value of PLANTED) {
        const label = `${key} = ${JSON.stringify(value)}`;
        const planted = await fetch(`${app.url}/plant?key=${key}&value=${encodeURIComponent(JSON.stringify(value))}`, { headers: auth });
        assert.equal(planted.status, 200, label);
        await planted.arrayBuffer();
        const res = await fetch(app.url + '/incr', { headers: auth });
        const body = (await res.json()) as { data: Record<string, unknown> };
        assert.equal(res.status, 200, `${label}: ${JSON.stringify(body)}`);
        expected++;
        assert.equal(body.data.count, expected, label);
        const meta = body.data[META_KEY] as Record<string, unknown>;
        // only fields the library writes (the version, the token's rotation record), nothing planted merged in
        const known = new Set(['v', 'gen', 'rotatedAt', 'tokenExp', 'used']);
        assert.ok(Object.keys(meta).includes('v') && Object.keys(meta).every((k) => known.has(k)), `${label}: the planted object is replaced, not merged: ${Object.keys(meta)}`);
        assert.ok(Number.isSafeInteger(meta.v) && (meta.v as number) >= 0, label);
      }
    }
  } finally {
    await app.stop();
  }
}

describe('planted __hs / __hsVersion values cannot wedge update()', () => {
  test('the default store', { timeout: 120_000 }, async () => {
    const store = new MemoryStore();
    try {
      await plantThenUpdate(store);
    } finally {
      store.close();
    }
  });

  test("express-session's MemoryStore (per-session lock, no compare-and-set)", { timeout: 120_000 }, async () => {
    await plantThenUpdate(new session.MemoryStore());
  });

  test('connect-redis on a real redis-server (the Lua compare-and-set applies the same rule)', { skip: noRedis, timeout: 120_000 }, async () => {
    const redis = await startRedis();
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      await plantThenUpdate(new RedisStore({ client, prefix: 'meta:' }));
      // Values planted in Redis directly (another app sharing the store, a hand edit): the script reads them as 0.
      const store = new RedisStore({ client, prefix: 'raw:' });
      const { hybridSession } = await import('../../../src/server/index.ts');
      hybridSession({ secret: SECRET, store }).close(); // adds compareAndSet to the store
      const cas = (sid: string, expected: number, sess: object) =>
        new Promise<boolean>((resolve, reject) =>
          (store as unknown as { compareAndSet: Function }).compareAndSet(sid, expected, sess, (e: unknown, ok?: boolean) => (e ? reject(e) : resolve(ok!))),
        );
      for (const raw of ['-1', '1.5', String(2 ** 53), '"3"', '{"v":-1}', '{"v":1.5}', '{"v":9007199254740992}', '{"v":"3"}', '[]', 'null', '{"v":{}}']) {
        await client.set('raw:s', `{"cookie":{},"${META_KEY}":${raw}}`);
        assert.equal(await cas('s', 0, { cookie: {}, [META_KEY]: { v: 1 } }), true, `stored ${raw} reads as version 0`);
        assert.equal(await cas('s', 0, { cookie: {}, [META_KEY]: { v: 1 } }), false, 'and the write it allowed is version 1');
      }
      await client.set('raw:s', `{"cookie":{},"${META_KEY}":{"v":9007199254740991}}`);
      assert.equal(await cas('s', Number.MAX_SAFE_INTEGER, { cookie: {}, [META_KEY]: { v: 0 } }), true, 'the largest safe version compares exactly');
    } finally {
      client.destroy();
      await redis.stop();
    }
  });
});
