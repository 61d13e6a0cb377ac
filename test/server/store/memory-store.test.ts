import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../src/server/index.ts';

function call<T>(fn: (cb: (err: unknown, v?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}
const sess = (ms: number | null, extra: object = {}) => ({ cookie: { originalMaxAge: ms, expires: ms === null ? null : new Date(Date.now() + ms).toISOString() }, ...extra });

describe('default memory store', () => {
  test('express-session Store API: get / set / destroy / touch / all / length / clear', async () => {
    const store = new MemoryStore();
    try {
      await call((cb) => store.set('a', sess(60_000, { n: 1 }) as never, cb));
      assert.equal(((await call((cb) => store.get('a', cb as never))) as any).n, 1);
      assert.equal(await call((cb) => store.length(cb as never)), 1);
      assert.deepEqual(Object.keys((await call((cb) => store.all(cb as never))) as object), ['a']);
      const later = sess(120_000);
      await call((cb) => store.touch('a', later as never, cb));
      const touched = (await call((cb) => store.get('a', cb as never))) as any;
      assert.equal(touched.cookie.expires, later.cookie.expires);
      assert.equal(touched.n, 1, 'touch keeps the data');
      await call((cb) => store.destroy('a', cb));
      assert.equal(await call((cb) => store.get('a', cb as never)), null);
      await call((cb) => store.set('b', sess(60_000) as never, cb));
      await call((cb) => store.clear(cb));
      assert.equal(await call((cb) => store.length(cb as never)), 0);
    } finally {
      store.close();
    }
  });

  test('bounded: past max, the least recently active session is evicted first', async () => {
    const store = new MemoryStore({ max: 3 });
    const evicted: string[] = [];
    store.on('evicted', (sid) => evicted.push(sid));
    try {
      for (const id of ['s1', 's2', 's3']) await call((cb) => store.set(id, sess(60_000) as never, cb));
      await call((cb) => store.touch('s1', sess(60_000) as never, cb)); // s1 active again: s2 is now the oldest
      await call((cb) => store.set('s4', sess(60_000) as never, cb));
      assert.deepEqual(evicted, ['s2']);
      assert.equal(await call((cb) => store.get('s2', cb as never)), null);
      for (const id of ['s1', 's3', 's4']) assert.ok(await call((cb) => store.get(id, cb as never)), id);
      for (let i = 0; i < 100; i++) await call((cb) => store.set(`x${i}`, sess(60_000) as never, cb));
      assert.equal(await call((cb) => store.length(cb as never)), 3);
    } finally {
      store.close();
    }
  });

  test('expires sessions on its timer, not only when read', async () => {
    const store = new MemoryStore({ checkPeriod: 50 });
    const expired: string[] = [];
    store.on('expired', (sid) => expired.push(sid));
    try {
      await call((cb) => store.set('short', sess(100) as never, cb));
      await call((cb) => store.set('long', sess(60_000) as never, cb));
      await call((cb) => store.set('forever', sess(null) as never, cb));
      const deadline = Date.now() + 5_000;
      while (!expired.includes('short') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(expired, ['short'], 'swept without any read');
      assert.equal(await call((cb) => store.length(cb as never)), 2);
    } finally {
      store.close();
    }
  });

  test('its timer does not keep the process alive', async () => {
    const store = new MemoryStore({ checkPeriod: 10 });
    const timer = (store as unknown as { timer: NodeJS.Timeout }).timer;
    assert.equal(timer.hasRef(), false);
    store.close();
  });

  test('compareAndSet writes only over the expected version, never over a missing session', async () => {
    const store = new MemoryStore();
    try {
      await call((cb) => store.set('a', sess(60_000, { n: 1 }) as never, cb));
      assert.equal(await call((cb) => store.compareAndSet('a', 0, sess(60_000, { n: 2, __hs: { v: 1 } }) as never, cb)), true);
      assert.equal(await call((cb) => store.compareAndSet('a', 0, sess(60_000, { n: 3, __hs: { v: 1 } }) as never, cb)), false);
      assert.equal(((await call((cb) => store.get('a', cb as never))) as any).n, 2);
      assert.equal(await call((cb) => store.compareAndSet('missing', 0, sess(60_000) as never, cb)), false);
      assert.equal(await call((cb) => store.get('missing', cb as never)), null);
    } finally {
      store.close();
    }
  });

  test('rejects a bad bound', () => {
    assert.throws(() => new MemoryStore({ max: 0 }), TypeError);
    assert.throws(() => new MemoryStore({ checkPeriod: -1 }), TypeError);
  });
});
