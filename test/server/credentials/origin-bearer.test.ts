/**
 * DESIGN "Origins" (the scheme counts: an http:// page is not the https:// API's origin; proxy: true trusts
 * X-Forwarded-Proto) and "Foreign bearer tokens" (an Authorization value without the token's version prefix is the
 * app's business: the request goes on as if it had no bearer, the header reaches the app untouched, even beside a
 * valid cookie). Unit tests of the readers, then the same through real servers and the real `ws` client.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { classifyOrigin } from '../../../src/server/credentials/origin.ts';
import { readBearer } from '../../../src/server/credentials/bearer.ts';
import { connect, defaultHandler, getToken, startApp } from '../helpers.ts';

function fakeReq(headers: Record<string, string>, encrypted = false): IncomingMessage {
  return { headers, socket: { encrypted } } as unknown as IncomingMessage;
}
const none = () => false;

describe('same-origin includes the scheme', () => {
  test('plain HTTP request: only an http:// Origin on the same host is same-origin', () => {
    assert.equal(classifyOrigin(fakeReq({ host: 'api.example', origin: 'http://api.example' }), none, false).kind, 'same');
    assert.equal(classifyOrigin(fakeReq({ host: 'api.example', origin: 'https://api.example' }), none, false).kind, 'foreign');
  });

  test('TLS request: an http:// page on the same host is foreign', () => {
    assert.equal(classifyOrigin(fakeReq({ host: 'api.example', origin: 'http://api.example' }, true), none, false).kind, 'foreign');
    assert.equal(classifyOrigin(fakeReq({ host: 'api.example', origin: 'https://api.example' }, true), none, false).kind, 'same');
    assert.equal(classifyOrigin(fakeReq({ host: 'api.example:443', origin: 'https://api.example' }, true), none, false).kind, 'same');
  });

  test('X-Forwarded-Proto counts only with proxy: true', () => {
    const req = fakeReq({ host: 'api.example', origin: 'http://api.example', 'x-forwarded-proto': 'https' });
    assert.equal(classifyOrigin(req, none, true).kind, 'foreign', 'behind a TLS proxy the request came over https');
    assert.equal(classifyOrigin(req, none, false).kind, 'same', 'an untrusted header changes nothing');
    const https = fakeReq({ host: 'api.example', origin: 'https://api.example', 'x-forwarded-proto': 'https' });
    assert.equal(classifyOrigin(https, none, true).kind, 'same');
  });

  test('a listed origin is allowed whatever the scheme', () => {
    assert.equal(classifyOrigin(fakeReq({ host: 'api.example', origin: 'http://api.example' }, true), (o) => o === 'http://api.example', false).kind, 'allowed');
  });
});

describe('foreign bearer values are not ours', () => {
  test('readBearer: only a value with the token version prefix is a hybrid-session bearer', () => {
    assert.deepEqual(readBearer(fakeReq({ authorization: 'Bearer v1.abc.def' })), { present: true, token: 'v1.abc.def', dpop: false });
    assert.deepEqual(readBearer(fakeReq({ authorization: 'bearer v1.x' })), { present: true, token: 'v1.x', dpop: false });
    assert.equal(readBearer(fakeReq({ authorization: 'Bearer v1.' })).present, true, 'prefix with nothing after it: ours, and invalid');
    for (const value of ['Bearer sk_live_123', 'Bearer eyJhbGciOi.eyJzdWIi.sig', 'Bearer v2.abc', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer V1.abc']) {
      assert.equal(readBearer(fakeReq({ authorization: value })).present, false, value);
    }
  });
});

describe('through a real server', () => {
  test('a foreign bearer beside a valid cookie: the cookie session, and the header reaches the app as sent', { timeout: 60_000 }, async () => {
    const seen: (string | undefined)[] = [];
    const app = await startApp({}, (req, res) => {
      seen.push(req.headers.authorization);
      return defaultHandler(req, res);
    });
    try {
      const { cookie } = await getToken(app.url);
      await (await fetch(app.url + '/set?fruit=pear', { headers: { cookie: cookie! } })).arrayBuffer();
      const res = await fetch(app.url + '/', { headers: { cookie: cookie!, authorization: 'Bearer sk_live_app_key' } });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { data: { fruit?: string } }).data.fruit, 'pear');
      const alone = await fetch(app.url + '/', { headers: { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig' } });
      assert.equal(alone.status, 200, 'no cookie: a new (unsaved) session, as with no bearer at all');
      await alone.arrayBuffer();
      assert.deepEqual(seen.slice(-2), ['Bearer sk_live_app_key', 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig']);
      // One that carries the prefix and fails is still refused, even beside the cookie.
      const forged = await fetch(app.url + '/', { headers: { cookie: cookie!, authorization: 'Bearer v1.forged' } });
      assert.equal(forged.status, 401);
      await forged.arrayBuffer();
    } finally {
      await app.stop();
    }
  });

  test('an https:// origin is not same-origin with a plain-http server: the cookie websocket is refused 403', { timeout: 60_000 }, async () => {
    const app = await startApp();
    try {
      const { cookie } = await getToken(app.url);
      const host = new URL(app.url).host;
      const other = connect(app.wsUrl, ['hybrid-session'], { headers: { cookie: cookie!, origin: `https://${host}` } });
      assert.equal(await other.unexpected, 403);
      const same = connect(app.wsUrl, ['hybrid-session'], { headers: { cookie: cookie!, origin: `http://${host}` } });
      await same.opened;
      same.ws.close();
      const preflightless = await fetch(app.url + '/session/token', { method: 'POST', headers: { cookie: cookie!, origin: `https://${host}` } });
      assert.equal(preflightless.status, 403);
      await preflightless.arrayBuffer();
    } finally {
      await app.stop();
    }
  });
});
