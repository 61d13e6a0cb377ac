// update() stays atomic across processes on the Redis store the facade builds (connect-redis has no compare-and-set;
// the facade adds one). Two facades on one redis-server stand for two processes: each has its own lock, so only the
// store can keep their concurrent increments from overwriting each other (SocketStream's issues #337 / #259).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import { createSocketStream } from '../../src/socketstream/index.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { close } from '../helpers/net.ts';
import { baseUrl, bearer, getToken, RpcClient } from './support.ts';

const PER_SIDE = 25;

describe('update() across two processes sharing redis', { skip: noRedis }, () => {
  let redis: RedisServer;
  const secret = crypto.randomBytes(32).toString('hex');
  const apps: Array<{ ss: ReturnType<typeof createSocketStream>; server: Server }> = [];

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      const ss = createSocketStream({ secret });
      ss.session.store.use('redis', { url: redis.url, prefix: 'shared:' });
      ss.http.route('/inc', async function (req: any, res: any) {
        await req.session.update((s: any) => {
          s.n = (s.n ?? 0) + 1;
        });
        res.end(String(req.session.n));
      });
      ss.rpc.actions('app', function (req: any, res: any) {
        req.use('session');
        return {
          n() {
            res(req.session.n ?? 0);
          },
        };
      });
      apps.push({ ss, server: await ss.start({ port: 0, host: '127.0.0.1' }) });
    }
  });
  after(async () => {
    for (const { ss, server } of apps) {
      await ss.stop();
      await close(server);
    }
    await redis?.stop();
  });

  test(`${PER_SIDE} concurrent increments through each process all land`, async () => {
    const [a, b] = apps.map(({ server }) => baseUrl(server)) as [string, string];
    const { token } = await getToken(a);
    const calls: Promise<Response>[] = [];
    for (let i = 0; i < PER_SIDE; i++) {
      calls.push(fetch(`${a}/inc`, { headers: bearer(token) }), fetch(`${b}/inc`, { headers: bearer(token) }));
    }
    const statuses = (await Promise.all(calls)).map((r) => r.status);
    assert.deepEqual([...new Set(statuses)], [200]);
    // Read back over a websocket of the other process: the token of one is the session of both.
    const rpc = await RpcClient.open(b, token);
    try {
      assert.equal((await rpc.call('app.n')).result, PER_SIDE * 2);
    } finally {
      await rpc.close();
    }
  });
});
