/**
 * 10,000 token requests (POST tokenPath) from one client (a keep-alive pool of 50, in a worker thread).
 *
 * Without a cookie every request mints a session: that is the endpoint's contract (it is how a new client starts),
 * so what bounds the flood is the store. The default memory store keeps at most `max` sessions (10,000 by default)
 * and evicts the least recently ACTIVE one first. What that promises, and what it does not:
 *   - memory stays bounded (store length ≤ max, heap back near where it was);
 *   - a good client that is active (any request touches its session) keeps its session through the flood;
 *   - an idle good client may be evicted: its websockets close 4401 at once, its token answers 401 invalid_token,
 *     and its next token request starts a new session (`created: true`). A flood of session minting is not
 *     something a per-process store can absorb without loss: rate-limit the token endpoint in front of it.
 * With a valid cookie or token, the same flood is 10,000 renewals of one session: no session is made.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { MemoryStore } from '../../src/server/index.ts';
import { startApp, type TestApp } from '../server/helpers.ts';
import { connections, flood, heapAfterGc, recordUnhandled, send, setCookiePair, storeLength, waitFor } from './support.ts';

const REQUESTS = 10_000;
const CONCURRENCY = 50;
const HEAP_SLACK = 24 * 1024 * 1024;
const mib = (n: number) => (n / 2 ** 20).toFixed(1);

async function newClient(app: TestApp) {
  const r = await send(app.url + '/session/token', { method: 'POST' });
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body);
  const cookie = setCookiePair(r.headers)!;
  const sid = JSON.parse((await send(app.url + '/', { headers: { authorization: `Bearer ${body.token}` } })).body).sid as string;
  return { token: body.token as string, cookie, sid };
}

/** An active user: a request with its bearer every 100 ms while `busy()`, each answered for its own session. */
async function activeUser(app: TestApp, user: { token: string; sid: string }, busy: () => boolean): Promise<number> {
  let rounds = 0;
  do {
    const r = await send(app.url + '/', { headers: { authorization: `Bearer ${user.token}` } });
    assert.equal(r.status, 200, `active user answered ${r.status}: ${r.body}`);
    assert.equal(JSON.parse(r.body).sid, user.sid, 'the active user kept its session');
    rounds++;
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (busy());
  return rounds;
}

async function settle(app: TestApp): Promise<void> {
  await waitFor(async () => (await connections(app.server)) === 0, 10_000, 'every connection of the flood closed');
}

describe('attack: token endpoint flood', () => {
  test(`${REQUESTS} token requests without a cookie, MemoryStore({ max: 1000 }): bounded; active user kept, idle user evicted cleanly`, { timeout: 120_000 }, async () => {
    const unhandled = recordUnhandled();
    const store = new MemoryStore({ max: 1000 });
    const app = await startApp({ store });
    try {
      const active = await newClient(app);
      const idle = await newClient(app);
      const idleWs = new WebSocket(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${idle.token}`]);
      idleWs.on('error', () => {});
      const idleClosed = new Promise<number>((resolve) => idleWs.once('close', (code) => resolve(code)));
      await new Promise((resolve) => idleWs.once('open', resolve));
      const heapBefore = heapAfterGc();

      let flooding = true;
      const attack = flood({ kind: 'http', url: app.url + '/session/token', count: REQUESTS, concurrency: CONCURRENCY }).finally(() => (flooding = false));
      const [result, rounds] = await Promise.all([attack, activeUser(app, active, () => flooding)]);

      assert.deepEqual(result.tally, { 200: REQUESTS }, 'every token request answered 200');
      assert.equal(result.created, REQUESTS, 'each cookie-less request made a new session');
      assert.equal(result.distinctCookies, REQUESTS);
      const length = await storeLength(store);
      assert.ok(length <= store.max, `store holds ${length} > max ${store.max}`);
      assert.equal(length, store.max, 'full, not emptied');

      // The idle user was evicted: its socket closed 4401 (not left open on a session that is gone), its token is
      // refused, and asking again starts a new session.
      assert.equal(await idleClosed, 4401);
      const refused = await send(app.url + '/', { headers: { authorization: `Bearer ${idle.token}` } });
      assert.equal(refused.status, 401);
      assert.match(String(refused.headers['www-authenticate']), /invalid_token/);
      const again = await send(app.url + '/session/token', { method: 'POST', headers: { authorization: `Bearer ${idle.token}` } });
      assert.equal(again.status, 200);
      assert.equal(JSON.parse(again.body).created, true);

      // The active one still has its session, and the server still answers everyone.
      await activeUser(app, active, () => false);
      await settle(app);
      assert.equal(app.wss.clients.size, 0);
      const heapAfter = heapAfterGc();
      console.log(`# token flood (max 1000): ${REQUESTS} in ${result.ms} ms, ${rounds} active-user rounds; store ${length}/${store.max}; heap ${mib(heapBefore)} → ${mib(heapAfter)} MiB`);
      assert.ok(heapAfter - heapBefore < HEAP_SLACK, `heap grew by ${mib(heapAfter - heapBefore)} MiB`);
    } finally {
      await app.stop();
      store.close();
      assert.deepEqual(unhandled.stop(), []);
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

  test(`${REQUESTS} renewals with one valid cookie, then with its token: no session made`, { timeout: 120_000 }, async () => {
    const unhandled = recordUnhandled();
    const store = new MemoryStore({ max: 1000 });
    const app = await startApp({ store });
    try {
      const user = await newClient(app);
      const before = await storeLength(store);
      const half = REQUESTS / 2;
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
