/** session.fetch against msw: where the bearer goes, how relative paths resolve, retry rules, header pickup, offline. */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, HttpResponse } from 'msw';
import { createSession } from '../../src/client/index.ts';
import { API, invalidToken, mapStorage, mswServer, nextEvent, tokenEndpoint, uniqueKey } from './support.ts';

const server = mswServer();
after(() => server.close());
afterEach(() => server.resetHandlers());

/** A session whose first token (v1.tok1) came from the endpoint. */
async function session(extra: Parameters<typeof createSession>[0] extends infer O ? Partial<O> : never = {}) {
  const endpoint = tokenEndpoint();
  server.use(...endpoint.handlers);
  const key = uniqueKey();
  const s = createSession({ url: API, storage: 'memory', key, ...extra });
  assert.equal(await s.ready(), 'v1.tok1');
  return { s, endpoint, key };
}

describe('which requests carry the token', () => {
  test('the API origin gets Authorization: Bearer and credentials include', async () => {
    const { s } = await session();
    let seen: Request | undefined;
    server.use(http.get(`${API}/me`, ({ request }) => ((seen = request), HttpResponse.json({ ok: true }))));
    const res = await s.fetch(`${API}/me`);
    assert.equal(res.status, 200);
    assert.equal(seen!.headers.get('authorization'), 'Bearer v1.tok1');
    assert.equal(seen!.credentials, 'include');
  });

  test('another origin gets neither the token nor changed credentials', async () => {
    const { s } = await session();
    let seen: Request | undefined;
    server.use(http.get('https://other.example.test/x', ({ request }) => ((seen = request), HttpResponse.json({}))));
    await s.fetch('https://other.example.test/x');
    assert.equal(seen!.headers.get('authorization'), null);
    assert.notEqual(seen!.credentials, 'include');
    // Same host, other port or scheme: another origin.
    server.use(http.get('http://api.example.test/y', ({ request }) => ((seen = request), HttpResponse.json({}))));
    await s.fetch('http://api.example.test/y');
    assert.equal(seen!.headers.get('authorization'), null);
  });

  test('attachTo origins get it (exact origin), their subdomains do not', async () => {
    const { s } = await session({ attachTo: ['https://files.example.test/any/path'] });
    const auth: Record<string, string | null> = {};
    server.use(
      http.get('https://files.example.test/f', ({ request }) => ((auth.files = request.headers.get('authorization')), HttpResponse.json({}))),
      http.get('https://x.files.example.test/f', ({ request }) => ((auth.sub = request.headers.get('authorization')), HttpResponse.json({}))),
    );
    await s.fetch('https://files.example.test/f');
    await s.fetch('https://x.files.example.test/f');
    assert.deepEqual(auth, { files: 'Bearer v1.tok1', sub: null });
  });

  test('relative paths resolve against url, not the page; URL and Request inputs work too', async () => {
    const { s } = await session({ url: `${API}/v1/` });
    const hits: string[] = [];
    server.use(
      http.all(`${API}/*`, ({ request }) => {
        if (new URL(request.url).pathname === '/session/token') return;
        hits.push(`${request.method} ${new URL(request.url).pathname} ${request.headers.get('authorization')}`);
        return HttpResponse.json({});
      }),
    );
    await s.fetch('/root');
    await s.fetch('items');
    await s.fetch(new URL(`${API}/url`));
    await s.fetch(new Request(`${API}/req`, { method: 'PUT', body: 'x' }));
    assert.deepEqual(hits, ['GET /root Bearer v1.tok1', 'GET /v1/items Bearer v1.tok1', 'GET /url Bearer v1.tok1', 'PUT /req Bearer v1.tok1']);
  });

  test("an Authorization header set by the app is left alone", async () => {
    const { s } = await session();
    let auth: string | null = null;
    server.use(http.get(`${API}/basic`, ({ request }) => ((auth = request.headers.get('authorization')), HttpResponse.json({}))));
    await s.fetch('/basic', { headers: { Authorization: 'Basic YTpi' } });
    assert.equal(auth, 'Basic YTpi');
  });

  test('a fetch issued before ready() waits for the token', async () => {
    const endpoint = tokenEndpoint();
    let auth: string | null = null;
    server.use(...endpoint.handlers, http.get(`${API}/early`, ({ request }) => ((auth = request.headers.get('authorization')), HttpResponse.json({}))));
    const s = createSession({ url: API, storage: 'memory', key: uniqueKey() });
    await s.fetch('/early');
    assert.equal(auth, 'Bearer v1.tok1');
  });
});

