import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import express from 'express';
import connect from 'connect';
import session from 'express-session';
import { hybridSession, MemoryStore, type HybridSession } from '../../../src/server/index.ts';
import { close, listen } from '../../helpers/net.ts';
import { SECRET, ask, connect as wsConnect, cookiePair, countingStore, defaultHandler, getToken, startApp } from '../helpers.ts';

type Flavor = 'express' | 'connect' | 'http';

/** The same app on each server flavour: hs.middleware, then defaultHandler (JSON {sid, data}). */
async function flavored(flavor: Flavor, hs: HybridSession): Promise<{ server: Server; url: string }> {
  let server: Server;
  if (flavor === 'express') {
    const app = express();
    app.use(hs.middleware);
    app.use((req, res, next) => {
      Promise.resolve(defaultHandler(req as never, res)).catch(next);
    });
    app.use((err: any, _req: any, res: any, _next: any) => res.status(err.status ?? 500).json({ code: err.code }));
    server = createServer(app);
  } else if (flavor === 'connect') {
    const app = connect();
    app.use(hs.middleware as never);
    app.use((req: any, res: any, next: any) => {
      Promise.resolve(defaultHandler(req, res)).catch(next);
    });
    app.use((err: any, _req: any, res: any, _next: any) => {
      res.statusCode = err.status ?? 500;
      res.end(String(err.code));
    });
    server = createServer(app);
  } else {
    server = createServer((req, res) => hs.middleware(req, res, (err) => {
      if (err) {
        res.statusCode = (err as { status?: number }).status ?? 500;
        res.end(String((err as Error).message));
        return;
      }
      void defaultHandler(req as never, res);
    }));
  }
  return { server, url: await listen(server) };
}

for (const flavor of ['express', 'connect', 'http'] as const) {
  describe(`hs.middleware on ${flavor}`, () => {
    test('the cookie and the bearer reach one session, and req.session is express-session\'s Session', async () => {
      const hs = hybridSession({ secret: SECRET });
      const { server, url } = await flavored(flavor, hs);
      try {
        const t = await getToken(url);
        assert.equal(t.created, true);
        const viaBearer = await fetch(url + '/set?fruit=apple', { headers: { authorization: `Bearer ${t.token}` } });
        const a = (await viaBearer.json()) as any;
        const viaCookie = await fetch(url + '/', { headers: { cookie: t.cookie! } });
        const b = (await viaCookie.json()) as any;
        assert.equal(a.sid, b.sid);
        assert.equal(b.data.fruit, 'apple');
        // and back: written with the cookie, read with the bearer
        await fetch(url + '/set?color=red', { headers: { cookie: t.cookie! } });
        const c = (await (await fetch(url + '/', { headers: { authorization: `bearer ${t.token}` } })).json()) as any;
        assert.deepEqual([c.sid, c.data.fruit, c.data.color], [a.sid, 'apple', 'red']);
      } finally {
        hs.close();
        await close(server);
      }
    });

    test('a store that fails is an error (500), never a silent new session', async () => {
      const store = countingStore(new MemoryStore());
      const hs = hybridSession({ secret: SECRET, store });
      const { server, url } = await flavored(flavor, hs);
      try {
        const t = await getToken(url);
        store.failGet = new Error('disk on fire');
        store.reset();
        for (const headers of [{ cookie: t.cookie! }, { authorization: `Bearer ${t.token}` }] as Record<string, string>[]) {
          const res = await fetch(url + '/set?x=1', { headers });
          assert.equal(res.status, 500);
          assert.equal(res.headers.getSetCookie().length, 0);
          await res.arrayBuffer();
        }
        assert.equal(store.calls.set, 0);
        // the token endpoint too
        const res = await fetch(url + '/session/token', { method: 'POST', headers: { cookie: t.cookie! } });
        assert.equal(res.status, 500);
        assert.equal(store.calls.set, 0);
      } finally {
        hs.close();
        store.close();
        await close(server);
      }
    });
  });
}

