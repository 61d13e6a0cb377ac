/** createSession's lifecycle against msw: ready(), renewal (single flight, timer, created → expired), logout, tabs, options. */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, HttpResponse } from 'msw';
import { createSession, isHybridSessionError } from '../../src/client/index.ts';
import { API, mapStorage, mswServer, nextEvent, tokenEndpoint, TOKEN_URL, uniqueKey } from './support.ts';

const server = mswServer();
/** Waits (on real microtasks/IO, bounded by the test's timeout) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}
after(() => server.close());
afterEach(() => server.resetHandlers());

describe('ready()', () => {
  test('a token in storage is used as is: no request, no storage read per fetch', async () => {
    const endpoint = tokenEndpoint();
    const key = uniqueKey();
    const storage = mapStorage({ [key]: 'v1.stored', [`${key}.expiry`]: `${Date.now() + 60_000},${Date.now() + 30_000}` });
    const auths: (string | null)[] = [];
    server.use(...endpoint.handlers, http.get(`${API}/n`, ({ request }) => (auths.push(request.headers.get('authorization')), HttpResponse.json({}))));
    const s = createSession({ url: API, storage, key });
    assert.equal(await s.ready(), 'v1.stored');
    assert.equal(s.storage, 'custom');
    const reads = storage.reads;
    await Promise.all(Array.from({ length: 10 }, () => s.fetch('/n')));
    assert.equal(storage.reads, reads, 'fetch reads the token from memory');
    assert.deepEqual(new Set(auths), new Set(['Bearer v1.stored']));
    assert.equal(endpoint.state.posts, 0);
    assert.ok(s.expiresAt! > Date.now());
  });

  test('no token stored: one from the endpoint, persisted with its expiry', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const storage = mapStorage();
    const s = createSession({ url: API, storage, key });
    const emitted = nextEvent(s, 'token');
    assert.equal(await s.ready(), 'v1.tok1');
    assert.equal(await emitted, 'v1.tok1');
    assert.equal(storage.map.get(key), 'v1.tok1');
    const [expiresAt, renewAt] = storage.map.get(`${key}.expiry`)!.split(',').map(Number);
    assert.ok(renewAt < expiresAt && renewAt > Date.now());
    assert.equal(s.expiresAt, expiresAt);
    assert.equal(endpoint.state.bearers[0], null);
  });

  test('a corrupt stored token is discarded and replaced', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const storage = mapStorage({ [key]: 'not a token; <script>' });
    const s = createSession({ url: API, storage, key });
    assert.equal(await s.ready(), 'v1.tok1');
    assert.equal(endpoint.state.bearers[0], null, 'the corrupt value is never sent');
    assert.equal(storage.map.get(key), 'v1.tok1');
  });

  test('the endpoint unreachable: ready() rejects with HS_ERR_NETWORK, the error event says so, a later ready() retries', async () => {
    let up = false;
    const endpoint = tokenEndpoint();
    server.use(http.post(TOKEN_URL, () => (up ? undefined : HttpResponse.error())), ...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    const error = nextEvent(s, 'error');
    await assert.rejects(s.ready(), (e) => isHybridSessionError(e) && e.code === 'HS_ERR_NETWORK');
    assert.equal((await error).code, 'HS_ERR_NETWORK');
    up = true;
    assert.equal(await s.ready(), 'v1.tok1');
  });

  test('a 5xx or a body without a valid token rejects with HS_ERR_ENDPOINT, the request and status named', async () => {
    server.use(http.post(TOKEN_URL, () => HttpResponse.json({ token: 'bad token' }, { status: 503 })));
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await assert.rejects(s.ready(), { code: 'HS_ERR_ENDPOINT', status: 503, message: 'POST /session/token: 503' });
    assert.equal(s.token, null);
    server.use(http.post(TOKEN_URL, () => HttpResponse.json({ token: 'no-prefix' })));
    await assert.rejects(s.ready(), { code: 'HS_ERR_ENDPOINT', status: 200, message: 'POST /session/token: 200 without a token' });
  });

});

describe('renewal', () => {
  test('renew() presents the current bearer with credentials and keeps the new token', async () => {
    const endpoint = tokenEndpoint();
    let credentials: string | undefined;
    server.use(http.post(TOKEN_URL, ({ request }) => void (credentials = request.credentials)), ...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    assert.equal(await s.renew(), 'v1.tok2');
    assert.deepEqual(endpoint.state.bearers, [null, 'Bearer v1.tok1']);
    assert.equal(credentials, 'include');
  });

  test('concurrent renew() calls share one request', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => s.renew()));
    assert.deepEqual(new Set(tokens), new Set(['v1.tok2']));
    assert.equal(endpoint.state.posts, 2);
  });

  test('created: true while a token was held → expired, and the new token is in place', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    let expiredEvents = 0;
    s.on('expired', () => expiredEvents++);
    await s.ready();
    assert.equal(expiredEvents, 0, 'a first session is not an expiry');
    endpoint.state.created = true;
    const expired = nextEvent(s, 'expired');
    await s.renew();
    await expired;
    assert.equal(s.token, 'v1.tok2');
    assert.equal(expiredEvents, 1);
  });

  test('401 invalid_token from the endpoint (HS_ERR_TOKEN_REUSED: the session was ended) → a new session without the dead token, expired', async () => {
    const endpoint = tokenEndpoint();
    let reused = false;
    server.use(
      http.post(TOKEN_URL, ({ request }) => {
        if (!reused || !request.headers.get('authorization')) return undefined;
        return HttpResponse.json(
          { error: 'invalid_token', code: 'HS_ERR_TOKEN_REUSED', message: 'rotated out' },
          { status: 401, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } },
        );
      }),
      ...endpoint.handlers,
    );
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    reused = true;
    const expired = nextEvent(s, 'expired');
    endpoint.state.created = true;
    assert.equal(await s.renew(), 'v1.tok2');
    await expired;
    assert.equal(endpoint.state.bearers.at(-1), null, 'the retry carries no bearer');
  });

  test('a timed renewal whose answer was lost is retried with the same token, not reported as logout', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
    const endpoint = tokenEndpoint({ life: 20_000 });
    let lose = 0;
    server.use(http.post(TOKEN_URL, () => (lose-- > 0 ? HttpResponse.error() : undefined)), ...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    let logouts = 0;
    s.on('logout', () => logouts++);
    s.on('expired', () => logouts++);
    const errors: string[] = [];
    s.on('error', (e) => errors.push(e.code));
    lose = 1;
    const first = s.token;
    t.mock.timers.tick(10_000); // half-life: the timed renewal, whose answer is lost
    await until(() => errors.length === 1);
    assert.equal(s.token, first, 'the token stays');
    t.mock.timers.tick(5_000); // the retry
    await until(() => s.token !== first);
    assert.deepEqual(endpoint.state.bearers.slice(-1), [`Bearer ${first}`], 'retried with the same token');
    assert.equal(logouts, 0);
  });

  test('the token is renewed by itself at half-life, never sooner than the floor', async () => {
    // Half of 400 ms is under the 1 s floor: renewed at the floor (doubled once for that short answer), not at 200 ms.
    const endpoint = tokenEndpoint({ life: 400 });
    server.use(...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    assert.ok(s.expiresAt! > Date.now() - 400);
    assert.equal(await nextEvent(s, 'token', 60_000), 'v1.tok2');
    assert.equal(endpoint.state.bearers[1], 'Bearer v1.tok1');
    assert.ok(s.expiresAt! > Date.now());
    // Its timer would go on renewing every 200 ms, into the next tests' endpoints.
    await s.forget();
  });

  test('a stored token past its renewal time is renewed at once, with itself as bearer', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const storage = mapStorage({ [key]: 'v1.old', [`${key}.expiry`]: `${Date.now() + 1000},${Date.now() - 1000}` });
    const s = createSession({ url: API, storage, key });
    assert.equal(await s.ready(), 'v1.old');
    assert.equal(await nextEvent(s, 'token'), 'v1.tok1');
    assert.deepEqual(endpoint.state.bearers, ['Bearer v1.old']);
  });
});

test('a stored token already expired is renewed before ready() resolves: only the endpoint ever sees it', async () => {
  const endpoint = tokenEndpoint();
  endpoint.state.created = true;
  const auths: (string | null)[] = [];
  server.use(...endpoint.handlers, http.get(`${API}/me`, ({ request }) => (auths.push(request.headers.get('authorization')), HttpResponse.json({}))));
  const key = uniqueKey();
  const storage = mapStorage({ [key]: 'v1.dead', [`${key}.expiry`]: `${Date.now() - 1000},${Date.now() - 2000}` });
  const s = createSession({ url: API, storage, key });
  const expired = nextEvent(s, 'expired');
  const [ready] = await Promise.all([s.ready(), s.fetch('/me')]);
  assert.equal(ready, 'v1.tok1');
  await expired;
  assert.deepEqual(endpoint.state.bearers, ['Bearer v1.dead']);
  assert.deepEqual(auths, ['Bearer v1.tok1']);
});

describe('logout() and forget()', () => {
  test('logout sends DELETE with the bearer, clears memory and storage, emits logout', async () => {
    const endpoint = tokenEndpoint();
    let auth: string | null = null;
    server.use(http.delete(TOKEN_URL, ({ request }) => void (auth = request.headers.get('authorization'))), ...endpoint.handlers);
    const key = uniqueKey();
    const storage = mapStorage();
    const s = createSession({ url: API, storage, key });
    await s.ready();
    assert.equal(storage.map.get(key), 'v1.tok1');
    const out = nextEvent(s, 'logout');
    await s.logout();
    await out;
    assert.equal(auth, 'Bearer v1.tok1');
    assert.equal(endpoint.state.deletes, 1);
    assert.equal(s.token, null);
    assert.equal(storage.map.size, 0);
  });

  test('logout offline: the token is gone here anyway, and the promise says the server was not reached', async () => {
    const endpoint = tokenEndpoint();
    server.use(http.delete(TOKEN_URL, () => HttpResponse.error()), ...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    await assert.rejects(s.logout(), { code: 'HS_ERR_NETWORK' });
    assert.equal(s.token, null);
  });

  test('a renewal answered after logout does not bring the token back, and ends the session it made before renew() settles', async () => {
    const endpoint = tokenEndpoint();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let hold = false;
    let posted!: () => void;
    const inFlight = new Promise<void>((r) => (posted = r));
    const deleted: (string | null)[] = [];
    server.use(
      http.post(TOKEN_URL, async () => {
        if (!hold) return;
        posted();
        await gate;
      }),
      http.delete(TOKEN_URL, ({ request }) => {
        deleted.push(request.headers.get('authorization'));
        return new HttpResponse(null, { status: 204 });
      }),
      ...endpoint.handlers,
    );
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.ready();
    hold = true;
    const renewing = s.renew();
    // The renewal's POST has reached the server (not a sleep that a slow machine could outrun) before the logout.
    await inFlight;
    await s.logout();
    assert.deepEqual(deleted, ['Bearer v1.tok1']);
    release();
    await renewing;
    // The late answer's token (tok2) was ended by the time renew() settled, not by a DELETE still on its way.
    assert.deepEqual(deleted, ['Bearer v1.tok1', 'Bearer v1.tok2']);
    assert.equal(s.token, null);
  });

  test('forget() drops the token here only; ready() then asks for a new one', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const storage = mapStorage();
    const s = createSession({ url: API, storage, key });
    await s.ready();
    await s.forget();
    assert.equal(s.token, null);
    assert.equal(storage.map.get(key), undefined);
    assert.equal(endpoint.state.deletes, 0);
    assert.equal(await s.ready(), 'v1.tok2');
    assert.equal(endpoint.state.bearers[1], null);
  });
});

describe('tabs (two sessions with one key talk over BroadcastChannel, as tabs do)', () => {
  test('a renewal in one reaches the other; a logout in one logs the other out', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const a = createSession({ url: API, storage: 'memory', key });
    await a.ready();
    const storage = mapStorage({ [key]: a.token! });
    const b = createSession({ url: API, storage, key });
    assert.equal(await b.ready(), 'v1.tok1');
    const seen = nextEvent(b, 'token');
    await a.renew();
    assert.equal(await seen, 'v1.tok2');
    assert.equal(b.token, 'v1.tok2');
    const out = nextEvent(b, 'logout');
    await a.logout();
    await out;
    assert.equal(b.token, null);
    assert.equal(endpoint.state.posts, 2);
  });

  test('a tab that renews after another did takes the stored token instead of asking', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const key = uniqueKey();
    const shared = mapStorage();
    const a = createSession({ url: API, storage: shared, key: key });
    await a.ready();
    // b uses another key for its channel, so only the shared storage can tell it about a's renewal.
    const b = createSession({ url: API, storage: { get: (k) => shared.get(k.replace(/^b-/, '')), set: () => {}, del: () => {} }, key: `b-${key}` });
    assert.equal(await b.ready(), 'v1.tok1');
    await a.renew();
    assert.equal(await b.renew(), 'v1.tok2');
    assert.equal(endpoint.state.posts, 2);
  });
});

describe('options', () => {
  test('invalid options throw HS_ERR_INVALID_OPTIONS at creation', () => {
    for (const bad of [{}, { url: 'not a url' }, { url: API, storage: 'cookies' }, { url: API, storage: { get() {} } }, { url: API, attachTo: ['::'] }]) {
      assert.throws(() => createSession(bad as never), (e) => isHybridSessionError(e) && e.code === 'HS_ERR_INVALID_OPTIONS', JSON.stringify(bad));
    }
  });

  test('tokenPath is resolved against url', async () => {
    let hits = 0;
    server.use(http.post(`${API}/auth/tok`, () => (hits++, HttpResponse.json({ token: 'v1.x', expiresAt: Date.now() + 1e6, storage: 'memory', created: true }))));
    const s = createSession({ url: `${API}/`, tokenPath: '/auth/tok', storage: 'memory', key: uniqueKey() });
    assert.equal(await s.ready(), 'v1.x');
    assert.equal(hits, 1);
  });

  test('on() returns an unsubscribe function', async () => {
    const endpoint = tokenEndpoint();
    server.use(...endpoint.handlers);
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    const got: string[] = [];
    const off = s.on('token', (t) => got.push(t));
    await s.ready();
    off();
    await s.renew();
    assert.deepEqual(got, ['v1.tok1']);
  });
});
