/**
 * A store that stops answering (a network partition with no reset: no error, no callback, ever) must not hold
 * requests and handshakes forever: after `storeTimeout` they fail as unavailable (503 / 1011), the app's other
 * routes keep working, and service resumes when the store answers again.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { hybridSession } from '../../../src/server/index.ts';
import { isHybridSessionError } from '../../../src/shared/errors.ts';
import { BEARER_PREFIX, SUBPROTOCOL } from '../../../src/shared/protocol.ts';
import { connect, getToken, SECRET, startApp } from '../helpers.ts';

/** A MemoryStore that can be told to swallow every call (no callback), as a partitioned network store does. */
class PartitionedStore extends session.MemoryStore {
  hanging = false;
  swallowed = 0;
  constructor() {
    super();
    for (const name of ['get', 'set', 'destroy', 'touch'] as const) {
      const real = (this as unknown as Record<string, Function>)[name]!.bind(this);
      (this as unknown as Record<string, Function>)[name] = (...args: unknown[]) => {
        if (!this.hanging) return real(...args);
        this.swallowed++;
      };
    }
  }
}

describe('storeTimeout: a store that never answers', { timeout: 30_000 }, () => {
  test('HTTP by token and by cookie, the token endpoint and a handshake fail as unavailable after the timeout; then recover', async () => {
    const store = new PartitionedStore();
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    const app = await startApp({ store, storeTimeout: 150 });
    try {
      const t = await getToken(app.url);
      store.hanging = true;

      const byToken = await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(byToken.status, 503);
      assert.equal(((await byToken.json()) as any).error, 'HS_ERR_STORE_UNAVAILABLE');
      assert.equal((await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).status, 503);
      assert.equal((await fetch(app.url + '/session/token', { method: 'POST', headers: { cookie: t.cookie! } })).status, 503);
      const ws = connect(app.wsUrl, [SUBPROTOCOL, BEARER_PREFIX + t.token]);
      assert.equal((await ws.closed).code, 1011);
      assert.ok(store.swallowed >= 4, `every path reached the store (${store.swallowed} calls swallowed)`);

      store.hanging = false;
      const back = await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(back.status, 200, 'the same session, once the store answers again');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', record);
      await app.stop();
    }
  });

  test('hs.sessionOf(ws).load() and update() reject with HS_ERR_STORE_UNAVAILABLE instead of hanging', async () => {
    const store = new PartitionedStore();
    const app = await startApp({ store, storeTimeout: 100 });
    try {
      const t = await getToken(app.url);
      const ws = connect(app.wsUrl, [SUBPROTOCOL, BEARER_PREFIX + t.token]);
      await ws.opened;
      const server = [...app.wss.clients][0]!;
      store.hanging = true;
      const handle = app.hs.sessionOf(server);
      await assert.rejects(handle.load(), (e: unknown) => isHybridSessionError(e) && e.code === 'HS_ERR_STORE_UNAVAILABLE');
      await assert.rejects(
        handle.update((s: any) => {
          s.n = 1;
        }),
        (e: unknown) => isHybridSessionError(e) && e.code === 'HS_ERR_STORE_UNAVAILABLE',
      );
      store.hanging = false;
      ws.ws.close();
    } finally {
      await app.stop();
    }
  });

  test('0 (wait as long as the store takes) is accepted; a bad value is refused by name', async () => {
    await hybridSession({ secret: SECRET, store: new session.MemoryStore(), storeTimeout: 0 }).close();
    for (const bad of [-1, 'soon', Number.NaN]) {
      assert.throws(
        () => hybridSession({ secret: SECRET, storeTimeout: bad as never }),
        (e: unknown) => isHybridSessionError(e) && e.code === 'HS_ERR_INVALID_OPTIONS' && /storeTimeout/.test(e.message),
      );
    }
  });
});