describe('credentials', () => {
  test('a present but invalid bearer is 401 invalid_token even beside a valid cookie, with no store traffic', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      store.reset();
      for (const authorization of ['Bearer v1.', 'bearer v1.garbage', 'BEARER v1.a.b.c', `Bearer ${t.token}x`, `Bearer ${t.token} ${t.token}`]) {
        const res = await fetch(app.url + '/set?x=1', { headers: { authorization, cookie: t.cookie! } });
        assert.equal(res.status, 401, authorization);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
        assert.equal(res.headers.getSetCookie().length, 0);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
      }
      assert.deepEqual(store.calls, { get: 0, set: 0, destroy: 0, touch: 0 });
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('another Authorization scheme is not a bearer: the cookie still works', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const res = await fetch(app.url + '/', { headers: { authorization: 'Basic dXNlcjpwYXNz', cookie: t.cookie! } });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as any).sid, (await app.hs.authenticate({ headers: { authorization: `Bearer ${t.token}` } } as never)).sessionID);
    } finally {
      await app.stop();
    }
  });

  test('an unused anonymous session is neither stored nor given a cookie (saveUninitialized: false)', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const res = await fetch(app.url + '/');
      assert.equal(res.status, 200);
      assert.equal(res.headers.getSetCookie().length, 0);
      assert.equal(store.calls.set, 0);
      const res2 = await fetch(app.url + '/set?a=1');
      assert.equal(res2.headers.getSetCookie().length, 1);
      assert.equal(store.calls.set, 1);
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('a session whose store is disconnected answers 503', async () => {
    const store = countingStore(new session.MemoryStore());
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      // Down as a network store is: its calls fail too (else the probe, store/probe.ts, would find it answering).
      store.failGet = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
      store.emit('disconnect');
      const res = await fetch(app.url + '/', { headers: { cookie: t.cookie! } });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as any).error, 'HS_ERR_STORE_UNAVAILABLE');
      assert.equal((await fetch(app.url + '/session/token', { method: 'POST' })).status, 503);
      store.failGet = null;
      store.emit('connect');
      assert.equal((await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).status, 200);
      // a store error that says "cannot connect" is a 503 too
      store.failGet = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
      assert.equal((await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).status, 503);
    } finally {
      await app.stop();
    }
  });

  test('Express turns a store failure into its error response (next(err) with status)', async () => {
    const store = countingStore(new session.MemoryStore());
    const hs = hybridSession({ secret: SECRET, store });
    const app = express();
    app.use(hs.middleware);
    app.get('/', (req, res) => res.json({ sid: req.sessionID }));
    let seen: any;
    app.use((err: any, _req: any, res: any, _next: any) => {
      seen = err;
      res.status(err.status).json({ code: err.code });
    });
    const server = createServer(app);
    const url = await listen(server);
    try {
      const t = await getToken(url);
      store.failGet = new Error('boom');
      const res = await fetch(url + '/', { headers: { cookie: t.cookie! } });
      assert.equal(res.status, 500);
      assert.equal(seen.code, 'HS_ERR_STORE');
      assert.match(seen.message, /session store failed \(get\): boom/);
    } finally {
      hs.close();
      await close(server);
    }
  });
});

describe('Session-Token header', () => {
  test('after regenerate(): a fresh token (and cookie) for the new id; the old token and its sockets are done', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const sock = wsConnect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await sock.opened;
      const before = (await ask(sock.ws, { op: 'sid' })).sid;
      const res = await fetch(app.url + '/regenerate?user=ann', { headers: { authorization: `Bearer ${t.token}` } });
      const body = (await res.json()) as any;
      const fresh = res.headers.get('session-token');
      assert.ok(fresh);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.notEqual(body.sid, before);
      assert.equal((await sock.closed).code, 4401);
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
      const next = (await (await fetch(app.url + '/', { headers: { authorization: `Bearer ${fresh}` } })).json()) as any;
      assert.deepEqual([next.sid, next.data.user], [body.sid, 'ann']);
      // a same-origin browser holding both credentials moves to the new session too
      const cookie = cookiePair(res)!;
      assert.equal(((await (await fetch(app.url + '/', { headers: { cookie } })).json()) as any).sid, body.sid);
    } finally {
      await app.stop();
    }
  });

  test("the old session's sockets close only after the response carrying the new token went out", async () => {
    const app = await startApp({}, async (req, res) => {
      await new Promise<void>((resolve, reject) => req.session.regenerate((err: unknown) => (err ? reject(err) : resolve())));
      req.session.user = 'late';
      // a slow handler: the old sockets must not learn of the new session before this response does
      setTimeout(() => res.end('ok'), 300);
    });
    try {
      const t = await getToken(app.url);
      const sock = wsConnect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await sock.opened;
      let closedEarly = false;
      sock.ws.once('close', () => (closedEarly = true));
      const res = await fetch(app.url + '/login', { headers: { authorization: `Bearer ${t.token}` } });
      assert.ok(res.headers.get('session-token'));
      assert.equal(closedEarly, false, 'closed before the new token arrived');
      assert.equal((await sock.closed).code, 4401);
    } finally {
      await app.stop();
    }
  });

  test('regenerate() with the cookie alone also hands out the token', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const res = await fetch(app.url + '/regenerate', { headers: { cookie: t.cookie! } });
      const fresh = res.headers.get('session-token')!;
      const { sid } = (await res.json()) as any;
      assert.equal((await app.hs.authenticate({ headers: { authorization: `Bearer ${fresh}` } } as never)).sessionID, sid);
    } finally {
      await app.stop();
    }
  });

  test('when the presented token has less than half its life left, and not before', async () => {
    const app = await startApp({ tokenMaxAge: 1_000 });
    try {
      const t = await getToken(app.url);
      const early = await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(early.headers.get('session-token'), null);
      await new Promise((r) => setTimeout(r, Math.max(0, t.expiresAt - 400 - Date.now())));
      const late = await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } });
      const fresh = late.headers.get('session-token');
      assert.ok(fresh && fresh !== t.token);
      assert.equal(late.status, 200);
      const again = await fetch(app.url + '/', { headers: { authorization: `Bearer ${fresh}` } });
      assert.equal(again.status, 200);
      assert.equal(again.headers.get('session-token'), null);
    } finally {
      await app.stop();
    }
  });
});

