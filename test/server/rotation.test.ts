/**
 * DESIGN "Token rotation and reuse detection", bullet by bullet, over real HTTP and websockets on the default store.
 * Time is node:test's mocked Date (only Date: sockets and timers run for real), so "within the grace" and "past the
 * grace" are set by the test, never raced.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, type ReuseEvent } from '../../src/server/index.ts';
import { connect, getToken, startApp, type TestApp } from './helpers.ts';

const GRACE = 60_000;
const generationOf = (token: string) => Number(token.split('.')[3]);
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** Mocked Date from now on, for this test only (restored by node:test afterwards). */
function clock(t: TestContext): { tick(ms: number): void } {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  return { tick: (ms) => t.mock.timers.tick(ms) };
}

async function get(app: TestApp, token: string, path = '/'): Promise<{ status: number; body: any; sessionToken: string | null; challenge: string | null }> {
  const res = await fetch(app.url + path, { headers: auth(token) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, sessionToken: res.headers.get('session-token'), challenge: res.headers.get('www-authenticate') };
}

async function renew(app: TestApp, token: string | null, cookie?: string) {
  const headers: Record<string, string> = token ? auth(token) : {};
  if (cookie) headers.cookie = cookie;
  const res = await fetch(app.url + '/session/token', { method: 'POST', headers });
  return { status: res.status, body: (await res.json()) as any, res };
}

async function withApp(options: Parameters<typeof startApp>[0], fn: (app: TestApp, reuses: ReuseEvent[]) => Promise<void>): Promise<void> {
  const store = new MemoryStore();
  const app = await startApp({ store, rotationGrace: GRACE, ...options });
  const reuses: ReuseEvent[] = [];
  app.hs.on('reuse', (e) => reuses.push(e));
  try {
    await fn(app, reuses);
  } finally {
    await app.stop();
    store.close();
  }
}

describe('renewal issues the next generation', () => {
  test('POST with the current token rotates; the previous works on requests and handshakes within the grace, then is refused (not reuse)', async (t) => {
    const time = clock(t);
    await withApp({}, async (app, reuses) => {
      const first = await getToken(app.url);
      assert.equal(generationOf(first.token), 0);
      const sid = (await get(app, first.token)).body.sid;
      const r = await renew(app, first.token);
      assert.equal(r.status, 200);
      assert.equal(r.body.created, false);
      assert.equal(generationOf(r.body.token), 1);

      time.tick(GRACE - 1);
      const inGrace = await get(app, first.token);
      assert.equal(inGrace.status, 200);
      assert.equal(inGrace.body.sid, sid);
      assert.equal(inGrace.sessionToken, r.body.token, 'a request with the previous generation carries the current token');
      const ws = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${first.token}`]);
      await ws.opened;
      ws.ws.close();

      time.tick(1);
      const late = await get(app, first.token);
      assert.equal(late.status, 401);
      assert.equal(late.challenge, 'Bearer error="invalid_token"');
      assert.equal(late.body.code, 'HS_ERR_INVALID_TOKEN');
      const lateWs = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${first.token}`]);
      assert.equal((await lateWs.closed).code, 4401);
      // refusing an old token on requests and handshakes ends nothing
      assert.equal((await get(app, r.body.token)).status, 200);
      assert.equal(reuses.length, 0);
    });
  });

  test('the current generation renews even after its own expiry while the session lives; requests with it stay 401', async (t) => {
    const time = clock(t);
    await withApp({ tokenMaxAge: 10_000 }, async (app) => {
      const first = await getToken(app.url);
      const sid = (await get(app, first.token)).body.sid;
      time.tick(3_600_000); // an app back from an hour in the background
      assert.equal((await get(app, first.token)).status, 401);
      const r = await renew(app, first.token);
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.created, generationOf(r.body.token)], [false, 1]);
      assert.ok(r.body.expiresAt > Date.now());
      assert.equal((await get(app, r.body.token)).body.sid, sid, 'same session');
    });
  });

  test('20 concurrent renewals with one token: one new generation, all 20 answered with it', async () => {
    await withApp({}, async (app) => {
      const first = await getToken(app.url);
      await get(app, first.token);
      const answers = await Promise.all(Array.from({ length: 20 }, () => renew(app, first.token)));
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
      const tokens = new Set(answers.map((a) => a.body.token));
      assert.equal(tokens.size, 1, 'the very same token for all');
      assert.equal(generationOf([...tokens][0]!), 1);
      // and that token renews to generation 2, not 21
      const next = await renew(app, [...tokens][0]!);
      assert.equal(generationOf(next.body.token), 2);
    });
  });

  test('20 concurrent cookie-only renewals: one generation too (a cookie carries no generation to compare)', async () => {
    await withApp({}, async (app) => {
      const first = await getToken(app.url);
      await get(app, first.token);
      const answers = await Promise.all(Array.from({ length: 20 }, () => renew(app, null, first.cookie)));
      assert.equal(new Set(answers.map((a) => a.body.token)).size, 1);
      assert.equal(generationOf(answers[0]!.body.token), 1);
      assert.equal(answers[0]!.body.created, false);
    });
  });
});

