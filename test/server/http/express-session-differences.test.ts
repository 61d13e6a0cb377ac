/**
 * README "Migrating from express-session": where hs.middleware would differ from express-session on an app's own
 * setup, it now does what express-session does, or the difference is deliberate and written down:
 *   - outside `cookie.path` express-session does nothing: no req.session, no cookie, nothing stored (hybrid-session
 *     made a session there, and once modified an orphan stored session per request);
 *   - a `req.session` set by an earlier middleware is left alone, as express-session leaves it;
 *   - a stored record without a `cookie` (not written by express-session or by hybrid-session) is not served as a
 *     session that never expires: it reads as no session (express-session answers 500 for it; deliberate difference).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import session from 'express-session';
import { hybridSession } from '../../../src/server/index.ts';
import { signCookieValue } from '../../../src/server/credentials/cookie.ts';
import { close, listen } from '../../helpers/net.ts';
import { SECRET, countingStore, startApp } from '../helpers.ts';

describe('express-session behaviour kept', () => {
  test('outside cookie.path: no session, no cookie, nothing stored, even when the route writes to req.session', { timeout: 60_000 }, async () => {
    const store = countingStore(new session.MemoryStore());
    const seen: unknown[] = [];
    const app = await startApp({ store, cookie: { path: '/api' } }, (req, res) => {
      seen.push(req.session === undefined);
      if (req.session) req.session.n = 1;
      res.end('ok');
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(app.url + '/other/page');
        assert.equal(res.status, 200);
        assert.deepEqual(res.headers.getSetCookie(), []);
        await res.arrayBuffer();
      }
      assert.deepEqual(seen, [true, true, true], 'no req.session outside the cookie path');
      assert.equal(store.calls.set, 0, 'no orphan stored session');
      const inside = await fetch(app.url + '/api/thing');
      await inside.arrayBuffer();
      assert.equal(seen[3], false, 'inside the path the session is there');
      assert.equal(inside.headers.getSetCookie().length, 1);
      assert.equal(store.calls.set, 1);
    } finally {
      await app.stop();
    }
  });

  test('a req.session set by an earlier middleware is left as it is', { timeout: 60_000 }, async () => {
    const hs = hybridSession({ secret: SECRET });
    const mine = { custom: true };
    const server = createServer((req, res) => {
      (req as { session?: unknown }).session = mine;
      hs.middleware(req, res, () => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ same: (req as { session?: unknown }).session === mine }));
      });
    });
    const url = await listen(server);
    try {
      const res = await fetch(url + '/');
      assert.deepEqual(await res.json(), { same: true });
      assert.deepEqual(res.headers.getSetCookie(), []);
    } finally {
      hs.close();
      await close(server);
    }
  });
});

describe('deliberate difference', () => {
  test('a stored record without a cookie is no session (a new one), never one that does not expire; express-session: 500', { timeout: 60_000 }, async () => {
    const store = new session.MemoryStore();
    await new Promise<void>((resolve, reject) => store.set('cookieless', { user: 'old' } as never, (err) => (err ? reject(err) : resolve())));
    const app = await startApp({ store });
    try {
      const res = await fetch(app.url + '/', { headers: { cookie: `connect.sid=${encodeURIComponent(signCookieValue('cookieless', SECRET))}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { sid: string; data: { user?: string } };
      assert.notEqual(body.sid, 'cookieless', 'not served as the stored record');
      assert.equal(body.data.user, undefined);
    } finally {
      await app.stop();
    }
  });
});
