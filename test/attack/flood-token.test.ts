/**
 * Token-endpoint floods (DESIGN "Provisional sessions"). Every credential-less POST tokenPath makes a session: that
 * is how a new client starts, so a flood of them cannot be refused by the library (rate-limit it at the edge, see
 * SECURITY.md). What the library promises is that such a flood costs only itself:
 *   - a session made without any credential is provisional until something other than the token endpoint uses it;
 *     it lives provisionalMaxAge (15 min) instead of maxAge (30 days);
 *   - the memory store evicts provisional sessions before any used one, so 100,000 requests at full speed against
 *     MemoryStore({ max: 1000 }) evict no used session — whatever the flood's rate, and however idle the users
 *     are (the old test needed an active user to outrun the flood: it was flaky for exactly that reason);
 *   - on Redis (connect-redis takes the key's TTL from cookie.expires) the flood's keys expire in ≤ provisionalMaxAge,
 *     used sessions keep maxAge.
 * With a valid cookie or token, the same flood is renewals of one session: no session is made.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { MemoryStore } from '../../src/server/index.ts';
import { DEFAULT_MAX_AGE, DEFAULT_PROVISIONAL_MAX_AGE } from '../../src/server/options.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { startApp, type TestApp } from '../server/helpers.ts';
import { connections, flood, heapAfterGc, recordUnhandled, send, setCookiePair, storeLength, waitFor, type Reply } from './support.ts';

/**
 * 100x the store, as the issue asks. About 0.25 ms of server CPU a request (the flood client speaks raw keep-alive
 * HTTP so its own cost stays small beside it): tens of seconds on an idle 2-core machine, a few minutes under load.
 * FLOOD_REQUESTS=20000 for a quicker local run.
 */
const REQUESTS = Number(process.env.FLOOD_REQUESTS ?? 100_000);
const RENEWALS = 4_000;
const CONCURRENCY = 50;
const HEAP_SLACK = 24 * 1024 * 1024;
const mib = (n: number) => (n / 2 ** 20).toFixed(1);

interface User {
  token: string;
  cookie: string;
  sid: string;
}

/** A new client that then uses its session once (a request other than the token endpoint). */
async function newClient(app: TestApp): Promise<User> {
  const r = await send(app.url + '/session/token', { method: 'POST' });
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body);
  const cookie = setCookiePair(r.headers)!;
  const used = await send(app.url + '/', { headers: { authorization: `Bearer ${body.token}` } });
  const sid = JSON.parse(used.body).sid as string;
  // Its first use rotates the short provisional token into a full one (Session-Token), as the client library keeps.
  return { token: nextToken(used) ?? (body.token as string), cookie, sid };
}

function nextToken(r: Reply): string | undefined {
  const header = r.headers['session-token'];
  return typeof header === 'string' && header ? header : undefined;
}

async function stillServed(app: TestApp, user: User, what: string): Promise<void> {
  const r = await send(app.url + '/', { headers: { authorization: `Bearer ${user.token}` } });
  assert.equal(r.status, 200, `${what} answered ${r.status}: ${r.body}`);
  assert.equal(JSON.parse(r.body).sid, user.sid, `${what} kept its session`);
  user.token = nextToken(r) ?? user.token;
}

async function settle(app: TestApp): Promise<void> {
  await waitFor(async () => (await connections(app.server)) === 0, 30_000, 'every connection of the flood closed');
}

