/**
 * DESIGN "Store outages end by themselves": after a store's `disconnect` the server answers 503 / 1011 without asking
 * the store per request, probes it with a cheap get() on a back-off (1 s, doubling, capped at 30 s), and serves again
 * as soon as the store answers — with or without a `connect` event (connect-typeorm never emits one again after a
 * database error, while its own get() already answers). A real express-session store, wrapped.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { nextProbeDelay, PROBE_FIRST_DELAY, PROBE_MAX_DELAY } from '../../../src/server/store/probe.ts';
import { connect, getToken, startApp } from '../helpers.ts';

/**
 * express-session's MemoryStore as a network store whose link drops: while `down`, every call fails with
 * ECONNREFUSED; it emits `disconnect` when the link drops and never `connect` again. Gets are counted per id.
 */
class LostLinkStore extends session.MemoryStore {
  down = false;
  readonly gets = new Map<string, number>();
  constructor() {
    super();
    for (const name of ['get', 'set', 'destroy', 'touch'] as const) {
      const real = (this as unknown as Record<string, Function>)[name]!.bind(this);
      (this as unknown as Record<string, Function>)[name] = (sid: string, ...rest: unknown[]) => {
        if (name === 'get') this.gets.set(sid, (this.gets.get(sid) ?? 0) + 1);
        if (!this.down) return real(sid, ...rest);
        const cb = rest[rest.length - 1] as (err: unknown) => void;
        setImmediate(() => cb(Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' })));
      };
    }
  }
  drop(): void {
    this.down = true;
    this.emit('disconnect');
  }
}

describe('probe back-off', () => {
  test('1 s first, doubling, never above 30 s', () => {
    assert.equal(PROBE_FIRST_DELAY, 1_000);
    assert.equal(PROBE_MAX_DELAY, 30_000);
    const delays = [PROBE_FIRST_DELAY];
    while (delays.length < 10) delays.push(nextProbeDelay(delays[delays.length - 1]!));
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000]);
  });
});

describe('a store that disconnects and never says connect again', () => {
  test('503 / 1011 without a store call per request, then served again by itself once get() answers', { timeout: 120_000 }, async () => {
    const store = new LostLinkStore();
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      const bearer = { authorization: `Bearer ${t.token}` };
      const first = await fetch(app.url + '/', { headers: bearer });
      assert.equal(first.status, 200);
      const { sid } = (await first.json()) as { sid: string };
      const asked = () => store.gets.get(sid) ?? 0;

      store.drop();
      const before = asked();
      for (let i = 0; i < 5; i++) {
        const res = await fetch(app.url + '/', { headers: bearer });
        assert.equal(res.status, 503);
        assert.equal(((await res.json()) as { error?: string }).error, 'HS_ERR_STORE_UNAVAILABLE');
      }
      assert.equal((await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).status, 503);
      assert.equal((await fetch(app.url + '/session/token', { method: 'POST', headers: bearer })).status, 503);
      assert.equal((await connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]).closed).code, 1011);
      assert.equal(asked(), before, 'while down, requests and handshakes do not each ask the store');

      // The link is back; no `connect` event ever comes. Polling until served (generous deadline, no timing asserted).
      store.down = false;
      const deadline = Date.now() + 90_000;
      let status = 0;
      while (Date.now() < deadline) {
        const res = await fetch(app.url + '/', { headers: bearer });
        status = res.status;
        const body = (await res.json()) as { sid?: string };
        if (status === 200) {
          assert.equal(body.sid, sid, 'the same session');
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(status, 200, 'served again without a connect event');
      const probes = [...store.gets.keys()].filter((id) => id !== sid);
      assert.ok(probes.length >= 1, 'the store was probed by a get() of its own');
      const ws = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      await ws.opened;
      ws.ws.close();
    } finally {
      await app.stop();
    }
  });

  test('a connect event still ends the outage at once', { timeout: 60_000 }, async () => {
    const store = new LostLinkStore();
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      store.drop();
      assert.equal((await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).status, 503);
      store.down = false;
      store.emit('connect');
      assert.equal((await fetch(app.url + '/', { headers: { cookie: t.cookie! } })).status, 200);
    } finally {
      await app.stop();
    }
  });
});
