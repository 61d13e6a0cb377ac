/**
 * The `revocation` option itself, in one process: its values checked at hybridSession(), its connection closed by
 * hs.close(), Redis being away at start never crashing anything, and the facade's Redis store wiring it by itself.
 * (What it does between processes is in revocation.test.ts and redis-outage.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createClient } from 'redis';
import { hybridSession, isHybridSessionError } from '../../src/server/index.ts';
import { createSocketStream } from '../../src/socketstream/index.ts';
import { noRedis } from '../helpers/env.ts';
import { close } from '../helpers/net.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { baseUrl } from '../socketstream/support.ts';
import { bearer, connect, inspector, newSecret, newToken, relay, until, within } from './support.ts';

const secret = newSecret();
const invalid = (error: unknown) => isHybridSessionError(error) && error.code === 'HS_ERR_INVALID_OPTIONS';

describe('revocation option values', () => {
  const nodeRedisLike = { isOpen: false, duplicate() {}, publish: async () => 0 };
  for (const [label, value, message] of [
    ['not an object', 'redis://127.0.0.1', /revocation` must be an object/],
    ['no client', {}, /revocation\.redis` must be a node-redis client/],
    ['an unknown key', { redis: nodeRedisLike, url: 'redis://x' }, /unknown option revocation\.url/],
    ['an ioredis client', { redis: { status: 'ready', duplicate() {}, publish() {}, scanStream() {} } }, /ioredis client was given/],
    ['a client without publish', { redis: { isOpen: true, duplicate() {} } }, /node-redis 4\+ client/],
    ['an empty channel', { redis: nodeRedisLike, channel: '' }, /channel` must be a non-empty string/],
  ] as const) {
    test(`refuses ${label} with HS_ERR_INVALID_OPTIONS`, () => {
      assert.throws(() => hybridSession({ secret, revocation: value as never }), (error: unknown) => invalid(error) && message.test((error as Error).message));
    });
  }
});

describe('revocation bus in one process', { skip: noRedis }, () => {
  let redis: RedisServer;
  let look: Awaited<ReturnType<typeof inspector>>;
  before(async () => {
    redis = await startRedis();
    look = await inspector(redis.url);
  });
  after(async () => {
    look?.close();
    await redis?.stop();
  });

  test('hs.close() unsubscribes and closes the bus connection, and leaves the app\'s client open', async () => {
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      const hs = hybridSession({ secret, revocation: { redis: client, channel: 'close-test' } });
      await until(async () => (await look.subscribers('close-test')) === 1, 5000, 'subscribed');
      await hs.close();
      assert.equal(await look.subscribers('close-test'), 0);
      assert.equal(client.isReady, true);
    } finally {
      client.destroy();
    }
  });

  test('Redis away at start: one warning, no crash; subscribed once Redis answers', async () => {
    const link = await relay(redis.port);
    await link.down();
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => {
      if (w.code === 'HS_REVOCATION_BUS') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    const client = createClient({ url: link.url, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => {});
    const connecting = client.connect().catch(() => {});
    let hs: ReturnType<typeof hybridSession> | undefined;
    try {
      hs = hybridSession({ secret, revocation: { redis: client, channel: 'late-test' } });
      await until(async () => warnings.length > 0, 5000, 'a warning');
      await new Promise((r) => setTimeout(r, 300)); // several failed reconnects: still one warning per outage
      assert.equal(warnings.length, 1);
      assert.doesNotMatch(warnings[0]!, /bearer|token/i);
      await link.up();
      await until(async () => (await look.subscribers('late-test')) === 1, 5000, 'subscribed after Redis came back');
      await connecting;
    } finally {
      process.off('warning', onWarning);
      await hs?.close();
      client.destroy();
      link.close();
    }
  });

  test("ss.session.store.use('redis', config) wires the bus: a DELETE on one facade closes the other's sockets", async () => {
    const apps: Array<{ ss: ReturnType<typeof createSocketStream>; server: Server }> = [];
    try {
      for (let i = 0; i < 2; i++) {
        const ss = createSocketStream({ secret });
        ss.session.store.use('redis', { url: redis.url, prefix: 'facade-bus:' });
        apps.push({ ss, server: await ss.start({ port: 0, host: '127.0.0.1' }) });
      }
      await until(async () => (await look.subscribers()) === 2, 5000, 'both facades subscribed');
      const [a, b] = apps.map(({ server }) => baseUrl(server)) as [string, string];
      const { token } = await newToken(a);
      const onB = connect(`${b.replace('http', 'ws')}/ws`, token);
      await within(onB.opened, 5000, 'handshake on B');
      assert.equal((await fetch(`${a}/session/token`, { method: 'DELETE', headers: bearer(token) })).status, 204);
      assert.equal((await within(onB.closed, 5000, 'socket on B')).code, 4401);
    } finally {
      for (const { ss, server } of apps) {
        await ss.stop();
        await close(server);
      }
    }
    assert.equal(await look.subscribers(), 0, 'ss.stop() closed both buses');
  });

  test('ss.session.store.use(new RedisStore({ client })) wires the bus from that store\'s client', async () => {
    const { RedisStore } = await import('connect-redis');
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    const ss = createSocketStream({ secret });
    ss.session.store.use(new RedisStore({ client, prefix: 'facade-own:' }));
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    try {
      await until(async () => (await look.subscribers()) === 1, 5000, 'the facade subscribed');
    } finally {
      await ss.stop();
      await close(server);
    }
    assert.equal(await look.subscribers(), 0, 'ss.stop() closed the bus');
    assert.equal(client.isReady, true, "the app's client is the app's to close");
    client.destroy();
  });
});