describe('attack: token endpoint flood', () => {
  test(`${REQUESTS} token requests without a credential, MemoryStore({ max: 1000 }): no used session evicted, at any rate`, { timeout: 600_000 }, async () => {
    const unhandled = recordUnhandled();
    const store = new MemoryStore({ max: 1000 });
    // Count evictions, keep only the ids that matter: a set of 99,000 evicted ids would be the heap's growth.
    let evictions = 0;
    let watched: Set<string> | undefined;
    const evictedWatched: string[] = [];
    const evictedEarly: string[] = [];
    store.on('evicted', (sid: string) => {
      evictions++;
      if (!watched) evictedEarly.push(sid);
      else if (watched.has(sid)) evictedWatched.push(sid);
    });
    const app = await startApp({ store });
    try {
      const dozen: User[] = [];
      for (let i = 0; i < 12; i++) dozen.push(await newClient(app));
      const active = await newClient(app);
      watched = new Set([...dozen, active].map((u) => u.sid));
      // One of the dozen idles on a websocket: it must stay open (its session is not evicted under it).
      const idleWs = new WebSocket(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${dozen[0]!.token}`]);
      idleWs.on('error', () => {});
      let idleClosed: number | undefined;
      idleWs.once('close', (code) => (idleClosed = code));
      await new Promise((resolve) => idleWs.once('open', resolve));
      const heapBefore = heapAfterGc();

      let flooding = true;
      let rounds = 0;
      const attack = flood({ kind: 'http', url: app.url + '/session/token', count: REQUESTS, concurrency: CONCURRENCY }, 540_000).finally(() => (flooding = false));
      // The active user goes on as fast as its answers come, no rhythm to outrun.
      const activity = (async () => {
        do {
          await stillServed(app, active, 'the active user');
          rounds++;
        } while (flooding);
      })();
      const [result] = await Promise.all([attack, activity]);

      assert.deepEqual(result.tally, { 200: REQUESTS }, 'every token request answered 200');
      assert.equal(result.created, REQUESTS, 'each credential-less request made a new session');
      const used = [...dozen, active].map((u) => u.sid);
      assert.deepEqual([...evictedEarly, ...evictedWatched].filter((sid) => used.includes(sid)), [], 'no used session was evicted');
      assert.ok(evictions >= REQUESTS - store.max, `the flood evicted its own sessions (${evictions})`);
      assert.equal(store.size, store.max, 'full, not emptied');
      assert.equal(store.size - store.provisionalSize, used.length, 'the used sessions are all there');
      for (const [i, user] of dozen.entries()) await stillServed(app, user, `user ${i}`);
      assert.equal(idleClosed, undefined, 'the idle websocket stayed open');
      assert.equal(idleWs.readyState, WebSocket.OPEN);
      idleWs.close();

      await settle(app);
      const heapAfter = heapAfterGc();
      const rate = Math.round(REQUESTS / (result.ms / 1000));
      console.log(`# token flood (max 1000): ${REQUESTS} in ${result.ms} ms (${rate} requests/s), ${rounds} active-user rounds; used sessions lost 0 of ${used.length}; store ${store.size}/${store.max} (${store.provisionalSize} provisional); heap ${mib(heapBefore)} → ${mib(heapAfter)} MiB`);
      assert.ok(heapAfter - heapBefore < HEAP_SLACK, `heap grew by ${mib(heapAfter - heapBefore)} MiB`);
    } finally {
      await app.stop();
      store.close();
      assert.deepEqual(unhandled.stop(), []);
    }
  });

  test('on a real redis-server: the flood\'s keys expire within provisionalMaxAge, a used session keeps maxAge', { skip: noRedis, timeout: 300_000 }, async () => {
    const redis = await startRedis();
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    const store = new RedisStore({ client, prefix: 'flood:' });
    const app = await startApp({ store });
    try {
      const user = await newClient(app);
      const count = 2_000;
      const result = await flood({ kind: 'http', url: app.url + '/session/token', count, concurrency: CONCURRENCY });
      assert.deepEqual(result.tally, { 200: count });
      const keys = await client.keys('flood:*');
      assert.equal(keys.length, count + 1);
      const provisionalTtl = Math.ceil(DEFAULT_PROVISIONAL_MAX_AGE / 1000);
      let max = 0;
      let bytes = 0;
      for (const key of keys) {
        const ttl = await client.ttl(key);
        if (key === 'flood:' + user.sid) {
          assert.ok(ttl > provisionalTtl && ttl <= DEFAULT_MAX_AGE / 1000 && ttl > DEFAULT_MAX_AGE / 1000 - 600, `the used session keeps maxAge (TTL ${ttl} s)`);
          continue;
        }
        assert.ok(ttl > 0 && ttl <= provisionalTtl, `a flood key lives ≤ ${provisionalTtl} s, ${key} has ${ttl}`);
        max = Math.max(max, ttl);
        bytes += Number(await client.sendCommand(['MEMORY', 'USAGE', key]));
      }
      await stillServed(app, user, 'the used session');
      console.log(`# token flood on redis: ${count} provisional keys, TTL ≤ ${max} s (provisionalMaxAge ${provisionalTtl} s), ${Math.round(bytes / count)} bytes each; the used session's TTL ${await client.ttl('flood:' + user.sid)} s`);
      await settle(app);
    } finally {
      await app.stop();
      await client.quit().catch(() => {});
      await redis.stop();
    }
  });

  test('the default store is that same bounded store, at 10,000 sessions', async () => {
    // The flood above proves the bound on a store of 1000; flooding the default one past 10,000 costs 10,000 more
    // requests and proves nothing more: what matters is that an app without a store option gets this store.
    const app = await startApp();
    try {
      const store = app.hs.store as MemoryStore;
      assert.ok(store instanceof MemoryStore);
      assert.equal(store.max, 10_000);
    } finally {
      await app.stop();
    }
  });

  test(`${RENEWALS} renewals with one valid cookie, then with its token: no session made`, { timeout: 120_000 }, async () => {
    const unhandled = recordUnhandled();
    const store = new MemoryStore({ max: 1000 });
    const app = await startApp({ store });
    try {
      const user = await newClient(app);
      const before = await storeLength(store);
      const half = RENEWALS / 2;
      const byCookie = await flood({ kind: 'http', url: app.url + '/session/token', count: half, concurrency: CONCURRENCY, headers: { cookie: user.cookie } });
      const byToken = await flood({ kind: 'http', url: app.url + '/session/token', count: half, concurrency: CONCURRENCY, headers: { authorization: `Bearer ${user.token}` } });
      for (const r of [byCookie, byToken]) {
        assert.deepEqual(r.tally, { 200: half });
        assert.equal(r.created, 0, 'a renewal never makes a session');
        assert.equal(r.distinctCookies, 1, 'always the same session cookie');
      }
      assert.equal(await storeLength(store), before);
      const me = await send(app.url + '/', { headers: { cookie: user.cookie } });
      assert.equal(JSON.parse(me.body).sid, user.sid);
      await settle(app);
      console.log(`# renewal flood: ${half} by cookie in ${byCookie.ms} ms, ${half} by token in ${byToken.ms} ms; store ${before} → ${await storeLength(store)}`);
    } finally {
      await app.stop();
      store.close();
      assert.deepEqual(unhandled.stop(), []);
    }
  });
});
