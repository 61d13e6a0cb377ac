/**
 * DESIGN "Session lifecycle guarantees": ended stays ended (a request or socket that loaded the session before
 * DELETE /session/token, destroy(), regenerate() or a revocation writes nothing afterwards and sees
 * HS_ERR_SESSION_ENDED), and login moves only the caller. On the default store, express-session's MemoryStore and
 * connect-redis on a real redis-server shared by two instances (as two processes), over HTTP and websockets.
 * Order is made explicit with gates (the route tells the test it has loaded the session, then waits to be let go).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import session from 'express-session';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { MemoryStore } from '../../src/server/index.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { ask, connect, defaultHandler, getToken, nextConnection, startApp, type TestApp } from './helpers.ts';

/** A route that loads the session, says so, waits until released, then modifies it and answers. */
function gatedApp() {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const gate = new Promise<void>((r) => (release = r));
  const handler = async (req: IncomingMessage & { session?: any }, res: ServerResponse) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/slow') return defaultHandler(req, res);
    arrived();
    await gate;
    req.session.user = 'alice-again';
    req.session.note = 'written after logout';
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ ok: true }));
  };
  return { handler, reached, release };
}

interface Setup {
  /** Serves the gated route. */
  a: TestApp;
  /** Serves the logout (the same app, or a second instance sharing the store). */
  b: TestApp;
  gated: ReturnType<typeof gatedApp>;
  stop(): Promise<void>;
}

type StoreKind = 'default' | 'express-session' | 'redis';
const KINDS: StoreKind[] = ['default', 'express-session', 'redis'];

async function setup(kind: StoreKind): Promise<Setup> {
  const gated = gatedApp();
  if (kind !== 'redis') {
    const store = kind === 'default' ? new MemoryStore() : new session.MemoryStore();
    const a = await startApp({ store }, gated.handler);
    return {
      a,
      b: a,
      gated,
      async stop() {
        await a.stop();
        (store as { close?: () => void }).close?.();
      },
    };
  }
  const redis = await startRedis();
  const clients = [createClient({ url: redis.url }), createClient({ url: redis.url })];
  for (const c of clients) {
    c.on('error', () => {});
    await c.connect();
  }
  // Two instances, each with its own client and store object: only Redis itself is shared, as across processes.
  const a = await startApp({ store: new RedisStore({ client: clients[0]!, prefix: 'life:' }) }, gated.handler);
  const b = await startApp({ store: new RedisStore({ client: clients[1]!, prefix: 'life:' }) });
  return {
    a,
    b,
    gated,
    async stop() {
      await a.stop();
      await b.stop();
      for (const c of clients) c.destroy();
      await redis.stop();
    },
  };
}

const skipFor = (kind: StoreKind) => (kind === 'redis' ? noRedis : false);

async function signedIn(app: TestApp): Promise<{ token: string; auth: Record<string, string> }> {
  const { token } = await getToken(app.url);
  const auth = { authorization: `Bearer ${token}` };
  const res = await fetch(app.url + '/set?user=alice', { headers: auth });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return { token, auth };
}