describe('401 invalid_token: renew once, retry once', () => {
  /** An API that refuses every token but the endpoint's latest, and records what it was sent. */
  function strictApi(endpoint: ReturnType<typeof tokenEndpoint>, seen: string[] = []) {
    return http.all(`${API}/api/*`, async ({ request }) => {
      const auth = request.headers.get('authorization');
      seen.push(`${auth} ${request.method === 'GET' ? '' : await request.text()}`.trim());
      return auth === `Bearer ${endpoint.state.current}` ? HttpResponse.json({ ok: true }) : invalidToken();
    });
  }

  test('100 concurrent failing requests make exactly one renewal, and all succeed on their retry', async () => {
    const { s, endpoint } = await session();
    server.use(strictApi(endpoint));
    endpoint.state.current = 'v1.revoked'; // the server no longer accepts tok1
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => s.fetch(`/api/item/${i}`)));
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    assert.equal(endpoint.state.posts, 2, 'the first token, then one renewal');
    assert.equal(endpoint.state.bearers[1], 'Bearer v1.tok1', 'the renewal presents the refused token');
    assert.equal(s.token, 'v1.tok2');
  });

  test('a request answered 401 after the renewal already happened retries without renewing again', async () => {
    const { s, endpoint } = await session();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    server.use(
      http.get(`${API}/api/slow`, async ({ request }) => {
        if (first) {
          first = false;
          await gate; // answers only after the other request's renewal
          return invalidToken();
        }
        return request.headers.get('authorization') === `Bearer ${endpoint.state.current}` ? HttpResponse.json({}) : invalidToken();
      }),
      strictApi(endpoint),
    );
    endpoint.state.current = 'v1.revoked';
    const slow = s.fetch('/api/slow');
    assert.equal((await s.fetch('/api/fast')).status, 200);
    release();
    assert.equal((await slow).status, 200);
    assert.equal(endpoint.state.posts, 2);
  });

  test('re-sendable bodies (string, Blob, ArrayBuffer, URLSearchParams, FormData, Request) are sent again', async () => {
    const bodies: [string, (s: Awaited<ReturnType<typeof session>>['s']) => Promise<Response>][] = [
      ['text', (s) => s.fetch('/api/a', { method: 'POST', body: 'text' })],
      ['blob', (s) => s.fetch('/api/a', { method: 'POST', body: new Blob(['blob']) })],
      ['buffer', (s) => s.fetch('/api/a', { method: 'POST', body: new TextEncoder().encode('buffer').buffer })],
      ['q=1', (s) => s.fetch('/api/a', { method: 'POST', body: new URLSearchParams({ q: '1' }) })],
      ['request', (s) => s.fetch(new Request(`${API}/api/a`, { method: 'POST', body: 'request' }))],
      ['value', (s) => {
        const form = new FormData();
        form.set('field', 'value');
        return s.fetch('/api/form', { method: 'POST', body: form });
      }],
    ];
    // One session per body: renewals are paced (a burst of 3), and each body needs one.
    for (const [body, send] of bodies) {
      const { s, endpoint } = await session();
      const seen: string[] = [];
      server.use(strictApi(endpoint, seen));
      endpoint.state.current = 'v1.revoked';
      const res = await send(s);
      assert.equal(res.status, 200, body);
      assert.equal(seen.length, 2, body);
      assert.ok(seen[1].includes(body), `${body}: the retry carries the body (${seen[1]})`);
      assert.equal(seen[1].split(' ')[1], endpoint.state.current!, `${body}: the retry carries the new token`);
      assert.equal(endpoint.state.posts, 2, body);
    }
  });

  test('a stream body is not sent twice: the caller gets the 401, and the token is renewed for next time', async () => {
    const { s, endpoint } = await session();
    const seen: string[] = [];
    server.use(strictApi(endpoint, seen));
    endpoint.state.current = 'v1.revoked';
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('stream'));
        c.close();
      },
    });
    const res = await s.fetch('/api/upload', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.equal(res.status, 401);
    assert.equal(seen.length, 1);
    assert.equal(endpoint.state.posts, 2);
    assert.equal(s.token, 'v1.tok2');
    assert.equal((await s.fetch('/api/next')).status, 200);
  });

  test('a 401 without invalid_token (the app saying "log in") is returned, nothing renewed', async () => {
    const { s, endpoint } = await session();
    server.use(http.get(`${API}/private`, () => new HttpResponse(null, { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="app"' } })));
    assert.equal((await s.fetch('/private')).status, 401);
    assert.equal(endpoint.state.posts, 1);
    assert.equal(s.token, 'v1.tok1');
  });

  test('a retry refused again is returned as is (no loop)', async () => {
    const { s, endpoint } = await session();
    let calls = 0;
    server.use(http.get(`${API}/never`, () => (calls++, invalidToken())));
    assert.equal((await s.fetch('/never')).status, 401);
    assert.equal(calls, 2);
    assert.equal(endpoint.state.posts, 2);
  });
});

describe('Session-Token header', () => {
  test('a fresh token in a response replaces the token, is stored, emitted, and sent next', async () => {
    const storage = mapStorage();
    const { s, key } = await session({ storage });
    server.use(
      http.post(`${API}/login`, () => HttpResponse.json({}, { headers: { 'Session-Token': 'v1.fresh' } })),
      http.get(`${API}/after`, ({ request }) => HttpResponse.json({ auth: request.headers.get('authorization') })),
    );
    const emitted = nextEvent(s, 'token');
    await s.fetch('/login', { method: 'POST' });
    assert.equal(await emitted, 'v1.fresh');
    assert.equal(s.token, 'v1.fresh');
    assert.deepEqual(await (await s.fetch('/after')).json(), { auth: 'Bearer v1.fresh' });
    assert.equal(storage.map.get(key), 'v1.fresh');
  });

  test('a malformed Session-Token is ignored', async () => {
    const { s } = await session();
    server.use(http.get(`${API}/bad`, () => HttpResponse.json({}, { headers: { 'Session-Token': 'not a token!' } })));
    await s.fetch('/bad');
    assert.equal(s.token, 'v1.tok1');
  });
});

describe('offline', () => {
  test('a network error reaches the caller and leaves the token (memory and storage) in place', async () => {
    const storage = mapStorage();
    const { s } = await session({ storage });
    const stored = [...storage.map.entries()];
    server.use(http.get(`${API}/down`, () => HttpResponse.error()));
    await assert.rejects(s.fetch('/down'), TypeError);
    assert.equal(s.token, 'v1.tok1');
    assert.deepEqual([...storage.map.entries()], stored);
  });

  test('a renewal that cannot reach the endpoint rejects with HS_ERR_NETWORK and keeps the token', async () => {
    const { s } = await session();
    server.use(http.post(`${API}/session/token`, () => HttpResponse.error()));
    await assert.rejects(s.renew(), { name: 'HybridSessionError', code: 'HS_ERR_NETWORK' });
    assert.equal(s.token, 'v1.tok1');
  });

  test('a 401 invalid_token while the endpoint is unreachable returns the 401 and keeps the token', async () => {
    const { s } = await session();
    let calls = 0;
    server.use(http.post(`${API}/session/token`, () => HttpResponse.error()), http.get(`${API}/x`, () => (calls++, invalidToken())));
    assert.equal((await s.fetch('/x')).status, 401);
    assert.equal(calls, 1, 'no retry with the same refused token');
    assert.equal(s.token, 'v1.tok1');
  });
});
