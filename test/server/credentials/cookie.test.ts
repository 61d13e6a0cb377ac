import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import session from 'express-session';
import { serialize } from 'cookie';
import { signCookieValue, readSessionCookie } from '../../../src/server/credentials/cookie.ts';
import { hybridSession, MemoryStore } from '../../../src/server/index.ts';
import { close, listen } from '../../helpers/net.ts';
import { SECRET, cookiePair, countingStore } from '../helpers.ts';

describe('session cookie', () => {
  test("express-session's test vector: id apple, secret keyboard cat", () => {
    assert.equal(
      serialize('connect.sid', signCookieValue('apple', 'keyboard cat')),
      'connect.sid=s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU',
    );
    const req = { headers: { cookie: 'connect.sid=s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU' } };
    assert.equal(readSessionCookie(req as never, 'connect.sid', ['keyboard cat']), 'apple');
    assert.equal(readSessionCookie(req as never, 'connect.sid', ['other secret', 'keyboard cat']), 'apple');
    assert.equal(readSessionCookie(req as never, 'connect.sid', ['other secret']), undefined);
    assert.equal(readSessionCookie({ headers: { cookie: 'connect.sid=apple' } } as never, 'connect.sid', ['keyboard cat']), undefined);
    assert.equal(readSessionCookie({ headers: { cookie: 'connect.sid=s%3Aapple.D8Y' } } as never, 'connect.sid', ['keyboard cat']), undefined);
  });

  test('the cookie the shim sets is the one express-session would set (same name, value, attributes)', async () => {
    const store = new session.MemoryStore();
    const hs = hybridSession({ secret: SECRET, store });
    const server = createServer((req, res) => hs.middleware(req, res, () => {
      (req as any).session.n = 1;
      res.end('ok');
    }));
    const url = await listen(server);
    try {
      const res = await fetch(url + '/');
      const [setCookie] = res.headers.getSetCookie();
      assert.match(setCookie!, /^connect\.sid=s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
      const sid = decodeURIComponent(setCookie!.split(';')[0]!.split('=')[1]!).slice(2).split('.')[0]!;
      assert.equal(setCookie!.split(';')[0], serialize('connect.sid', signCookieValue(sid, SECRET)));
    } finally {
      hs.close();
      await close(server);
    }
  });

  for (const direction of ['express-session → shim', 'shim → express-session'] as const) {
    test(`a cookie crosses ${direction} with a shared store and secret`, async () => {
      const store = countingStore(new session.MemoryStore());
      const plain = express();
      plain.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
      plain.get('/write', (req, res) => {
        (req.session as any).from = 'express-session';
        res.json({ sid: req.sessionID });
      });
      plain.get('/read', (req, res) => res.json({ sid: req.sessionID, data: req.session }));
      const hs = hybridSession({ secret: SECRET, store });
      const shim = express();
      shim.use(hs.middleware);
      shim.get('/write', (req, res) => {
        (req.session as any).from = 'shim';
        res.json({ sid: req.sessionID });
      });
      shim.get('/read', (req, res) => res.json({ sid: req.sessionID, data: req.session }));
      const a = createServer(plain);
      const b = createServer(shim);
      const [plainUrl, shimUrl] = [await listen(a), await listen(b)];
      try {
        const [writer, reader] = direction === 'express-session → shim' ? [plainUrl, shimUrl] : [shimUrl, plainUrl];
        const w = await fetch(writer + '/write');
        const cookie = cookiePair(w)!;
        const { sid } = (await w.json()) as { sid: string };
        const r = await fetch(reader + '/read', { headers: { cookie } });
        const body = (await r.json()) as { sid: string; data: { from: string } };
        assert.equal(body.sid, sid);
        assert.equal(body.data.from, direction === 'express-session → shim' ? 'express-session' : 'shim');
      } finally {
        hs.close();
        await close(a);
        await close(b);
      }
    });
  }

  test('a validly signed cookie naming an unknown session gets a new id, never the cookie\'s', async () => {
    const store = new MemoryStore();
    const hs = hybridSession({ secret: SECRET, store });
    const server = createServer((req, res) => hs.middleware(req, res, () => {
      (req as any).session.n = 1;
      res.end((req as any).sessionID);
    }));
    const url = await listen(server);
    try {
      const planted = 'attacker-chosen-id';
      const res = await fetch(url + '/', { headers: { cookie: serialize('connect.sid', signCookieValue(planted, SECRET)) } });
      const sid = await res.text();
      assert.notEqual(sid, planted);
      assert.match(sid, /^[A-Za-z0-9_-]{32}$/);
      const stored = await new Promise((resolve) => store.get(planted, (_e, s) => resolve(s)));
      assert.equal(stored, null);
    } finally {
      hs.close();
      await close(server);
    }
  });
});
