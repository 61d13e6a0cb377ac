/**
 * A connect-redis store handed to hybridSession() gets an atomic compare-and-set (Lua) by itself, so update() is exact
 * across instances that share Redis, each with its own per-process lock; one it cannot read (own serializer) is
 * named in a warning instead of silently losing writes across processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { createServer, type Server } from 'node:http';
import { hybridSession } from '../../src/server/index.ts';
import { close, listen } from '../helpers/net.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { newSecret } from './support.ts';

describe('compare-and-set on a connect-redis store', { skip: noRedis }, () => {
  let redis: RedisServer;
  let client: ReturnType<typeof createClient>;
  const secret = newSecret();
  before(async () => {
    redis = await startRedis();
    client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
  });
  after(async () => {
    client?.destroy();
    await redis?.stop();
  });

  test('two instances (two locks) on one Redis: 2 × 100 concurrent update()s all land', async () => {
    const servers: Server[] = [];
    const hss = [0, 1].map(() => hybridSession({ secret, store: new RedisStore({ client, prefix: 'cas:' }) }));
    try {
      const urls: string[] = [];
      for (const hs of hss) {
        assert.equal(typeof (hs.store as unknown as { compareAndSet?: unknown }).compareAndSet, 'function');
        const server = createServer((req, res) =>
          hs.middleware(req, res, async () => {
            const saved = await (req as any).session.update((s: any) => void (s.n = (s.n ?? 0) + 1));
            res.end(String(saved.n));
          }),
        );
        servers.push(server);
        urls.push(await listen(server));
      }
      const { token } = (await (await fetch(`${urls[0]}/session/token`, { method: 'POST' })).json()) as { token: string };
      const headers = { authorization: `Bearer ${token}` };
      const statuses = await Promise.all(
        Array.from({ length: 100 }, () => urls.map(async (url) => (await fetch(`${url}/n`, { headers })).status)).flat(),
      );
      assert.deepEqual([...new Set(statuses)], [200]);
      assert.equal(await (await fetch(`${urls[1]}/n`, { headers })).text(), '201');
      const [key] = await client.keys('cas:*');
      assert.ok(Number(await client.ttl(key!)) > 0, 'the TTL follows the cookie, as connect-redis sets it');
    } finally {
      for (const server of servers) await close(server);
      await Promise.all(hss.map((hs) => hs.close()));
    }
  });

  test('a connect-redis store with its own serializer is named in a warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => void (w.code === 'HS_NO_COMPARE_AND_SET' && warnings.push(w.message));
    process.on('warning', onWarning);
    try {
      const store = new RedisStore({ client, prefix: 'cas2:', serializer: { stringify: JSON.stringify, parse: JSON.parse } });
      const hs = hybridSession({ secret, store });
      await new Promise((r) => setImmediate(r));
      assert.equal((store as unknown as { compareAndSet?: unknown }).compareAndSet, undefined);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /exact within one process/);
      await hs.close();
    } finally {
      process.off('warning', onWarning);
    }
  });
});
