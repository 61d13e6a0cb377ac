import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import session from 'express-session';
import { hybridSession, HybridSessionError } from '../../src/server/index.ts';
import { normalizeServerOptions, storageHint, weakSecretReason } from '../../src/server/options.ts';
import { SECRET } from './helpers.ts';

const root = new URL('../..', import.meta.url).pathname;

/** Runs hybridSession() in a child with the given NODE_ENV, so the process-wide env and warnings stay untouched. */
function inChild(nodeEnv: string, code: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, NODE_ENV: nodeEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('secret option', () => {
  test('is required', () => {
    assert.throws(() => hybridSession({} as never), { code: 'HS_ERR_WEAK_SECRET' });
    assert.throws(() => hybridSession({ secret: [] }), { code: 'HS_ERR_WEAK_SECRET' });
    assert.throws(() => hybridSession({ secret: [SECRET, 42] as never }), { code: 'HS_ERR_INVALID_OPTIONS' });
  });

  test('weak secrets: short, well-known defaults, low variety', () => {
    for (const s of ['SocketStream', 'keyboard cat', 'secret', 'KEYBOARD CAT', 'x'.repeat(31), 'ab'.repeat(40)]) {
      assert.ok(weakSecretReason(s), s);
    }
    assert.equal(weakSecretReason(SECRET), null);
  });

  const weak = [`'SocketStream'`, `'keyboard cat'`, `'secret'`, `'short-but-random-7fQ2'`, `['${SECRET}', 'keyboard cat']`];
  for (const secret of weak) {
    test(`production refuses to start with ${secret}`, () => {
      const r = inChild(
        'production',
        `import { hybridSession } from './src/server/index.ts';
         try { hybridSession({ secret: ${secret} }); console.log('STARTED'); }
         catch (e) { console.log(e.name, e.code, e.message); }`,
      );
      assert.doesNotMatch(r.stdout, /STARTED/);
      assert.match(r.stdout, /HybridSessionError HS_ERR_WEAK_SECRET .*weak secret/);
    });
  }

  test('outside production a weak secret starts, with one warning', () => {
    const r = inChild(
      'development',
      `import { hybridSession } from './src/server/index.ts';
       const a = hybridSession({ secret: 'keyboard cat' }); a.close();
       const b = hybridSession({ secret: 'SocketStream' }); b.close();
       console.log('STARTED');`,
    );
    assert.match(r.stdout, /STARTED/);
    assert.equal(r.stderr.match(/HybridSessionWarning/g)?.length, 1, r.stderr);
    assert.match(r.stderr, /weak secret/);
  });

  test('production with a strong secret starts; the default memory store warns, pointing to Redis', () => {
    const r = inChild(
      'production',
      `import { hybridSession } from './src/server/index.ts';
       const hs = hybridSession({ secret: '${SECRET}' }); hs.close(); console.log('STARTED');`,
    );
    assert.match(r.stdout, /STARTED/);
    assert.match(r.stderr, /memory store.*Redis/s);
  });
});

describe('options are checked once, at creation', () => {
  const bad: [string, object][] = [
    ['maxAge', { maxAge: -1 }],
    ['maxAge', { maxAge: 'long' }],
    ['tokenPath', { tokenPath: 'session/token' }],
    ['allowedOrigins', { allowedOrigins: 'https://a.example' }],
    ['allowedOrigins', { allowedOrigins: ['https://a.example/'] }],
    ['allowedOrigins', { allowedOrigins: ['*'] }],
    ['cookie.sameSite', { cookie: { sameSite: 'whatever' } }],
    ['cookie.sameSite none without secure', { cookie: { sameSite: 'none', secure: false } }],
    ['cookie.maxAge', { cookie: { maxAge: 5 } }],
    ['unknown option', { allowedOrigin: ['https://a.example'] }],
    ['store', { store: {} }],
    ['allowQueryToken', { allowQueryToken: 'yes' }],
  ];
  for (const [name, extra] of bad) {
    test(`rejects bad ${name}`, () => {
      assert.throws(() => hybridSession({ secret: SECRET, ...extra } as never), (e: unknown) => {
        assert.ok(e instanceof HybridSessionError);
        assert.equal(e.code, 'HS_ERR_INVALID_OPTIONS');
        return true;
      });
    });
  }

  // What a hybrid app's author is likely to write for its pages' origin: a scheme without a host. The error says
  // which origins those pages really send.
  for (const wrong of ['file://', 'capacitor://', 'ionic:', 'localhost']) {
    test(`rejects allowedOrigins ${JSON.stringify(wrong)}, naming the origins hybrid apps really send`, () => {
      assert.throws(
        () => hybridSession({ secret: SECRET, allowedOrigins: [wrong] }),
        (e: unknown) => {
          assert.ok(e instanceof HybridSessionError);
          assert.equal(e.code, 'HS_ERR_INVALID_OPTIONS');
          for (const origin of ['"null"', 'capacitor://localhost', 'https://localhost', 'ionic://localhost', 'http://localhost']) {
            assert.ok(e.message.includes(origin), `${e.message} names ${origin}`);
          }
          return true;
        },
      );
    });
  }

  test('accepts the origins Capacitor, Cordova and Ionic use', () => {
    const hs = hybridSession({ secret: SECRET, allowedOrigins: ['capacitor://localhost', 'https://localhost', 'ionic://localhost', 'http://localhost', 'null'] });
    hs.close();
  });

  test('defaults', () => {
    const hs = hybridSession({ secret: SECRET });
    try {
      assert.deepEqual({ ...hs.options, cookie: { ...hs.options.cookie } }, {
        maxAge: 30 * 24 * 3600 * 1000,
        tokenMaxAge: 3600 * 1000,
        rotationGrace: 60_000,
        tokenPath: '/session/token',
        allowQueryToken: false,
        storage: 'indexedDB',
        cookie: { name: 'connect.sid', httpOnly: true, secure: 'auto', sameSite: 'lax', path: '/', domain: undefined },
        touchInterval: 60_000,
        proxy: undefined,
        binding: 'optional',
        proofMaxAge: 300_000,
      });
      assert.ok(Object.isFrozen(hs.options));
      assert.ok(hs.store instanceof session.Store);
      assert.equal(JSON.stringify(hs.options).includes(SECRET), false, 'secrets never shown');
    } finally {
      hs.close();
    }
  });

  test('touch interval is min(60 s, maxAge / 4); tokenMaxAge never exceeds maxAge', () => {
    const o = normalizeServerOptions({ secret: SECRET, maxAge: 40_000, tokenMaxAge: 90_000 });
    assert.equal(o.touchInterval, 10_000);
    assert.equal(o.tokenMaxAge, 40_000);
  });

  test('rotationGrace: a positive number of ms, default 60 s', () => {
    assert.equal(normalizeServerOptions({ secret: SECRET }).rotationGrace, 60_000);
    assert.equal(normalizeServerOptions({ secret: SECRET, rotationGrace: 1_500 }).rotationGrace, 1_500);
    for (const bad of [0, -1, NaN, Infinity, '60000', null]) {
      assert.throws(() => normalizeServerOptions({ secret: SECRET, rotationGrace: bad } as never), { code: 'HS_ERR_INVALID_OPTIONS' });
    }
  });

  test('storage hint from ws.client (DESIGN "Storage hint")', () => {
    assert.equal(storageHint(undefined), 'indexedDB');
    assert.equal(storageHint({ client: { indexedDB: true, localStorage: true } }), 'indexedDB');
    assert.equal(storageHint({ client: { localStorage: true } }), 'localStorage');
    assert.equal(storageHint({ client: { localStorage: false } }), 'memory');
    assert.equal(storageHint({ client: { indexedDB: false } }), 'memory');
    assert.equal(storageHint({ client: {} }), 'indexedDB');
  });

  test('an allowedOrigins predicate that throws refuses instead of crashing', () => {
    const o = normalizeServerOptions({ secret: SECRET, allowedOrigins: () => { throw new Error('boom'); } });
    assert.equal(o.originAllowed('https://a.example'), false);
  });
});
