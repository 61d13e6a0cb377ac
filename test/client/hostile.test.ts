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

describe('logout that cannot reach the server', () => {
  test('is remembered in storage: the next ready() (a reload) sends the DELETE first and asks for nothing before it lands', async () => {
    const endpoint = tokenEndpoint();
    const key = uniqueKey();
    const storage = mapStorage();
    let online = true;
    const log: string[] = [];
    server.use(
      http.all(TOKEN_URL, ({ request }) => {
        log.push(`${request.method} ${request.headers.get('authorization')}`);
        if (!online) return HttpResponse.error();
      }),
      ...endpoint.handlers,
    );
    const before = createSession({ url: API, storage, key });
    await before.ready();
    online = false;
    await assert.rejects(before.logout(), { code: 'HS_ERR_NETWORK' });
    assert.equal(before.token, null);
    // A reload while still offline: no token request for the old session, the DELETE is tried again.
    log.length = 0;
    const reloaded = createSession({ url: API, storage, key });
    await assert.rejects(within('ready() offline', reloaded.ready()), { code: 'HS_ERR_NETWORK' });
    assert.deepEqual(new Set(log), new Set(['DELETE Bearer v1.tok1']));
    // The network back: the old session is ended first, then a new one starts (no bearer: nothing of the old one).
    online = true;
    log.length = 0;
    assert.equal(await within('ready() online', reloaded.ready()), 'v1.tok2');
    assert.deepEqual(log, ['DELETE Bearer v1.tok1', 'POST null']);
    assert.equal(storage.map.get(key), 'v1.tok2');
    assert.equal(endpoint.state.deletes, 1, 'the server confirmed once');
  });
});

describe('Session-Token only from the API itself', () => {
  test('not after a redirect to another origin, not from an attachTo origin', async () => {
    const endpoint = tokenEndpoint();
    server.use(
      ...endpoint.handlers,
      http.get(`${API}/avatar`, () => new HttpResponse(null, { status: 302, headers: { Location: 'https://evil.example.test/x' } })),
      http.get('https://evil.example.test/x', () => HttpResponse.json({}, { headers: { 'Session-Token': 'v1.attacker' } })),
      http.get('https://files.example.test/f', () => HttpResponse.json({}, { headers: { 'Session-Token': 'v1.files' } })),
      http.get(`${API}/own`, () => HttpResponse.json({}, { headers: { 'Session-Token': 'v1.own' } })),
    );
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey(), attachTo: ['https://files.example.test'] });
    await s.ready();
    const avatar = await s.fetch('/avatar');
    assert.equal(avatar.redirected, true);
    assert.equal(s.token, 'v1.tok1', 'the redirect target cannot hand over its session');
    await s.fetch('https://files.example.test/f');
    assert.equal(s.token, 'v1.tok1', 'an attachTo origin receives the token but cannot replace it');
    await s.fetch('/own');
    assert.equal(s.token, 'v1.own');
  });
});

describe('two APIs on one page origin', () => {
  test('default options: their own slot each, and API B never sees A\'s token', async () => {
    const B = 'https://b.example.test';
    const seenByB: (string | null)[] = [];
    let n = 0;
    server.use(
      http.post(TOKEN_URL, () => HttpResponse.json({ token: `v1.a${++n}`, expiresAt: Date.now() + 3_600_000, storage: 'memory', created: false })),
      http.post(`${B}/session/token`, ({ request }) => {
        seenByB.push(request.headers.get('authorization'));
        return HttpResponse.json({ token: `v1.b${++n}`, expiresAt: Date.now() + 3_600_000, storage: 'memory', created: false });
      }),
      http.get(`${B}/me`, ({ request }) => (seenByB.push(request.headers.get('authorization')), HttpResponse.json({}))),
    );
    // One backend for both, as localStorage would be.
    const shared = mapStorage();
    const a = createSession({ url: API, storage: shared });
    const tokenA = await a.ready();
    const b = createSession({ url: B, storage: shared });
    const tokenB = await b.ready();
    await b.fetch('/me');
    assert.notEqual(tokenA, tokenB);
    assert.ok(!seenByB.includes(`Bearer ${tokenA}`), `B was sent: ${seenByB.join(', ')}`);
    assert.equal(a.token, tokenA, "B's token did not reach A either");
  });

  test('one key given for both: a token stored by the other API is dropped, not sent', async () => {
    const B = 'https://b.example.test';
    const seenByB: (string | null)[] = [];
    server.use(
      http.post(`${B}/session/token`, ({ request }) => {
        seenByB.push(request.headers.get('authorization'));
        return HttpResponse.json({ token: 'v1.b', expiresAt: Date.now() + 3_600_000, storage: 'memory', created: false });
      }),
    );
    const key = uniqueKey();
    const storage = mapStorage({ [key]: 'v1.fromA', [`${key}.expiry`]: `${Date.now() + 3_600_000},${Date.now() + 1_800_000},${API}` });
    const b = createSession({ url: B, storage, key });
    assert.equal(await b.ready(), 'v1.b');
    assert.deepEqual(seenByB, [null]);
  });
});

describe('what the other tabs post', () => {
  test('malformed messages are ignored and reported through `error`, never thrown; the token stays', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const s = createSession({ url: API, storage: 'memory', key });
    await s.ready();
    // A renewal posts to the other tabs, so the channel is open from here on.
    assert.equal(await s.renew(), 'v1.tok2');
    const errors: string[] = [];
    s.on('error', (e) => errors.push(e.code));
    const hostile = [42, 'x'.repeat(100_000), { token: 'v1.x' }, ['not a token!', 1, 2, API], ['v1.' + 'x'.repeat(600), 1, 2, API], [], [null, 1, 2, API]];
    const channel = new BroadcastChannel(key);
    for (const m of hostile) channel.postMessage(m);
    // Another API's session on the same key: not an error, and not taken either.
    channel.postMessage(['v1.otherapi', Date.now() + 1000, Date.now() + 500, 'https://b.example.test']);
    channel.close();
    const deadline = Date.now() + 15_000;
    while (errors.length < hostile.length && Date.now() < deadline) await sleep(10);
    assert.equal(errors.length, hostile.length);
    assert.equal(s.token, 'v1.tok2');
    assert.deepEqual(new Set(errors), new Set(['HS_ERR_INVALID_TOKEN']));
  });
});

test('a stored value without the token version prefix is dropped: a new token is fetched, the value never sent', async () => {
  const endpoint = tokenEndpoint();
  server.use(...endpoint.handlers);
  const key = uniqueKey();
  const storage = mapStorage({ [key]: 'abc.def', [`${key}.expiry`]: `${Date.now() + 3_600_000},${Date.now() + 1_800_000}` });
  const s = createSession({ url: API, storage, key });
  assert.equal(await s.ready(), 'v1.tok1');
  assert.deepEqual(endpoint.state.bearers, [null]);
  assert.equal(storage.map.get(key), 'v1.tok1');
});
