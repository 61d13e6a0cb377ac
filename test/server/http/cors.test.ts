import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp } from '../helpers.ts';

const APP = 'https://app.example';

describe('CORS', () => {
  test('a listed origin gets credentialed CORS exposing Session-Token and WWW-Authenticate', async () => {
    const app = await startApp({ allowedOrigins: [APP, 'capacitor://localhost'] });
    try {
      for (const origin of [APP, 'capacitor://localhost']) {
        const res = await fetch(app.url + '/session/token', { method: 'POST', headers: { origin } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('access-control-allow-origin'), origin);
        assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
        assert.equal(res.headers.get('access-control-expose-headers'), 'Session-Token, WWW-Authenticate, DPoP-Nonce, Date');
        assert.match(res.headers.get('vary')!, /Origin/);
      }
      const unauthorized = await fetch(app.url + '/', { headers: { origin: APP, authorization: 'Bearer x' } });
      assert.equal(unauthorized.status, 401);
      assert.equal(unauthorized.headers.get('access-control-allow-origin'), APP, 'a 401 is readable by the app');
    } finally {
      await app.stop();
    }
  });

  test('preflight from a listed origin: 204 with methods and Authorization, Content-Type', async () => {
    const app = await startApp({ allowedOrigins: [APP] });
    try {
      const res = await fetch(app.url + '/anything', {
        method: 'OPTIONS',
        headers: { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), APP);
      assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
      assert.equal(res.headers.get('access-control-allow-methods'), 'GET, HEAD, POST, PUT, PATCH, DELETE');
      assert.equal(res.headers.get('access-control-allow-headers'), 'Authorization, Content-Type, DPoP');
    } finally {
      await app.stop();
    }
  });

  test('a foreign origin gets no CORS headers; the token endpoint refuses it (403)', async () => {
    const app = await startApp({ allowedOrigins: [APP] });
    try {
      for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example', 'null', APP + ':443x']) {
        const res = await fetch(app.url + '/', { headers: { origin } });
        assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
        const token = await fetch(app.url + '/session/token', { method: 'POST', headers: { origin } });
        assert.equal(token.status, 403, origin);
        assert.equal(token.headers.getSetCookie().length, 0);
        const del = await fetch(app.url + '/session/token', { method: 'DELETE', headers: { origin } });
        assert.equal(del.status, 403, origin);
        const preflight = await fetch(app.url + '/x', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
        assert.equal(preflight.headers.get('access-control-allow-origin'), null);
      }
    } finally {
      await app.stop();
    }
  });

  test('"null" (file:// apps) only when listed', async () => {
    const app = await startApp({ allowedOrigins: ['null'] });
    try {
      const res = await fetch(app.url + '/session/token', { method: 'POST', headers: { origin: 'null' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), 'null');
    } finally {
      await app.stop();
    }
  });

  test('no Origin and same-origin requests are allowed without listing', async () => {
    const app = await startApp();
    try {
      assert.equal((await fetch(app.url + '/session/token', { method: 'POST' })).status, 200);
      const same = await fetch(app.url + '/session/token', { method: 'POST', headers: { origin: app.url } });
      assert.equal(same.status, 200);
      assert.equal(same.headers.get('access-control-allow-origin'), null, 'same-origin needs no CORS');
    } finally {
      await app.stop();
    }
  });

  test('a predicate decides', async () => {
    const app = await startApp({ allowedOrigins: (o) => o.endsWith('.trusted.example') });
    try {
      const ok = await fetch(app.url + '/', { headers: { origin: 'https://a.trusted.example' } });
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://a.trusted.example');
      const no = await fetch(app.url + '/', { headers: { origin: 'https://trusted.example.evil' } });
      assert.equal(no.headers.get('access-control-allow-origin'), null);
    } finally {
      await app.stop();
    }
  });
});