describe('lost answer', () => {
  test('the previous generation at the endpoint while the current was never used: the same current token again, no rotation, at any time', async (t) => {
    const time = clock(t);
    await withApp({}, async (app, reuses) => {
      const first = await getToken(app.url);
      await get(app, first.token);
      const lost = await renew(app, first.token); // the client never saw this answer
      time.tick(10 * GRACE);
      const again = await renew(app, first.token);
      assert.equal(again.status, 200);
      assert.equal(again.body.token, lost.body.token, 'byte for byte the token already handed out');
      assert.equal(reuses.length, 0);
      // the answer it now holds works, and renews to the next generation
      assert.equal((await get(app, again.body.token)).status, 200);
      assert.equal(generationOf((await renew(app, again.body.token)).body.token), 2);
    });
  });

  test('an unused current past half its life is re-signed (same generation, fresh expiry) for a lost answer', async (t) => {
    const time = clock(t);
    await withApp({ tokenMaxAge: 10_000 }, async (app) => {
      const first = await getToken(app.url);
      await get(app, first.token);
      const lost = await renew(app, first.token);
      time.tick(3_600_000); // killed mid-renewal, reopened an hour later
      const again = await renew(app, first.token);
      assert.equal(again.status, 200);
      assert.equal(generationOf(again.body.token), generationOf(lost.body.token));
      assert.ok(again.body.expiresAt > Date.now(), 'not an expired token');
    });
  });

  test('a tab not yet told: the previous generation at the endpoint within the grace, after the current was used', async (t) => {
    const time = clock(t);
    await withApp({}, async (app, reuses) => {
      const first = await getToken(app.url);
      const r = await renew(app, first.token);
      assert.equal((await get(app, r.body.token)).status, 200); // another tab uses the current one
      time.tick(GRACE - 1);
      const late = await renew(app, first.token);
      assert.equal(late.status, 200);
      assert.equal(late.body.token, r.body.token);
      assert.equal(reuses.length, 0);
    });
  });
});

