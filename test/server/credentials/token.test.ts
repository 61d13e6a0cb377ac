import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signToken, verifyToken, readToken, nearsExpiry } from '../../../src/server/credentials/token.ts';
import { deriveTokenKey } from '../../../src/server/options.ts';
import { isWellFormedToken, TOKEN_MAX_LENGTH } from '../../../src/shared/protocol.ts';
import { MemoryStore } from '../../../src/server/index.ts';
import { SECRET, OLD_SECRET, countingStore, getToken, startApp } from '../helpers.ts';

const keys = [deriveTokenKey(SECRET)];
const B64URL_DOT = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';

describe('token format', () => {
  test('v1.<b64url sid>.<expiry>.<generation>.<b64url mac>, well-formed, bounded, round-trips', () => {
    const exp = Date.now() + 60_000;
    const token = signToken('some-session-id', exp, keys, 7);
    assert.ok(isWellFormedToken(token));
    const parts = token.split('.');
    assert.equal(parts.length, 5);
    assert.equal(parts[0], 'v1');
    assert.equal(Buffer.from(parts[1]!, 'base64url').toString(), 'some-session-id');
    assert.equal(parts[2], String(exp));
    assert.equal(parts[3], '7');
    assert.deepEqual(verifyToken(token, keys), { sid: 'some-session-id', expiresAt: exp, generation: 7 });
    assert.equal(signToken('some-session-id', exp, keys, 7), token, 'same arguments, same token');
    assert.equal(verifyToken(signToken('s', exp, keys), keys)?.generation, 0, 'generation defaults to 0');
    // a 32-char express-session id with the largest generation makes a token far below the bound
    assert.ok(signToken('x'.repeat(32), exp, keys, 999_999_999_999_999).length < TOKEN_MAX_LENGTH / 2);
    assert.throws(() => signToken('s', exp, keys, -1), RangeError);
    assert.throws(() => signToken('s', exp, keys, 1.5), RangeError);
    assert.throws(() => signToken('s', exp, keys, 1e15), RangeError);
    assert.equal(verifyToken(signToken('s', exp, keys, 999_999_999_999_999), keys)?.generation, 999_999_999_999_999);
  });

  test('a token from before rotation (no generation segment) reads as generation 0', () => {
    const exp = Date.now() + 60_000;
    const payload = `v1.${Buffer.from('legacy-sid').toString('base64url')}.${exp}`;
    const legacy = `${payload}.${createHmac('sha256', keys[0]!).update(payload).digest('base64url')}`;
    assert.deepEqual(verifyToken(legacy, keys), { sid: 'legacy-sid', expiresAt: exp, generation: 0 });
  });

  test('readToken accepts an authentic expired token (for the endpoint), verifyToken does not; MAC first either way', () => {
    const now = Date.now();
    const token = signToken('sid', now - 1, keys, 3);
    assert.equal(verifyToken(token, keys, now), null);
    assert.deepEqual(readToken(token, keys), { sid: 'sid', expiresAt: now - 1, generation: 3 });
    const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BA' : 'AA');
    assert.equal(readToken(forged, keys), null);
    // generation segments that signToken never writes are refused even under a valid MAC
    for (const gen of ['', '-1', '1e3', ' 1', '0x1', '1234567890123456']) {
      const payload = `v1.${Buffer.from('sid').toString('base64url')}.${now + 60_000}.${gen}`;
      const t = `${payload}.${createHmac('sha256', keys[0]!).update(payload).digest('base64url')}`;
      assert.equal(readToken(t, keys), null, `generation ${JSON.stringify(gen)} accepted`);
    }
  });

  test('every single-character change of a token is rejected', () => {
    const token = signToken('AbCdEfGhIjKlMnOpQrStUvWxYz012345', Date.now() + 60_000, keys);
    let tried = 0;
    for (let i = 0; i < token.length; i++) {
      for (const c of B64URL_DOT) {
        if (c === token[i]) continue;
        const tampered = token.slice(0, i) + c + token.slice(i + 1);
        tried++;
        assert.equal(verifyToken(tampered, keys), null, `accepted ${tampered}`);
      }
      assert.equal(verifyToken(token.slice(0, i) + token.slice(i + 1), keys), null, 'deletion accepted');
    }
    assert.ok(tried > 5000);
  });

  test('expired tokens are refused; nearsExpiry is "less than half of the lifetime left"', () => {
    const now = Date.now();
    const token = signToken('sid', now + 1000, keys);
    assert.ok(verifyToken(token, keys, now));
    assert.equal(verifyToken(token, keys, now + 1000), null);
    assert.equal(verifyToken(token, keys, now + 5000), null);
    assert.equal(nearsExpiry(now + 600, 1000, now), false);
    assert.equal(nearsExpiry(now + 400, 1000, now), true);
  });

  test('rotation: signed with the first secret, verified against all', () => {
    const old = signToken('sid', Date.now() + 60_000, [deriveTokenKey(OLD_SECRET)]);
    assert.ok(verifyToken(old, [deriveTokenKey(SECRET), deriveTokenKey(OLD_SECRET)]));
    assert.equal(verifyToken(old, [deriveTokenKey(SECRET)]), null);
  });

  test('a token MAC is never a cookie signature of the same value (derived key)', () => {
    assert.notDeepEqual(deriveTokenKey(SECRET), Buffer.from(SECRET));
  });
});

