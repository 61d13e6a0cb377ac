/**
 * The client under a broken or hostile server (issue 14), against msw: a token request that never gets an answer,
 * expiries already past or a device clock far ahead, a late Session-Token after logout. Each case failed on the
 * client before the fix (a hang, a renewal storm, a session brought back).
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, HttpResponse } from 'msw';
import { createSession, isHybridSessionError } from '../../src/client/index.ts';
import { API, mapStorage, mswServer, tokenEndpoint, TOKEN_URL, uniqueKey } from './support.ts';

const server = mswServer();
after(() => server.close());
afterEach(() => server.resetHandlers());

/** `p`, or a rejection naming `what` after `ms`: a bound that turns a hang into a failure, never a timing check. */
const within = <T>(what: string, p: Promise<T>, ms = 15_000) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms))]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a token request that never gets an answer', () => {
  test('fails the single flight with HS_ERR_NETWORK after the deadline; the next caller starts a new request', async () => {
    let posts = 0;
    const endpoint = tokenEndpoint();
    server.use(
      http.post(TOKEN_URL, async () => {
        // The first request hangs for good (a stalled proxy, a half-open connection).
        if (++posts === 1) await new Promise(() => {});
      }),
      ...endpoint.handlers,
    );
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey(), timeout: 300 });
    const error = await within('ready()', s.ready()).then(
      () => assert.fail('ready() resolved'),
      (e) => e,
    );
    assert.ok(isHybridSessionError(error) && error.code === 'HS_ERR_NETWORK', String(error));
    assert.match(error.message, /POST \/session\/token/);
    assert.equal(await within('the second ready()', s.ready()), 'v1.tok1');
    assert.equal(posts, 2);
  });

  test('a body that never ends counts as no answer: the deadline covers the answer too', async () => {
    // A stream that sends its headers and then nothing: the deadline covers the answer, not only the connect.
    server.use(http.post(TOKEN_URL, () => new HttpResponse(new ReadableStream({ start() {} }), { headers: { 'Content-Type': 'application/json' } })));
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey(), timeout: 300 });
    await assert.rejects(within('ready()', s.ready()), { code: 'HS_ERR_NETWORK' });
  });
});

describe('renewal rate, whatever the server answers', () => {
  test('an endpoint answering expiries already past: at most 3 token requests in 3 s', async () => {
    let posts = 0;
    let n = 0;
    server.use(
      http.post(TOKEN_URL, () => {
        posts++;
        return HttpResponse.json({ token: `v1.past${++n}`, expiresAt: Date.now() - 60_000, storage: 'memory', created: false });
      }),
    );
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    // Not a timing assertion: a slower machine makes fewer requests in this window, never more.
    await sleep(3000);
    assert.ok(posts <= 3, `${posts} token requests in 3 s`);
    await s.forget();
  });

  test('a device clock 2 h ahead: the lifetime is taken from the server (its Date), no storm, the token counts as valid', async () => {
    const real = Date.now;
    const serverNow = () => performance.timeOrigin + performance.now();
    const endpoint = tokenEndpoint();
    let posts = 0;
    server.use(
      http.post(TOKEN_URL, () => {
        posts++;
        const t = endpoint.state.next();
        // The server's own clock: an hour of life from its point of view.
        return HttpResponse.json({ ...t, expiresAt: serverNow() + 3_600_000 }, { headers: { Date: new Date(serverNow()).toUTCString() } });
      }),
    );
    Date.now = () => serverNow() + 2 * 3_600_000;
    try {
      const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
      await s.ready();
      await sleep(3000);
      assert.ok(posts <= 3, `${posts} token requests in 3 s`);
      assert.ok(s.expiresAt! > Date.now() + 3_000_000, 'the expiry is on the device clock, about an hour ahead of it');
      await s.forget();
    } finally {
      Date.now = real;
    }
  });

  test('renewals back to back (a server refusing every token it mints): a burst of 3 at most, then paced', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    const started = endpoint.state.posts;
    let stop = false;
    const chain = (async () => {
      for (let i = 0; i < 10 && !stop; i++) await s.renew().catch(() => null);
    })();
    // Not a timing assertion: a slower machine makes fewer requests in this window, never more.
    await sleep(1500);
    const made = endpoint.state.posts - started;
    stop = true;
    assert.ok(made <= 3, `${made} token requests in 1.5 s`);
    await s.forget();
    void chain;
  });
});

describe('one logout rule for every way a token arrives', () => {
  test('a Session-Token arriving after logout() (a login in flight) is not adopted: signed out, storage empty, that session ended', async () => {
    const endpoint = tokenEndpoint();
    const key = uniqueKey();
    const storage = mapStorage();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const reached = new Promise<void>((r) => (arrived = r));
    const deletes: (string | null)[] = [];
    server.use(
      http.delete(TOKEN_URL, ({ request }) => {
        deletes.push(request.headers.get('authorization'));
        return new HttpResponse(null, { status: 204 });
      }),
      http.post(`${API}/login`, async () => {
        arrived();
        await gate;
        return HttpResponse.json({ user: 'alice' }, { headers: { 'Session-Token': 'v1.signedin' } });
      }),
      ...endpoint.handlers,
    );
    const s = createSession({ url: API, storage, key });
    await s.ready();
    const tokens: string[] = [];
    s.on('token', (t) => tokens.push(t));
    const login = s.fetch('/login', { method: 'POST' });
    await reached;
    await s.logout();
    release();
    await login;
    // Whatever ran in between (a write, a broadcast), the end state: nothing here, nothing stored.
    await sleep(50);
    assert.equal(s.token, null);
    assert.deepEqual(tokens, []);
    assert.equal(storage.map.get(key), undefined);
    assert.ok(deletes.includes('Bearer v1.signedin'), `the late session is ended too (DELETEs: ${deletes.join(', ')})`);
  });
});