describe('reuse', () => {
  test('previous generation at the endpoint after the current was used and the grace passed: the session ends everywhere, 401 HS_ERR_TOKEN_REUSED, reuse event', async (t) => {
    const time = clock(t);
    await withApp({}, async (app, reuses) => {
      const stolen = await getToken(app.url);
      const sid = (await get(app, stolen.token)).body.sid;
      const legit = await renew(app, stolen.token);
      assert.equal((await get(app, legit.body.token)).status, 200);
      const socket = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${legit.body.token}`]);
      await socket.opened;
      time.tick(GRACE);

      const thief = await renew(app, stolen.token);
      assert.equal(thief.status, 401);
      assert.equal(thief.res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      assert.equal(thief.body.error, 'invalid_token');
      assert.equal(thief.body.code, 'HS_ERR_TOKEN_REUSED');
      assert.equal(thief.body.token, undefined);
      assert.match(thief.res.headers.getSetCookie().join('\n'), /connect\.sid=;.*Expires=Thu, 01 Jan 1970/, 'cookie cleared');
      assert.equal((await socket.closed).code, 4401);
      assert.deepEqual(reuses, [{ sessionID: sid, via: 'bearer', generation: 0, currentGeneration: 1 }]);
      // ended for the legitimate holder too: its token is refused, its renewal starts over
      assert.equal((await get(app, legit.body.token)).status, 401);
      const after = await renew(app, legit.body.token);
      assert.equal(after.body.created, true);
      const stored = await new Promise((resolve) => app.hs.store.get(sid, (_err, s) => resolve(s ?? null)));
      assert.equal(stored, null, 'gone from the store');
    });
  });

  test('two generations behind is reuse at once, even within the grace', async () => {
    await withApp({}, async (app, reuses) => {
      const g0 = await getToken(app.url);
      const g1 = await renew(app, g0.token);
      const g2 = await renew(app, g1.body.token);
      assert.equal(generationOf(g2.body.token), 2);
      const replay = await renew(app, g0.token);
      assert.equal(replay.status, 401);
      assert.equal(replay.body.code, 'HS_ERR_TOKEN_REUSED');
      assert.equal(reuses.length, 1);
    });
  });

  test('the thief renewing first: the legitimate holder\'s renewal is the one found out, and the thief\'s token dies with the session', async (t) => {
    const time = clock(t);
    await withApp({}, async (app, reuses) => {
      const victim = await getToken(app.url);
      await get(app, victim.token);
      const thief = await renew(app, victim.token); // copied out of storage and renewed elsewhere
      assert.equal((await get(app, thief.body.token)).status, 200);
      time.tick(GRACE);
      assert.equal((await renew(app, victim.token)).body.code, 'HS_ERR_TOKEN_REUSED');
      assert.equal((await get(app, thief.body.token)).status, 401);
      assert.equal(reuses.length, 1);
    });
  });

  test('a listener that throws does not fail the request (the app\'s bug, reported as a warning)', async (t) => {
    const time = clock(t);
    await withApp({}, async (app) => {
      const warnings: string[] = [];
      const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
      process.on('warning', onWarning);
      app.hs.on('reuse', () => {
        throw new Error('alerting failed');
      });
      try {
        const g0 = await getToken(app.url);
        await get(app, (await renew(app, g0.token)).body.token);
        time.tick(GRACE);
        const replay = await renew(app, g0.token);
        assert.equal(replay.status, 401);
        await new Promise((r) => setImmediate(r));
        assert.ok(warnings.includes('HS_LISTENER_ERROR'));
      } finally {
        process.off('warning', onWarning);
      }
    });
  });

  test('hs.on refuses unknown events and non-functions; off() removes a listener', async () => {
    await withApp({}, async (app) => {
      assert.throws(() => app.hs.on('nope' as never, () => {}), TypeError);
      assert.throws(() => app.hs.on('reuse', 5 as never), TypeError);
      const fn = () => {};
      assert.equal(app.hs.on('reuse', fn), app.hs, 'chainable');
      app.hs.off('reuse', fn);
    });
  });
});

describe('Session-Token renewal on ordinary requests', () => {
  test('the first response past half-life rotates; every other response to the same token carries that same new token', async (t) => {
    const time = clock(t);
    await withApp({ tokenMaxAge: 10_000 }, async (app, reuses) => {
      const first = await getToken(app.url);
      assert.equal((await get(app, first.token)).sessionToken, null, 'fresh: no renewal');
      time.tick(6_000);
      const responses = await Promise.all(Array.from({ length: 10 }, () => get(app, first.token)));
      const carried = new Set(responses.map((r) => r.sessionToken));
      assert.equal(carried.size, 1, 'one new token for all');
      const next = [...carried][0]!;
      assert.equal(generationOf(next), 1);
      time.tick(1_000);
      assert.equal((await get(app, first.token)).sessionToken, next, 'a later response to the old token too');
      assert.equal((await get(app, next)).sessionToken, null, 'the new token is fresh');
      // the client that stored it renews normally later; the old one past the grace is simply refused
      time.tick(GRACE);
      assert.equal((await get(app, first.token)).status, 401);
      assert.equal(reuses.length, 0);
    });
  });
});
