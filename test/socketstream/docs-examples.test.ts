// SocketStream's "Sessions" documentation, run as written against a real server, a real `ws` client speaking
// JSON-RPC with a token from POST /session/token, and (second suite) a real redis-server.
// Where a documented action only logs, this copy also answers with res(...) so there is something to check.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import { createClient } from 'redis';
import { createSocketStream } from '../../src/socketstream/index.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { close } from '../helpers/net.ts';
import { baseUrl, bearer, getToken, RpcClient } from './support.ts';

const log = (..._args: unknown[]) => {}; // the docs' console.log, kept quiet in test output

// server/rpc/app.js
const appActions = function (req: any, res: any, _ss: unknown) {
  // Load session data into req.session
  req.use('session');
  return {
    testAction: function () {
      log('This request now has session data:', req.session);
      res(true);
    },
    getSession: function () {
      log('The contents of my session is', req.session);
      res(req.session);
    },
    updateSession: function () {
      req.session.myVar = 1234;
      req.session.cart = { items: 3, checkout: false };
      req.session.save(function (_err: unknown) {
        log('Session data has been saved:', req.session);
        res(req.session);
      });
    },
  };
};

/** The app.js of the docs, on a facade made here. */
function docsApp() {
  const ss = createSocketStream();
  ss.set('*', {
    session: { cookie: { httpOnly: true } },
    ws: { client: { localStorage: true } },
  });
  ss.rpc.actions('app', appActions);

  // app.js
  ss.http.route('/updateSession', function (req: any, res: any) {
    req.session.myVar = 4321;
    res.end('req.session.myVar has been updated to', req.session.myVar);
  });
  // Not in the docs: a read-only route so the test can see the session over HTTP.
  ss.http.route('/session', function (req: any, res: any) {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(req.session));
  });

  ss.session.options.maxAge = 8640000; // the docs call it one day; it is 2.4 hours
  ss.session.options.secret = crypto.randomBytes(32).toString('hex');
  return ss;
}

function sharedFlows(getBase: () => string) {
  test("RPC app.updateSession, then HTTP sees myVar 1234 and the cart (token over both)", async () => {
    const base = getBase();
    const { token } = await getToken(base);
    const rpc = await RpcClient.open(base, token);
    try {
      const answer = await rpc.call('app.updateSession');
      assert.equal(answer.error, undefined);
      assert.equal((answer.result as any).myVar, 1234);
      const r = await fetch(`${base}/session`, { headers: bearer(token) });
      assert.equal(r.status, 200);
      const seen = await r.json();
      assert.equal(seen.myVar, 1234);
      assert.deepEqual(seen.cart, { items: 3, checkout: false });
    } finally {
      await rpc.close();
    }
  });

  test('HTTP /updateSession (the docs\' res.end call), then RPC app.getSession sees 4321', async () => {
    const base = getBase();
    const { token } = await getToken(base);
    const r = await fetch(`${base}/updateSession`, { headers: bearer(token) });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'req.session.myVar has been updated to 4321');
    const rpc = await RpcClient.open(base, token);
    try {
      const answer = await rpc.call('app.getSession');
      assert.equal((answer.result as any).myVar, 4321);
      assert.deepEqual(await rpc.call('app.testAction'), { jsonrpc: '2.0', id: 2, result: true });
    } finally {
      await rpc.close();
    }
  });

  test('the cookie and the token reach the same session', async () => {
    const base = getBase();
    const { token, setCookie } = await getToken(base);
    const cookie = setCookie!.split(';')[0]!;
    await fetch(`${base}/updateSession`, { headers: { cookie } });
    const rpc = await RpcClient.open(base, token);
    try {
      assert.equal(((await rpc.call('app.getSession')).result as any).myVar, 4321);
    } finally {
      await rpc.close();
    }
  });

  test('ss.set(ws.client.localStorage) is the storage hint; session.cookie.httpOnly and maxAge reach the cookie and token', async () => {
    const base = getBase();
    // A session nothing has used yet is provisional (DESIGN "Provisional sessions"): 15 minutes, not maxAge.
    const first = await getToken(base);
    const firstExpires = Date.parse(/Expires=([^;]+)/i.exec(first.setCookie!)![1]!);
    assert.ok(firstExpires - Date.now() <= 15 * 60_000 + 1000, `a provisional cookie expires in ${firstExpires - Date.now()} ms`);
    // Used once (a route), it lives maxAge: the next token answer carries that.
    await fetch(`${base}/session`, { headers: bearer(first.token) });
    const before = Date.now();
    const issued = await getToken(base, { headers: bearer(first.token) });
    assert.equal(issued.storage, 'localStorage');
    assert.match(issued.setCookie!, /HttpOnly/i);
    // express-session writes the lifetime as Expires (1 s resolution).
    const expires = Date.parse(/Expires=([^;]+)/i.exec(issued.setCookie!)![1]!);
    assert.ok(Math.abs(expires - (before + 8640000)) < 60_000, `cookie expires in ${expires - before} ms`);
    assert.ok(issued.expiresAt > before && issued.expiresAt <= Date.now() + 8640000, `expiresAt ${issued.expiresAt - before}`);
    // The token's own life is tokenMaxAge (default 1 hour, shorter than this session): it rotates, the session stays.
    assert.ok(issued.expiresAt >= before + 3_600_000 - 5000 && issued.expiresAt <= Date.now() + 3_600_000, `expiresAt ${issued.expiresAt - before}`);
  });
}

describe('SocketStream session docs, memory store', () => {
  let server: Server;
  const ss = docsApp();
  before(async () => {
    server = await ss.start({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await ss.stop();
    await close(server);
  });
  sharedFlows(() => baseUrl(server));
});

describe("SocketStream session docs, ss.session.store.use('redis', {port})", { skip: noRedis }, () => {
  let redis: RedisServer;
  let server: Server;
  let ss: ReturnType<typeof docsApp>;
  before(async () => {
    redis = await startRedis();
    ss = docsApp();
    ss.session.store.use('redis', { port: redis.port });
    server = await ss.start({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await ss?.stop();
    if (server) await close(server);
    await redis?.stop();
  });
  sharedFlows(() => baseUrl(server));

  test('sessions live in redis with a TTL from maxAge', async () => {
    const base = baseUrl(server);
    const { token } = await getToken(base);
    await fetch(`${base}/updateSession`, { headers: bearer(token) });
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      const keys = await probe.keys('sess:*');
      assert.ok(keys.length >= 1);
      let found = false;
      for (const key of keys) {
        const data = JSON.parse((await probe.get(key))!);
        if (data.myVar !== 4321) continue;
        found = true;
        const ttl = await probe.ttl(key);
        assert.ok(ttl > 8000 && ttl <= 8640, `ttl ${ttl}`);
      }
      assert.ok(found, 'the route\'s write reached redis');
    } finally {
      await probe.close();
    }
  });
});
