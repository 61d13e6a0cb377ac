// ss.start in its forms, ss.http.middleware inside an Express app, settings read once, production without a secret.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import session from 'express-session';
import { WebSocket } from 'ws';
import { createSocketStream } from '../../src/socketstream/index.ts';
import { isHybridSessionError } from '../../src/shared/errors.ts';
import { BEARER_PREFIX, SUBPROTOCOL } from '../../src/shared/protocol.ts';
import { close } from '../helpers/net.ts';
import { baseUrl, bearer, getToken, RpcClient } from './support.ts';

const secret = () => crypto.randomBytes(32).toString('hex');

function withEnv<T>(name: string, value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  return fn().finally(() => {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  });
}

function counterApp(ss: ReturnType<typeof createSocketStream>) {
  ss.rpc.actions('app', function (req: any, res: any) {
    req.use('session');
    return {
      get() {
        res(req.session.n ?? 0);
      },
    };
  });
  ss.http.route('/inc', function (req: any, res: any) {
    req.session.n = (req.session.n ?? 0) + 1;
    res.end(String(req.session.n));
  });
  return ss;
}

describe('ss.start', () => {
  test('ss.start(bareServer) attaches the request handler and the upgrades; resolves once the app listens', async () => {
    const ss = counterApp(createSocketStream({ secret: secret() }));
    const server = createServer();
    const started = ss.start(server);
    server.listen(0, '127.0.0.1');
    assert.equal(await started, server);
    try {
      const base = baseUrl(server);
      const { token } = await getToken(base);
      assert.equal(await (await fetch(`${base}/inc`, { headers: bearer(token) })).text(), '1');
      const rpc = await RpcClient.open(base, token);
      assert.equal((await rpc.call('app.get')).result, 1);
      await rpc.close();
      assert.equal((await fetch(`${base}/nothing-here`)).status, 404);
    } finally {
      await ss.stop();
      await close(server);
    }
  });

  test('inside an Express app: app.use(ss.http.middleware), ss.start(server) adds only the websocket', async () => {
    const ss = counterApp(createSocketStream({ secret: secret() }));
    const app = express();
    app.use(ss.http.middleware as express.RequestHandler);
    app.get('/express', (req, res) => {
      res.json({ n: (req.session as any).n ?? 0, fromExpress: true });
    });
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await ss.start(server);
    try {
      assert.equal(server.listenerCount('request'), 1, 'the app keeps the only request listener');
      const base = baseUrl(server);
      const { token } = await getToken(base);
      await fetch(`${base}/inc`, { headers: bearer(token) });
      assert.deepEqual(await (await fetch(`${base}/express`, { headers: bearer(token) })).json(), { n: 1, fromExpress: true });
      const rpc = await RpcClient.open(base, token);
      assert.equal((await rpc.call('app.get')).result, 1);
      await rpc.close();
    } finally {
      await ss.stop();
      await close(server);
    }
  });

  test("ws.path from ss.set moves the websocket; any express-session Store instance works", async () => {
    const store = new session.MemoryStore();
    // hybridSession's own option names work at creation too: store, tokenMaxAge.
    const ss = counterApp(createSocketStream({ secret: secret(), store, tokenMaxAge: 60_000 }));
    ss.set('*', { ws: { path: '/rpc' } });
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    try {
      const base = baseUrl(server);
      const { token, expiresAt } = await getToken(base);
      assert.ok(expiresAt <= Date.now() + 60_000, 'tokenMaxAge reached the server');
      await fetch(`${base}/inc`, { headers: bearer(token) });
      const rpc = await RpcClient.open(base, token, '/rpc');
      assert.equal((await rpc.call('app.get')).result, 1);
      await rpc.close();
      await assert.rejects(RpcClient.open(base, token, '/ws'), /404/);
      const stored = await new Promise<Record<string, unknown>>((resolve, reject) =>
        store.all((err, all) => (err ? reject(err) : resolve(all as Record<string, unknown>))),
      );
      assert.equal(Object.values(stored).some((s: any) => s.n === 1), true, 'the session lives in the given store');
    } finally {
      await ss.stop();
      await close(server);
    }
  });

  test('ws.heartbeat from ss.set reaches the server: a peer that never answers pings is dropped, one that does stays', async () => {
    const ss = counterApp(createSocketStream({ secret: secret() }));
    ss.set('*', { ws: { heartbeat: 100 } });
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    try {
      const base = baseUrl(server);
      const { token } = await getToken(base);
      const open = (autoPong: boolean) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(base.replace('http', 'ws') + '/ws', [SUBPROTOCOL, BEARER_PREFIX + token], { autoPong });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        });
      const [silent, live] = [await open(false), await open(true)];
      // Dropped between one and two intervals; the bound only keeps a broken run from hanging.
      const code = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the silent peer was never dropped')), 5_000);
        silent.once('close', (c) => (clearTimeout(timer), resolve(c)));
      });
      assert.equal(code, 1006, 'terminated, not closed with a handshake');
      assert.equal(live.readyState, WebSocket.OPEN, 'a peer that answers pings stays open');
      live.close();
    } finally {
      await ss.stop();
      await close(server);
    }
  });

  test('ws.heartbeat must be a number of ms', () => {
    const ss = createSocketStream({ secret: secret() });
    ss.set('*', { ws: { heartbeat: 'often' as never } });
    return assert.rejects(ss.start({ port: 0, host: '127.0.0.1' }), /ws\.heartbeat/);
  });

  test("ss.set(env, …) applies only in that environment (SS_ENV, then NODE_ENV)", async () => {
    await withEnv('SS_ENV', 'staging', async () => {
      const ss = counterApp(createSocketStream({ secret: secret() }));
      ss.set('production', { ws: { path: '/prod-only' } });
      ss.set('staging', { ws: { client: { localStorage: true } } });
      const server = await ss.start({ port: 0, host: '127.0.0.1' });
      try {
        const base = baseUrl(server);
        const { token, storage } = await getToken(base);
        assert.equal(storage, 'localStorage');
        const rpc = await RpcClient.open(base, token, '/ws');
        await rpc.close();
      } finally {
        await ss.stop();
        await close(server);
      }
    });
  });

  test('createSocketStream({allowedOrigins}) reaches CORS: a listed origin gets credentials, another does not', async () => {
    const ss = counterApp(createSocketStream({ secret: secret(), allowedOrigins: ['capacitor://localhost'] }));
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    try {
      const base = baseUrl(server);
      const ok = await fetch(`${base}/session/token`, { method: 'POST', headers: { origin: 'capacitor://localhost' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('access-control-allow-origin'), 'capacitor://localhost');
      const foreign = await fetch(`${base}/session/token`, { method: 'POST', headers: { origin: 'https://evil.example' } });
      assert.equal(foreign.status, 403);
    } finally {
      await ss.stop();
      await close(server);
    }
  });
});