describe('revocation', () => {
  test('req.session.destroy() ends every token and closes the sockets with 4401', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const sock = wsConnect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await sock.opened;
      const res = await fetch(app.url + '/destroy', { headers: { cookie: t.cookie! } });
      assert.deepEqual(await res.json(), { destroyed: true });
      assert.equal((await sock.closed).code, 4401);
      const after = await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(after.status, 401);
      const again = wsConnect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      assert.equal((await again.closed).code, 4401);
    } finally {
      await app.stop();
    }
  });

  test('hs.revoke(sessionID) and hs.issueToken(sessionID)', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const { sessionID } = await app.hs.authenticate({ headers: { authorization: `Bearer ${t.token}` } } as never);
      const issued = await app.hs.issueToken(sessionID);
      assert.ok(issued.expiresAt > Date.now());
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${issued.token}` } })).status, 200);
      const sock = wsConnect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${issued.token}`]);
      await sock.opened;
      await app.hs.revoke(sessionID);
      assert.equal((await sock.closed).code, 4401);
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
      await assert.rejects(app.hs.issueToken(sessionID), { code: 'HS_ERR_INVALID_TOKEN' });
    } finally {
      await app.stop();
    }
  });
});

describe('req.session behaves as express-session\'s', () => {
  test('save, reload, touch, cookie.maxAge, regenerate callback, and saving before a streamed body ends', async () => {
    const store = new MemoryStore();
    const hs = hybridSession({ secret: SECRET, store, maxAge: 60_000 });
    const app = express();
    app.use(hs.middleware);
    app.get('/api', (req, res, next) => {
      const s = req.session as any;
      assert.ok((req.session as unknown) instanceof session.Session);
      assert.ok((req.session.cookie as unknown) instanceof session.Cookie);
      assert.ok(s.cookie.maxAge > 59_000 && s.cookie.maxAge <= 60_000);
      s.views = (s.views ?? 0) + 1;
      const saved = s.views;
      s.save((err: unknown) => {
        if (err) return next(err);
        s.views = 100;
        s.reload((err2: unknown) => {
          if (err2) return next(err2);
          res.json({ views: (req.session as any).views, saved, sid: req.sessionID });
        });
      });
    });
    app.get('/stream', (req, res) => {
      (req.session as any).streamed = true;
      res.write('a');
      setTimeout(() => res.end('b'), 10);
    });
    const server = createServer(app);
    const url = await listen(server);
    try {
      const first = await fetch(url + '/api');
      const cookie = cookiePair(first)!;
      assert.deepEqual(((await first.json()) as any).views, 1);
      const second = (await (await fetch(url + '/api', { headers: { cookie } })).json()) as any;
      assert.equal(second.views, 2, 'reload() brought back the saved value, not the unsaved 100');
      assert.equal(second.saved, 2);
      assert.equal(await (await fetch(url + '/stream', { headers: { cookie } })).text(), 'ab');
      const data = await new Promise<any>((resolve) => store.get(second.sid, (_e, s) => resolve(s)));
      assert.equal(data.streamed, true);
    } finally {
      hs.close();
      store.close();
      await close(server);
    }
  });
});
