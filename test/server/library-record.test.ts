/**
 * DESIGN "One version rule": what hybrid-session keeps in a session (`__hs`: the update() version, the rotation
 * record, the binding, the provisional flag) is the library's, so a plain save() — the app's, the end-of-response
 * one, a websocket handle's — writes the app's data with the library record AS STORED, never the request's copy:
 *   - a `req.session.__hs` planted or modified by app code is not written over the stored record;
 *   - a request that loaded the session before a rotation (token endpoint) cannot roll the rotation back when it
 *     saves at the end: the rotated-out generation used after the grace still counts as reuse, and the current one
 *     still works.
 * On the default store, express-session's MemoryStore (no compare-and-set: the per-session lock) and connect-redis on
 * a real redis-server. Order is made explicit with a gate (the route says it holds the session, then waits).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import session from 'express-session';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { MemoryStore, type HybridSessionOptions } from '../../src/server/index.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { ask, connect, defaultHandler, getToken, nextConnection, startApp, type TestApp } from './helpers.ts';

const PLANTED = { v: 0, gen: 99, rotatedAt: 1, tokenExp: 1, used: false, provisional: true, jkt: 'A'.repeat(43) };
const GRACE = 20;

/** /slow: says it holds the session, waits to be let go, then modifies it and answers (end-of-response save). */
function gatedHandler() {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const gate = new Promise<void>((r) => (release = r));
  const handler = async (req: IncomingMessage & { session?: any; sessionID?: string }, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/slow') {
      arrived();
      await gate;
      req.session.late = 'written by the stale request';
    } else if (path === '/plant') {
      req.session.__hs = structuredClone(PLANTED);
      req.session.planted = 'app data';
    } else if (path === '/plant-save') {
      req.session.__hs = structuredClone(PLANTED);
      req.session.planted = 'app data';
      await new Promise<void>((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
    } else return defaultHandler(req, res);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ sid: req.sessionID }));
  };
  return { handler, reached, release };
}

type Kind = 'default' | 'express-session' | 'redis';

async function setup(kind: Kind, options: Partial<HybridSessionOptions> = {}) {
  const gated = gatedHandler();
  if (kind !== 'redis') {
    const store = kind === 'default' ? new MemoryStore() : new session.MemoryStore();
    const app = await startApp({ store, ...options }, gated.handler);
    return { app, gated, stop: async () => { await app.stop(); (store as { close?: () => void }).close?.(); } };
  }
  const redis = await startRedis();
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
  const app = await startApp({ store: new RedisStore({ client, prefix: 'rec:' }), ...options }, gated.handler);
  return { app, gated, stop: async () => { await app.stop(); client.destroy(); await redis.stop(); } };
}

function stored(app: TestApp, sid: string): Promise<any> {
  return new Promise((resolve, reject) => app.hs.store.get(sid, (err, data) => (err ? reject(err) : resolve(data))));
}

async function json(res: Response): Promise<any> {
  assert.equal(res.status, 200, `expected 200, got ${res.status}`);
  return res.json();
}

for (const kind of ['default', 'express-session', 'redis'] as Kind[]) {
  describe(`a plain save keeps the stored library record (${kind} store)`, { skip: kind === 'redis' ? noRedis : false }, () => {
    test('a __hs planted by the app is not written, by its own save() or by the end-of-response save', { timeout: 60_000 }, async () => {
      const s = await setup(kind);
      try {
        for (const path of ['/plant', '/plant-save']) {
          const { token } = await getToken(s.app.url);
          const auth = { authorization: `Bearer ${token}` };
          const { sid } = await json(await fetch(s.app.url + '/', { headers: auth }));
          const before = (await stored(s.app, sid)).__hs ?? {};
          await json(await fetch(s.app.url + path, { headers: auth }));
          const after = await stored(s.app, sid);
          assert.equal(after.planted, 'app data', `${path}: the app's own data is saved`);
          const meta = after.__hs ?? {};
          assert.equal(meta.gen ?? 0, before.gen ?? 0, `${path}: the rotation record is the stored one, not the planted gen 99`);
          assert.equal(meta.jkt, undefined, `${path}: a planted thumbprint does not bind the session`);
          assert.equal(meta.provisional, undefined, `${path}: a used session is not made provisional`);
          assert.equal(meta.used ?? true, true, `${path}: the current generation stays used`);
          assert.equal((await fetch(s.app.url + '/', { headers: auth })).status, 200, `${path}: the token still works`);
        }
      } finally {
        await s.stop();
      }
    });

    test('a websocket handle\'s save() does not write a __hs planted in the loaded session', { timeout: 60_000 }, async () => {
      const s = await setup(kind);
      try {
        const { token } = await getToken(s.app.url);
        const serverSide = nextConnection(s.app);
        const c = connect(s.app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
        await c.opened;
        const handle = s.app.hs.sessionOf(await serverSide);
        const before = (await stored(s.app, handle.sessionID)).__hs ?? {};
        const loaded = await handle.load();
        (loaded as any).__hs = structuredClone(PLANTED);
        (loaded as any).planted = 'socket data';
        await handle.save();
        const after = await stored(s.app, handle.sessionID);
        assert.equal(after.planted, 'socket data');
        assert.equal(after.__hs?.gen ?? 0, before.gen ?? 0);
        assert.equal(after.__hs?.jkt, undefined);
        assert.equal((await ask(c.ws, { op: 'incr' })).count, 1, 'update() is not wedged by what was planted');
        c.ws.close();
      } finally {
        await s.stop();
      }
    });

    test('a stale request\'s end-of-response save cannot roll back a rotation made meanwhile', { timeout: 60_000 }, async () => {
      const s = await setup(kind, { rotationGrace: GRACE });
      try {
        const first = await getToken(s.app.url);
        const old = { authorization: `Bearer ${first.token}` };
        // The stale request: it loaded the session with generation 0 (and marked it used) and holds it.
        const slow = fetch(s.app.url + '/slow', { headers: old });
        await s.gated.reached;
        const rotated = await getToken(s.app.url, { headers: old });
        assert.notEqual(rotated.token, first.token, 'the token endpoint rotated');
        const current = { authorization: `Bearer ${rotated.token}` };
        const { sid } = await json(await fetch(s.app.url + '/', { headers: current }));
        const record = (await stored(s.app, sid)).__hs;
        assert.deepEqual([record.gen, record.used], [1, true], 'generation 1 is current and used');

        s.gated.release();
        await json(await slow);
        const after = await stored(s.app, sid);
        assert.equal(after.late, 'written by the stale request', 'the stale request\'s own change is saved');
        assert.deepEqual([after.__hs?.gen, after.__hs?.used, after.__hs?.rotatedAt], [1, true, record.rotatedAt], 'the rotation record was not rolled back');

        const seen = await json(await fetch(s.app.url + '/', { headers: current }));
        assert.equal(seen.data.late, 'written by the stale request', 'the current generation still works');

        // Past the grace (a wait for time to pass, not a race): the rotated-out generation is reuse.
        await new Promise((r) => setTimeout(r, GRACE * 3));
        const replay = await fetch(s.app.url + '/session/token', { method: 'POST', headers: old });
        const body = (await replay.json()) as { code?: string };
        assert.equal(replay.status, 401, `the rotated-out generation counts as reuse: ${JSON.stringify(body)}`);
        assert.equal(body.code, 'HS_ERR_TOKEN_REUSED');
      } finally {
        await s.stop();
      }
    });
  });
}