describe('tokens over HTTP and upgrades', () => {
  test('every single-character tamper (full alphabet, every position) fails hs.authenticate with zero store lookups', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const { token } = await getToken(app.url);
      const asHeader = (t: string) => ({ headers: { authorization: `Bearer ${t}` }, url: '/' });
      const asProtocol = (t: string) => ({ headers: { 'sec-websocket-protocol': `hybrid-session, hybrid-session.bearer.${t}` }, url: '/' });
      assert.equal((await app.hs.authenticate(asHeader(token) as never)).via, 'bearer');
      store.reset();
      let n = 0;
      for (let i = 0; i < token.length; i++) {
        for (const c of B64URL_DOT) {
          if (c === token[i]) continue;
          const tampered = token.slice(0, i) + c + token.slice(i + 1);
          for (const req of [asHeader(tampered), asProtocol(tampered)]) {
            await assert.rejects(app.hs.authenticate(req as never), { code: 'HS_ERR_INVALID_TOKEN', closeCode: 4401 });
            n++;
          }
        }
      }
      assert.ok(n > 10_000);
      assert.equal(store.calls.get, 0);
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('every single-character tamper is refused with 401 and zero store lookups', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const { token } = await getToken(app.url);
      const ok = await fetch(app.url + '/', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      store.reset();
      let n = 0;
      for (let i = 0; i < token.length; i++) {
        // every position, with a few replacement characters each (the full alphabet is covered by the unit test)
        for (const c of ['A', 'z', '0', '-', '_', '.']) {
          if (c === token[i]) continue;
          const tampered = token.slice(0, i) + c + token.slice(i + 1);
          const res = await fetch(app.url + '/', { headers: { authorization: `Bearer ${tampered}` } });
          assert.equal(res.status, 401, tampered);
          assert.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
          await res.arrayBuffer();
          n++;
        }
      }
      assert.ok(n > 400);
      assert.equal(store.calls.get, 0);
      assert.equal(store.calls.set, 0);
    } finally {
      await app.stop();
    }
  });

  test('rotation over HTTP: ["new","old"] accepts old tokens, ["new"] alone does not', async () => {
    const store = new MemoryStore();
    const before = await startApp({ store, secret: OLD_SECRET });
    const { token } = await getToken(before.url);
    await before.stop();
    const rotated = await startApp({ store, secret: [SECRET, OLD_SECRET] });
    const only = await startApp({ store, secret: [SECRET] });
    try {
      const a = await fetch(rotated.url + '/', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(a.status, 200);
      const b = await fetch(only.url + '/', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(b.status, 401);
      // and a token issued after rotation is signed with the new secret
      const fresh = await getToken(rotated.url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await fetch(only.url + '/', { headers: { authorization: `Bearer ${fresh.token}` } })).status, 200);
    } finally {
      await rotated.stop();
      await only.stop();
      store.close();
    }
  });

  test('a token expires with its own expiry, even while the session lives', async () => {
    const store = new MemoryStore();
    const app = await startApp({ store, tokenMaxAge: 300 });
    try {
      const { token, expiresAt } = await getToken(app.url);
      assert.ok(expiresAt <= Date.now() + 300);
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${token}` } })).status, 200);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
      const res = await fetch(app.url + '/', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('a token never outlives its session, and dies with it', async () => {
    const store = new MemoryStore();
    const app = await startApp({ store, maxAge: 400, tokenMaxAge: 10_000 });
    try {
      const { token, expiresAt } = await getToken(app.url);
      assert.ok(expiresAt <= Date.now() + 400);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await fetch(app.url + '/', { headers: { authorization: `Bearer ${token}` } })).status, 401);
    } finally {
      await app.stop();
      store.close();
    }
  });
});