describe('settings are read once, at start', () => {
  test('a change after start throws instead of being ignored', async () => {
    const ss = createSocketStream({ secret: secret() });
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    try {
      assert.throws(() => {
        ss.session.options.maxAge = 1000;
      }, /after the app started/);
      assert.throws(() => {
        ss.session.options.cookie = { httpOnly: false };
      }, /after the app started/);
      assert.throws(() => ss.set('*', { ws: { path: '/x' } }), /after the app started/);
      assert.throws(() => ss.session.store.use('memory'), /after the app started/);
      assert.equal(ss.hs?.options.maxAge, 30 * 24 * 3600 * 1000, 'maxAge defaults to 30 days');
    } finally {
      await ss.stop();
      await close(server);
    }
  });

  test('session.cookie.httpOnly: false is honoured (the cookie is readable), true is the default', async () => {
    const ss = createSocketStream({ secret: secret() });
    ss.set('*', { session: { cookie: { httpOnly: false } } });
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    try {
      const { setCookie } = await getToken(baseUrl(server));
      assert.doesNotMatch(setCookie!, /HttpOnly/i);
    } finally {
      await ss.stop();
      await close(server);
    }
  });

  test('a misspelt setting is refused where it is written', () => {
    const ss = createSocketStream();
    assert.throws(() => ss.set('*', { session: { cookie: { httponly: true } } } as never), /unknown setting "session.cookie.httponly"/);
    assert.throws(() => createSocketStream({ ws: { clinet: {} } } as never), /unknown setting "ws.clinet"/);
  });

  test('production without a secret: ss.start rejects with HS_ERR_WEAK_SECRET, nothing listens', async () => {
    await withEnv('NODE_ENV', 'production', async () => {
      const ss = createSocketStream();
      const server = createServer();
      await assert.rejects(ss.start(server), (e: unknown) => {
        assert.ok(isHybridSessionError(e));
        assert.equal(e.code, 'HS_ERR_WEAK_SECRET');
        return true;
      });
      assert.equal(server.listening, false);
      assert.equal(server.listenerCount('upgrade'), 0);
      // Refused, not wedged: set the secret and start again.
      ss.session.options.secret = secret();
      const retried = ss.start({ port: 0, host: '127.0.0.1' });
      assert.ok((await retried).listening);
      await ss.stop();
      // The docs' own call, crypto.randomBytes(32).toString(), gives a short, mostly-U+FFFD string: prefer hex.
      const weak = createSocketStream({ secret: 'SocketStream' });
      await assert.rejects(weak.start({ port: 0, host: '127.0.0.1' }), /well-known default/);
      const strong = createSocketStream({ secret: secret() });
      const s = await strong.start({ port: 0, host: '127.0.0.1' });
      await strong.stop();
      assert.equal(s.listening, false, 'stop() closes the server start() made');
    });
  });

  test("store.use('redis') with nothing listening: start fails clearly after connectTimeout, not a hang", async () => {
    const ss = createSocketStream({ secret: secret() });
    const { freePort } = await import('../helpers/net.ts');
    ss.session.store.use('redis', { port: await freePort(), connectTimeout: 300 });
    await assert.rejects(ss.start({ port: 0, host: '127.0.0.1' }), (e: unknown) => {
      assert.ok(isHybridSessionError(e));
      assert.equal(e.code, 'HS_ERR_STORE_UNAVAILABLE');
      return true;
    });
    // Everything it made was closed (this process exits cleanly), and the store can be changed for another try.
    ss.session.store.use('memory');
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    await ss.stop();
    assert.equal(server.listening, false);
  });
});