async function status(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

for (const kind of KINDS) {
  describe(`ended stays ended (${kind} store)`, { skip: skipFor(kind) }, () => {
    test('HTTP: a route that loaded the session before DELETE /session/token cannot write it back', { timeout: 60_000 }, async () => {
      const s = await setup(kind);
      try {
        const { auth } = await signedIn(s.a);
        const slow = fetch(s.a.url + '/slow', { headers: auth });
        await s.gated.reached;
        const out = await fetch(s.b.url + '/session/token', { method: 'DELETE', headers: auth });
        assert.equal(out.status, 204);
        assert.equal(await status(s.b.url + '/', auth), 401, 'logged out');
        s.gated.release();
        const late = await slow;
        const body = (await late.json()) as { error?: string };
        assert.equal(await status(s.a.url + '/', auth), 401, 'the in-flight save did not resurrect the session');
        assert.equal(await status(s.b.url + '/', auth), 401);
        assert.notEqual(late.status, 200, `the lost write is not answered 200: ${JSON.stringify(body)}`);
        assert.equal(body.error, 'HS_ERR_SESSION_ENDED');
      } finally {
        await s.stop();
      }
    });

    test('websocket: sessionOf(ws).save() and the loaded session\'s own save(cb) after logout write nothing', { timeout: 60_000 }, async () => {
      const s = await setup(kind);
      try {
        const { token, auth } = await signedIn(s.a);
        const serverSide = nextConnection(s.a);
        const c = connect(s.a.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
        await c.opened;
        const handle = s.a.hs.sessionOf(await serverSide);
        const loaded = await handle.load();
        const closed = c.closed;
        assert.equal((await fetch(s.b.url + '/session/token', { method: 'DELETE', headers: auth })).status, 204);
        loaded.user = 'alice-again';
        await assert.rejects(handle.save(), { code: 'HS_ERR_SESSION_ENDED' });
        await assert.rejects(new Promise<void>((resolve, reject) => loaded.save((err?: unknown) => (err ? reject(err) : resolve()))), { code: 'HS_ERR_SESSION_ENDED' });
        await assert.rejects(handle.update((x) => void (x.user = 'mallory')), { code: 'HS_ERR_SESSION_ENDED' });
        assert.equal(await status(s.a.url + '/', auth), 401);
        assert.equal(await status(s.b.url + '/', auth), 401);
        assert.equal((await closed).code, 4401);
      } finally {
        await s.stop();
      }
    });

    test('regenerate() and hs.revoke(): an earlier loader of the old id writes nothing', { timeout: 60_000 }, async () => {
      const s = await setup(kind);
      try {
        // regenerate over HTTP on the other instance while the slow route holds the old id
        const { auth } = await signedIn(s.a);
        const slow = fetch(s.a.url + '/slow', { headers: auth });
        await s.gated.reached;
        const regen = await fetch(s.b.url + '/regenerate?user=bob', { headers: auth });
        assert.equal(regen.status, 200);
        await regen.arrayBuffer();
        assert.equal(await status(s.b.url + '/', auth), 401, 'the old id is gone');
        s.gated.release();
        const late = await slow;
        await late.arrayBuffer();
        assert.equal(late.status, 401);
        assert.equal(await status(s.a.url + '/', auth), 401, 'and stays gone');

        // hs.revoke() under a socket that loaded the session
        const second = await signedIn(s.a);
        const serverSide = nextConnection(s.a);
        const c = connect(s.a.wsUrl, ['hybrid-session', `hybrid-session.bearer.${second.token}`]);
        await c.opened;
        const handle = s.a.hs.sessionOf(await serverSide);
        const loaded = await handle.load();
        await s.b.hs.revoke(handle.sessionID);
        loaded.user = 'back';
        await assert.rejects(handle.save(), { code: 'HS_ERR_SESSION_ENDED' });
        assert.equal(await status(s.a.url + '/', second.auth), 401);
      } finally {
        await s.stop();
      }
    });
  });
}

describe('login moves only the caller', () => {
  test('sessionOf(ws).regenerate({ keepSockets: true }): the other socket of the pre-login session closes 4401 and hears nothing', { timeout: 60_000 }, async () => {
    const app = await startApp();
    try {
      const { token } = await getToken(app.url);
      const serverSide = nextConnection(app);
      const caller = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
      await caller.opened;
      const callerServer = await serverSide;
      const attacker = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
      await attacker.opened;
      const heard: string[] = [];
      attacker.ws.on('message', (d) => heard.push(String(d)));
      const r = await app.hs.sessionOf(callerServer).regenerate({ keepSockets: true });
      assert.notEqual(r.sessionID, undefined);
      assert.equal((await attacker.closed).code, 4401);
      assert.deepEqual(heard, []);
      assert.equal((await ask(caller.ws, { op: 'whoami' })).sid, r.sessionID, 'the caller moved');
    } finally {
      await app.stop();
    }
  });
});
