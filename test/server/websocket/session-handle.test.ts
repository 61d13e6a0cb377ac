import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { WebSocket } from 'ws';
import { ask, connect, countingStore, getToken, nextConnection, startApp } from '../helpers.ts';
import { MemoryStore } from '../../../src/server/index.ts';

describe('hs.sessionOf(ws)', () => {
  test('lazy and fresh: a socket sees what HTTP wrote a moment ago, and HTTP sees what the socket saved', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      const serverSide = nextConnection(app);
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await c.opened;
      const ws = await serverSide;
      store.reset();
      const handle = app.hs.sessionOf(ws);
      assert.equal(app.hs.sessionOf(ws), handle, 'one handle per socket');
      assert.equal(store.calls.get, 0, 'nothing read until asked');
      await fetch(app.url + '/set?a=http', { headers: { authorization: `Bearer ${t.token}` } });
      const s = await handle.load();
      assert.ok(s instanceof session.Session);
      assert.equal(s.a, 'http');
      s.b = 'socket';
      await handle.save();
      const viaHttp = (await (await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).json()) as any;
      assert.deepEqual([viaHttp.data.a, viaHttp.data.b], ['http', 'socket']);
      // express-session's own save(cb) works on the loaded object
      const again = await handle.load();
      again.c = 3;
      await new Promise<void>((resolve, reject) => again.save((err: unknown) => (err ? reject(err) : resolve())));
      assert.equal(((await (await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).json()) as any).data.c, 3);
      c.ws.close();
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('regenerate() over a websocket: new id and token, this socket re-bound, the old id gone and its other sockets closed', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const other = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await other.opened;
      const me = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await me.opened;
      const before = (await ask(me.ws, { op: 'sid' })).sid;
      const r = await ask(me.ws, { op: 'regenerate' });
      assert.notEqual(r.sid, before);
      assert.equal((await other.closed).code, 4401);
      assert.equal((await ask(me.ws, { op: 'sid' })).sid, r.sid, 'this socket now belongs to the new session');
      assert.equal((await ask(me.ws, { op: 'incr' })).count, 1);
      assert.equal(me.ws.readyState, WebSocket.OPEN);
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
      const viaNew = (await (await fetch(app.url + '/', { headers: { authorization: `Bearer ${r.token}` } })).json()) as any;
      assert.deepEqual([viaNew.sid, viaNew.data.count], [r.sid, 1]);
      // the same-origin browser moves over by presenting the new bearer to the token endpoint
      const moved = await getToken(app.url, { headers: { cookie: t.cookie!, authorization: `Bearer ${r.token}` } });
      assert.equal(moved.created, false);
      assert.equal(((await (await fetch(app.url + '/', { headers: { cookie: moved.cookie! } })).json()) as any).sid, r.sid);
      me.ws.close();
    } finally {
      await app.stop();
    }
  });

  test('destroy() closes every socket of the session, this one included; load() of a gone session throws', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const serverSide = nextConnection(app);
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await c.opened;
      const handle = app.hs.sessionOf(await serverSide);
      await handle.destroy();
      assert.equal((await c.closed).code, 4401);
      await assert.rejects(handle.load(), { code: 'HS_ERR_INVALID_TOKEN' });
      assert.throws(() => app.hs.sessionOf(new WebSocket(null as never, undefined, {})), { code: 'HS_ERR_NO_CREDENTIALS' });
    } finally {
      await app.stop();
    }
  });

  test('issueToken() on the handle gives a working token', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const serverSide = nextConnection(app);
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await c.opened;
      const handle = app.hs.sessionOf(await serverSide);
      const { token } = await handle.issueToken();
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${token}` } })).status, 200);
      c.ws.close();
    } finally {
      await app.stop();
    }
  });
});

describe('socket lifetime', () => {
  for (const [name, make] of [['the default store', () => new MemoryStore({ checkPeriod: 60_000 })], ["express-session's MemoryStore", () => new session.MemoryStore()]] as const) {
    test(`a session that expires closes its sockets with 4401 (${name})`, async () => {
      const store = make();
      const app = await startApp({ store, maxAge: 400 });
      try {
        const t = await getToken(app.url);
        const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
        await c.opened;
        const closed = await c.closed; // no messages: nothing keeps it alive
        assert.equal(closed.code, 4401);
        assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
      } finally {
        await app.stop();
        (store as { close?: () => void }).close?.();
      }
    });
  }

  test('messages keep the session alive with a throttled touch (at most once per min(60 s, maxAge / 4))', async () => {
    const store = countingStore(new session.MemoryStore());
    const maxAge = 600;
    const app = await startApp({ store, maxAge });
    try {
      const t = await getToken(app.url);
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await c.opened;
      store.reset();
      const started = Date.now();
      // well past maxAge, a message every 20 ms (bounded: 100 messages)
      for (let i = 0; i < 100; i++) {
        c.ws.send('{"op":"noop"}');
        await new Promise((r) => setTimeout(r, 20));
      }
      const elapsed = Date.now() - started;
      assert.ok(elapsed > maxAge);
      assert.equal(c.ws.readyState, WebSocket.OPEN, 'still open past maxAge');
      assert.ok(store.calls.touch >= 1);
      assert.ok(store.calls.touch <= Math.ceil(elapsed / (maxAge / 4)) + 1, `touches: ${store.calls.touch} in ${elapsed} ms`);
      // the token has its own (short) expiry by now; the session it named is alive, as its cookie shows
      const { sessionID } = (await app.hs.authenticate({ headers: { cookie: t.cookie! } } as never));
      assert.ok((await app.hs.issueToken(sessionID)).token);
      // and once quiet, the session expires and the socket closes
      assert.equal((await c.closed).code, 4401);
    } finally {
      await app.stop();
    }
  });
});
