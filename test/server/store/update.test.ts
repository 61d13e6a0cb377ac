import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { MemoryStore, VERSION_KEY } from '../../../src/server/index.ts';
import { ask, connect, getToken, nextConnection, startApp, countingStore } from '../helpers.ts';

const CLIENTS = 20;
const ROUNDS = 50;

async function hammer(stores: () => session.Store, instances = 1): Promise<{ count: number; version: number }> {
  const store = stores();
  const apps: Awaited<ReturnType<typeof startApp>>[] = [];
  for (let i = 0; i < instances; i++) apps.push(await startApp({ store }));
  try {
    const { token } = await getToken(apps[0]!.url);
    const sockets = [];
    for (let i = 0; i < CLIENTS; i++) {
      const c = connect(apps[i % instances]!.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
      await c.opened;
      sockets.push(c.ws);
    }
    const wsWork = sockets.map(async (ws) => {
      for (let r = 0; r < ROUNDS; r++) {
        const reply = await ask(ws, { op: 'incr' });
        assert.equal(typeof reply.count, 'number', JSON.stringify(reply));
      }
    });
    const httpWork = Array.from({ length: CLIENTS }, async (_, i) => {
      for (let r = 0; r < ROUNDS; r++) {
        const res = await fetch(apps[(i + 1) % instances]!.url + '/incr', { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
    });
    await Promise.all([...wsWork, ...httpWork]);
    for (const ws of sockets) ws.close();
    const body = (await (await fetch(apps[0]!.url + '/', { headers: { authorization: `Bearer ${token}` } })).json()) as any;
    return { count: body.data.count, version: body.data[VERSION_KEY].v };
  } finally {
    for (const app of apps) await app.stop();
    (store as { close?: () => void }).close?.();
  }
}

describe('update(fn): concurrent read-modify-write loses nothing', () => {
  test(`${CLIENTS} websockets + ${CLIENTS} HTTP clients × ${ROUNDS} increments on the default store = ${2 * CLIENTS * ROUNDS}`, async () => {
    const { count, version } = await hammer(() => new MemoryStore());
    assert.equal(count, 2 * CLIENTS * ROUNDS);
    // every update, plus the one write that recorded the token's first use (DESIGN "Token rotation": lost-answer rule)
    assert.equal(version, 2 * CLIENTS * ROUNDS + 1);
  });

  test("the same on express-session's MemoryStore (per-session lock, no compare-and-set)", async () => {
    const { count } = await hammer(() => new session.MemoryStore());
    assert.equal(count, 2 * CLIENTS * ROUNDS);
  });

  test('two instances sharing one store (as two processes would): compare-and-set keeps every update', async () => {
    const { count } = await hammer(() => new MemoryStore(), 2);
    assert.equal(count, 2 * CLIENTS * ROUNDS);
  });

  test('save() stays last-write-wins; update() on a fresh session stores it first', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store }, async (req, res) => {
      const s = await req.session.update((s: any) => {
        s.n = (s.n ?? 0) + 1;
      });
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ n: s.n, same: s === req.session, sid: req.sessionID }));
    });
    try {
      const first = await fetch(app.url + '/');
      const body = (await first.json()) as any;
      assert.deepEqual([body.n, body.same], [1, true]);
      const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
      const second = (await (await fetch(app.url + '/', { headers: { cookie } })).json()) as any;
      assert.deepEqual([second.n, second.sid], [2, body.sid]);
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('a function that throws writes nothing; an update of a gone session is HS_ERR_SESSION_ENDED', async () => {
    const app = await startApp();
    try {
      const { token } = await getToken(app.url);
      const serverSide = nextConnection(app);
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
      await c.opened;
      const handle = app.hs.sessionOf(await serverSide);
      const before = JSON.stringify((await handle.load())[VERSION_KEY]);
      await assert.rejects(handle.update(() => {
        throw new Error('nope');
      }), /nope/);
      const s = await handle.load();
      assert.equal(JSON.stringify(s[VERSION_KEY]), before, 'nothing written');
      await app.hs.revoke(handle.sessionID);
      assert.equal((await c.closed).code, 4401);
      await assert.rejects(handle.update(() => {}), { code: 'HS_ERR_SESSION_ENDED' });
    } finally {
      await app.stop();
    }
  });
});
