/**
 * Any express-session Store works unchanged: connect-redis on a real redis-server (started here, stopped by pid).
 * A Redis that goes away is reported as unavailable (503 / close 1011), never read as "no session".
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { noRedis } from '../../helpers/env.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { ask, connect, getToken, startApp } from '../helpers.ts';

describe('connect-redis store', { skip: noRedis }, () => {
  test('cookie, bearer and websocket reach one session; update() exact; Redis down → 503 and 1011; back up → works', async () => {
    const redis = await startRedis();
    // disableOfflineQueue: while Redis is away commands fail at once instead of waiting in a queue
    const client = createClient({ url: redis.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => {});
    await client.connect();
    const store = new RedisStore({ client, prefix: 'hs-test:' });
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      await fetch(app.url + '/set?fruit=pear', { headers: { authorization: `Bearer ${t.token}` } });
      const viaCookie = (await (await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).json()) as any;
      assert.equal(viaCookie.data.fruit, 'pear');
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await c.opened;
      assert.equal((await ask(c.ws, { op: 'get' })).data.fruit, 'pear');
      await Promise.all([
        ...Array.from({ length: 5 }, async () => {
          for (let i = 0; i < 20; i++) await (await fetch(app.url + '/incr', { headers: { cookie: t.cookie! } })).arrayBuffer();
        }),
        (async () => {
          for (let i = 0; i < 50; i++) await ask(c.ws, { op: 'incr' });
        })(),
      ]);
      assert.equal(((await (await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).json()) as any).data.count, 150);
      c.ws.close();

      await redis.stop();
      const down = await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(down.status, 503);
      assert.equal(((await down.json()) as any).error, 'HS_ERR_STORE_UNAVAILABLE');
      assert.equal((await fetch(app.url + '/session/token', { method: 'POST', headers: { cookie: t.cookie! } })).status, 503);
      const ws = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      assert.equal((await ws.closed).code, 1011);

      await redis.restart(); // empty: the session is gone, and says so
      const deadline = Date.now() + 10_000;
      while (!client.isReady && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
      assert.equal((await getToken(app.url, { headers: { authorization: `Bearer ${t.token}` } })).created, true);
    } finally {
      await app.stop();
      client.destroy();
      await redis.stop();
    }
  });
});
