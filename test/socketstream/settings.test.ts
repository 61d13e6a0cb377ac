import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkKeys,
  deepMerge,
  envMatches,
  normalizeSettings,
  splitFactoryOptions,
  DEFAULT_MAX_AGE,
} from '../../src/socketstream/settings.ts';
import { isHybridSessionError } from '../../src/shared/errors.ts';

const quiet = () => {};

function withNodeEnv<T>(value: string | undefined, fn: () => T): T {
  const before = process.env.NODE_ENV;
  if (value === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = before;
  }
}

describe('ss.set deep merge', () => {
  test("the docs' two ss.set keys land together, neither overwriting the other", () => {
    const settings = {};
    deepMerge(settings, { session: { cookie: { httpOnly: true } }, ws: { client: { localStorage: true } } });
    deepMerge(settings, { ws: { path: '/rpc' }, session: { maxAge: 1000 } });
    assert.deepEqual(settings, {
      session: { cookie: { httpOnly: true }, maxAge: 1000 },
      ws: { client: { localStorage: true }, path: '/rpc' },
    });
  });

  test('prototype keys are never merged', () => {
    const settings: Record<string, unknown> = {};
    deepMerge(settings, JSON.parse('{"__proto__": {"polluted": true}, "session": {"constructor": {"x": 1}}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(settings, { session: {} });
  });

  test('unknown keys throw, naming the key (SocketStream ignored them silently)', () => {
    assert.throws(() => checkKeys({ session: { cookie: { httponly: true } } }), (e: unknown) => {
      assert.ok(isHybridSessionError(e));
      assert.equal(e.code, 'HS_ERR_INVALID_OPTIONS');
      assert.match(e.message, /session\.cookie\.httponly/);
      return true;
    });
    assert.throws(() => checkKeys({ client: {} }), /unknown setting "client"/);
    assert.doesNotThrow(() => checkKeys({ session: { cookie: { httpOnly: true } }, ws: { client: { localStorage: true }, path: '/ws' } }));
  });

  test("createSocketStream's hybridSession-style top-level options move under session", () => {
    assert.deepEqual(splitFactoryOptions({ secret: 's', maxAge: 5, cookie: { name: 'sid' }, allowedOrigins: ['capacitor://localhost'] }), {
      session: { secret: 's', maxAge: 5, cookie: { name: 'sid' } },
      allowedOrigins: ['capacitor://localhost'],
    });
  });

  test("env '*' matches everywhere; a name matches SS_ENV / NODE_ENV", () => {
    assert.equal(envMatches('*', 'production'), true);
    assert.equal(envMatches('production', 'production'), true);
    assert.equal(envMatches('development, test', 'test'), true);
    assert.equal(envMatches('production', 'development'), false);
  });
});

describe('normalizeSettings', () => {
  test('defaults: maxAge 30 days, httpOnly cookie, /ws, the standard token path', () => {
    const s = normalizeSettings({ session: { secret: 'x'.repeat(40) } }, quiet);
    assert.equal(s.maxAge, DEFAULT_MAX_AGE);
    assert.equal(DEFAULT_MAX_AGE, 30 * 24 * 3600 * 1000);
    assert.equal(s.cookie.httpOnly, true);
    assert.equal(s.wsPath, '/ws');
    assert.equal(s.tokenPath, '/session/token');
    assert.ok(Object.isFrozen(s));
  });

  test('httpOnly: false is honoured, not overridden', () => {
    const s = normalizeSettings({ session: { secret: 'x'.repeat(40), cookie: { httpOnly: false } } }, quiet);
    assert.equal(s.cookie.httpOnly, false);
  });

  test('production without a secret throws HS_ERR_WEAK_SECRET; there is no public default', () => {
    withNodeEnv('production', () => {
      assert.throws(() => normalizeSettings({}, quiet), (e: unknown) => {
        assert.ok(isHybridSessionError(e));
        assert.equal(e.code, 'HS_ERR_WEAK_SECRET');
        assert.match(e.message, /secret must be set in production/);
        return true;
      });
      assert.throws(() => normalizeSettings({ session: { secret: '' } }, quiet), /must be set in production/);
    });
  });

  test('development without a secret gets a random one per process, with a warning', () => {
    withNodeEnv('development', () => {
      const warnings: string[] = [];
      const a = normalizeSettings({}, (m) => warnings.push(m));
      const b = normalizeSettings({}, quiet);
      assert.equal(a.secretGenerated, true);
      assert.equal(typeof a.secret, 'string');
      assert.ok((a.secret as string).length >= 64);
      assert.notEqual(a.secret, b.secret);
      assert.notEqual(a.secret, 'SocketStream');
      assert.match(warnings[0]!, /random/);
    });
  });

  test('bad values are refused with a typed error', () => {
    const secret = 'x'.repeat(40);
    assert.throws(() => normalizeSettings({ session: { secret, maxAge: 0 } }, quiet), /maxAge/);
    assert.throws(() => normalizeSettings({ session: { secret, maxAge: null as unknown as number } }, quiet), /maxAge/);
    assert.throws(() => normalizeSettings({ session: { secret, cookie: { sameSite: 'lol' as 'lax' } } }, quiet), /sameSite/);
    assert.throws(() => normalizeSettings({ session: { secret }, ws: { path: 'ws' } }, quiet), /ws\.path/);
    assert.throws(() => normalizeSettings({ session: { secret }, ws: { client: { localStorage: 'yes' as unknown as boolean } } }, quiet), /ws\.client/);
  });
});

describe('every server option reaches hybridSession() through the facade', () => {
  test('each server option without a SocketStream home of its own is a known top-level setting', async () => {
    const { SERVER_OPTION_KEYS } = await import('../../src/server/options.ts');
    const { PASS_THROUGH_KEYS } = await import('../../src/socketstream/settings.ts');
    const homes = ['secret', 'maxAge', 'cookie', 'store', 'ws', 'heartbeat', 'revocation'];
    assert.deepEqual([...PASS_THROUGH_KEYS].sort(), Object.keys(SERVER_OPTION_KEYS).filter((k) => !homes.includes(k)).sort());
    for (const key of PASS_THROUGH_KEYS) assert.doesNotThrow(() => checkKeys({ [key]: undefined }), key);
  });

  test('storeTimeout set with ss.set reaches the server: a store that never answers gives 503, not a hung request', async () => {
    const { createSocketStream } = await import('../../src/socketstream/index.ts');
    const { Store } = (await import('express-session')).default;
    class SilentStore extends Store {
      get(): void {}
      set(): void {}
      destroy(): void {}
    }
    const ss = createSocketStream({ secret: 'facade-settings-secret-0123456789abcdef', store: new SilentStore() });
    ss.set('*', { storeTimeout: 50 });
    const server = await ss.start({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const r = await fetch(`http://127.0.0.1:${port}/session/token`, { method: 'POST' });
      assert.equal(r.status, 503);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections?.();
    }
  });
});
