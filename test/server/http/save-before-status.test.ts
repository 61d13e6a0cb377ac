/**
 * DESIGN "No 2xx for a lost write": a request that modified req.session and ended with res.end(body) gets its
 * status line only after the save; a failed save is 500 HS_ERR_STORE / 503 HS_ERR_STORE_UNAVAILABLE with none of
 * the app's answer (nothing half-written); a streamed response (headers out) reports through next(err).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import session from 'express-session';
import { MemoryStore, hybridSession } from '../../../src/server/index.ts';
import { close, listen } from '../../helpers/net.ts';
import { SECRET, getToken, startApp } from '../helpers.ts';

type Failure = Error & { code?: string };

/** A real store whose writes fail while `failing` is set (both the plain set and the compare-and-set). */
function breakable<S extends session.Store>(store: S): S & { failing: Failure | null } {
  const s = store as S & { failing: Failure | null };
  s.failing = null;
  for (const name of ['set', 'compareAndSet'] as const) {
    const orig = (store as unknown as Record<string, Function | undefined>)[name];
    if (typeof orig !== 'function') continue;
    (store as unknown as Record<string, Function>)[name] = function (this: unknown, ...args: unknown[]) {
      const cb = args[args.length - 1] as (err?: unknown) => void;
      if (s.failing) {
        const err = s.failing;
        setImmediate(() => cb(err));
        return;
      }
      return orig.apply(this, args);
    };
  }
  return s;
}

const broken = (message: string, code?: string): Failure => Object.assign(new Error(message), code ? { code } : {});

for (const kind of ['default', 'express-session'] as const) {
  describe(`save before the status line (${kind} store)`, () => {
    test('a failed save is 500 / 503, never the app\'s 200, and the store keeps what it had', { timeout: 60_000 }, async () => {
      const store = breakable(kind === 'default' ? new MemoryStore() : new session.MemoryStore());
      const app = await startApp({ store }, async (req, res) => {
        req.session.fruit = new URL(req.url ?? '/', 'http://x').searchParams.get('fruit');
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('X-App', 'answered');
        res.end(JSON.stringify({ ok: true, fruit: req.session.fruit }));
      });
      try {
        const { token, cookie } = await getToken(app.url);
        const auth = { authorization: `Bearer ${token}` };
        const fine = await fetch(app.url + '/?fruit=pear', { headers: auth });
        assert.equal(fine.status, 200);
        assert.deepEqual(await fine.json(), { ok: true, fruit: 'pear' });

        store.failing = broken('disk full at /var/lib/sessions');
        const failed = await fetch(app.url + '/?fruit=plum', { headers: auth });
        const body = (await failed.json()) as { error?: string; ok?: boolean };
        assert.equal(failed.status, 500);
        assert.equal(body.error, 'HS_ERR_STORE');
        assert.equal(body.ok, undefined, 'none of the app\'s body');
        assert.equal(failed.headers.get('x-app'), null, 'none of the app\'s headers');
        assert.equal(failed.headers.get('session-token'), null);

        store.failing = broken('connect ECONNREFUSED 10.0.0.5:6379', 'ECONNREFUSED');
        const unavailable = await fetch(app.url + '/?fruit=fig', { headers: auth });
        assert.equal(unavailable.status, 503);
        assert.equal(((await unavailable.json()) as { error?: string }).error, 'HS_ERR_STORE_UNAVAILABLE');

        // A brand-new session (cookie-less, bearer-less) whose first save fails: no cookie for a session never stored.
        const fresh = await fetch(app.url + '/?fruit=kiwi');
        await fresh.arrayBuffer();
        assert.equal(fresh.status, 503);
        assert.deepEqual(fresh.headers.getSetCookie(), []);

        store.failing = null;
        const stored = await new Promise<Record<string, { fruit?: string }>>((resolve, reject) => store.all!((e, all) => (e ? reject(e) : resolve(all as never))));
        assert.deepEqual(Object.values(stored).map((x) => x.fruit).filter(Boolean), ['pear'], 'the failed writes left nothing behind');
        const after = await fetch(app.url + '/?fruit=pear', { headers: { cookie: cookie! } });
        assert.equal(after.status, 200);
        await after.arrayBuffer();
      } finally {
        await app.stop();
        (store as { close?: () => void }).close?.();
      }
    });
  });
}

describe('save before the status line: streamed responses', () => {
  test('headers already out: the last byte waits for the save and the failure goes to next(err)', { timeout: 60_000 }, async () => {
    const store = breakable(new MemoryStore());
    const hs = hybridSession({ secret: SECRET, store });
    const errors: unknown[] = [];
    let reported!: () => void;
    const gotError = new Promise<void>((r) => (reported = r));
    const server = createServer((req, res) => {
      hs.middleware(req, res, (err?: unknown) => {
        if (err) {
          errors.push(err);
          reported();
          return;
        }
        const r = req as typeof req & { session: Record<string, unknown> };
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('streamed ');
        r.session.fruit = 'plum';
        store.failing = broken('disk full');
        res.end('end');
      });
    });
    const url = await listen(server);
    try {
      const res = await fetch(url + '/');
      assert.equal(res.status, 200, 'the status line had gone out');
      assert.equal(await res.text(), 'streamed end');
      await gotError;
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as { code?: string }).code, 'HS_ERR_STORE');
    } finally {
      hs.close();
      store.close();
      await close(server);
    }
  });
});
