/**
 * The client under a broken or hostile server or a cut network, in each real engine (issue 14), against the real
 * shim made to misbehave where it must (test/helpers/browser.ts: held answers, late 4401s, a cut) and a stub
 * attacker server: a token request that never gets an answer, a server refusing every socket after it stayed up,
 * a logout while a login is in flight, a logout with the network cut, and a Session-Token from another origin.
 * Each case failed on the client before the fix (a hang, a reconnect loop, a session brought back or swapped).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Engine as Browser, Tab as Page } from '../helpers/engines/index.ts';
import { describeEngines, inFreshContext, until, useBrowserSuite, waitForHarness, type Api, type Pages } from '../helpers/browser.ts';
import { close, listen } from '../helpers/net.ts';

/** A session in the shim's store (undefined once it is ended). */
const stored = (api: Api, sid: string) =>
  new Promise<unknown>((resolve, reject) => api.hs.store.get(sid, (err, s) => (err ? reject(err) : resolve(s ?? undefined))));

/** A real token of `api` for a session of its own: what an attacker who signed in there holds. */
async function mintToken(api: Api): Promise<string> {
  const res = await fetch(api.url + api.hs.options.tokenPath, { method: 'POST' });
  assert.equal(res.status, 200);
  return ((await res.json()) as { token: string }).token;
}

/**
 * The attacker's server: answers anything with `Session-Token: <token>`, and lets any origin (the `null` of a
 * request redirected across origins included) read it with credentials, as a server of one's own can.
 */
async function startAttacker(token: () => string) {
  const hits: { url: string; auth: string | null }[] = [];
  const server: Server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', req.headers.origin ?? '*');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    // DPoP too: an attachTo origin gets a bound token's proof (DESIGN "Device binding").
    res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, dpop');
    res.setHeader('Access-Control-Expose-Headers', 'Session-Token');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    hits.push({ url: req.url ?? '', auth: req.headers.authorization ?? null });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Session-Token': token() }).end('{}');
  });
  const url = await listen(server);
  return { url, hits, close: () => close(server) };
}

/**
 * A token endpoint answering every POST with a token whose expiry is already past (a broken server, or a clock far
 * off), readable by any origin: the renewal timer would fire at once, every time.
 */
async function startPastEndpoint() {
  let posts = 0;
  const server: Server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', req.headers.origin ?? '*');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    // DPoP as the shim allows it: the client proves its key on every token request (DESIGN "Device binding").
    res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, dpop');
    res.setHeader('Access-Control-Allow-Methods', 'POST, DELETE');
    res.setHeader('Access-Control-Expose-Headers', 'Date, Session-Token');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (req.method === 'POST') posts++;
    const body = { token: `v1.past-${posts}`, expiresAt: Date.now() - 60_000, storage: 'memory', created: false };
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  });
  const url = await listen(server);
  return { url, posts: () => posts, close: () => close(server) };
}

describeEngines('the client under a broken or hostile server, or a cut network', {}, (engineName) => {
  let browser: Browser;
  let api: Api;
  /** Accepts every socket and closes it with 4401 once it has stayed up a second (past the client's minUptime). */
  let refusing: Api;
  let pages: Pages;
  let attacker: Awaited<ReturnType<typeof startAttacker>>;
  let attackerToken = '';
  let past: Awaited<ReturnType<typeof startPastEndpoint>>;

  useBrowserSuite(engineName, { api: {}, refusing: { refuseAfter: 1000 } }, (suite) => {
    ({ engine: browser, pages } = suite);
    ({ api, refusing } = suite.apis);
  });
  before(async () => {
    attacker = await startAttacker(() => attackerToken);
    past = await startPastEndpoint();
  });
  after(async () => {
    await attacker.close();
    await past.close();
  });

  /** A page on another site than the API (no cookie crosses: the token is the only credential). */
  const withPage = (fn: (page: Page) => Promise<void>) => inFreshContext(browser, pages.url, async ({ open }) => fn(await open()));
  /** A page served by the API itself: its session cookie flows too, the case where a session can come back through it. */
  const withSameOriginPage = (fn: (page: Page) => Promise<void>) => inFreshContext(browser, api.pages, async ({ open }) => fn(await open()));

  test('a token request that never gets an answer: ready() fails with HS_ERR_NETWORK by the deadline, and later calls recover', async () => {
    await withPage(async (page) => {
      const hold = api.holdTokenPosts();
      try {
        const first = await page.evaluate(async (url) => {
          const s = start({ url, storage: 'memory', timeout: 1500 });
          // A bound far past the deadline, so a client that hangs shows as a failure instead of a stuck test.
          const bound = new Promise((r) => setTimeout(() => r('still pending after 30 s'), 30_000));
          return Promise.race([s.ready().then(() => 'resolved', (e) => e.code), bound]);
        }, api.url);
        assert.equal(first, 'HS_ERR_NETWORK');
        assert.ok(hold.held() >= 1, 'the request reached the server, which never answered it');
      } finally {
        // The server answers again (the held requests go on to a page that gave up on them).
        hold.release();
      }
      const r = await page.evaluate(async () => {
        const token = await session.ready();
        const me = await (await session.fetch('/api/me')).json();
        return { token, auth: me.auth };
      });
      assert.ok(r.token, 'a new token request was made, and answered');
      assert.equal(r.auth, `DPoP ${r.token}`);
    });
  });

  test('an endpoint answering expiries already past: at most 3 token requests in the first 3 s, a bounded rate after', async () => {
    await withPage(async (page) => {
      const before = past.posts();
      await page.evaluate(async (url) => {
        await start({ url, storage: 'memory' }).ready();
      }, past.url);
      // Not timing assertions: a slower machine makes fewer requests in these windows, never more.
      await new Promise((r) => setTimeout(r, 3000));
      assert.ok(past.posts() - before <= 3, `${past.posts() - before} token requests in the first 3 s`);
      await new Promise((r) => setTimeout(r, 6000));
      assert.ok(past.posts() - before <= 6, `${past.posts() - before} token requests in 9 s (3 at once, then one per 3 s at most)`);
    });
  });

  test('RPC calls while the socket is down: at most 100 wait (the rest fail at once), and none that timed out ever reaches the server', async () => {
    await withPage(async (page) => {
      const at = api.messages.length;
      // The socket waits for the token, which the server holds: down until released.
      const hold = api.holdTokenPosts();
      let codes: string[];
      try {
        codes = await page.evaluate(async (url) => {
          const s = start({ url, storage: 'memory', rpcTimeout: 1500, timeout: 60_000 });
          const calls: Promise<string>[] = [];
          for (let i = 0; i < 125; i++) calls.push(s.rpc('queued.' + i).then(() => 'answered', (e) => e.code));
          return Promise.all(calls);
        }, api.url);
      } finally {
        hold.release();
      }
      assert.equal(codes.filter((c) => c === 'HS_ERR_RPC').length, 25, 'past 100 waiting, a call fails at once');
      assert.equal(codes.filter((c) => c === 'HS_ERR_RPC_TIMEOUT').length, 100);
      // The socket up: calls until one reaches the server. A queued call would have been sent before it.
      await page.evaluate(() => {
        let i = 0;
        (window as any).probes = setInterval(() => session.rpc('probe.' + i++).catch(() => {}), 300);
      });
      try {
        await until('a call made after the socket came up to reach the server', () => api.messages.slice(at).some((m) => m.includes('"probe.')), 30_000);
      } finally {
        await page.evaluate(() => clearInterval((window as any).probes));
      }
      assert.deepEqual(api.messages.slice(at).filter((m) => m.includes('"queued.')), []);
    });
  });

  test('4401 after the socket stayed up past minUptime, the endpoint still minting: `expired` within 3 token requests, then no more attempts', async () => {
    await withPage(async (page) => {
      const posts = refusing.tokenRequests.POST;
      // minUptime 300 ms stands in for the default 5 s: every connection stays up 1 s, so a retry counter that
      // resets after minUptime (the old rule) is reset before every refusal.
      await page.evaluate(async (url) => {
        const s = start({ url, storage: 'memory' });
        await s.ready();
        openSocket('/ws', { minUptime: 300, minReconnectionDelay: 50, maxReconnectionDelay: 100 });
      }, refusing.url);
      await until(
        '`expired`, or more than 3 token requests',
        async () => refusing.tokenRequests.POST - posts > 3 || (await page.evaluate(() => eventsNamed('expired').length > 0)),
        60_000,
      );
      const r = await page.evaluate(() => ({ expired: eventsNamed('expired').length, state: ws.readyState, log: socketLog }));
      assert.equal(r.expired, 1, `no \`expired\` after ${refusing.tokenRequests.POST - posts} token requests`);
      assert.ok(refusing.tokenRequests.POST - posts <= 3, `${refusing.tokenRequests.POST - posts} token requests`);
      // Stopped for good: closed, and no attempt pending (a stopped socket's readyState is CLOSED between attempts too).
      assert.equal(r.state, 3);
      assert.ok(r.log.filter((l: string) => l === 'close 4401').length >= 2, r.log.join(', '));
    });
  });

  test('logout() while a login is in flight, its answer (with a Session-Token) after: no token, storage empty, the API sees the page signed out', async () => {
    await withSameOriginPage(async (page) => {
      const key = 'hybrid-session:' + api.pages;
      const hold = api.holdLogins();
      try {
        await page.evaluate(async (url) => {
          const s = start({ url, storage: 'localStorage' });
          await s.ready();
          (window as any).login = s.fetch('/api/login', { method: 'POST' }).then((r) => ({ status: r.status, header: r.headers.get('Session-Token') }));
        }, api.pages);
        await until('the login to reach the server', () => hold.held() === 1);
        await page.evaluate(() => session.logout());
      } finally {
        hold.release();
      }
      const r = await page.evaluate(async (key) => {
        const login = await (window as any).login;
        // Storage may hold the late token as a logout to send until the server confirms it: empty after that.
        for (let i = 0; i < 400 && localStorage.getItem(key) !== null; i++) await new Promise((r) => setTimeout(r, 50));
        const state = { token: session.token, stored: localStorage.getItem(key), tokens: eventsNamed('token').length };
        // What the API sees of this page next: a new, signed-out session.
        const me = await (await session.fetch('/api/me')).json();
        return { login, ...state, me };
      }, key);
      assert.equal(r.login.status, 200);
      assert.ok(r.login.header, 'the login answered with a Session-Token (the attack reached the page)');
      assert.equal(r.token, null);
      assert.equal(r.stored, null);
      assert.equal(r.tokens, 1, 'only the first token was ever kept');
      assert.equal(r.me.user, null, `signed in as ${r.me.user}`);
      assert.notEqual(r.me.auth?.split(' ')[1], r.login.header);
    });
  });

  test("a late login's session is ended before the page asks for a token again, however slowly the server ends it", async () => {
    await withSameOriginPage(async (page) => {
      const logins = api.holdLogins();
      let deletes: ReturnType<Api['holdTokenDeletes']> | undefined;
      let late: string | null = null;
      try {
        await page.evaluate(async (url) => {
          const s = start({ url, storage: 'localStorage' });
          await s.ready();
          (window as any).login = s.fetch('/api/login', { method: 'POST' }).then((r) => r.headers.get('Session-Token'));
        }, api.pages);
        await until('the login to reach the server', () => logins.held() === 1);
        await page.evaluate(() => session.logout());
        // From here the server carries out logouts slowly: the late login's DELETE waits.
        deletes = api.holdTokenDeletes();
        logins.release();
        late = await page.evaluate(async () => {
          const header = await (window as any).login;
          (window as any).me = session.fetch('/api/me').then((r) => r.json());
          return header;
        });
        assert.ok(late, 'the login answered with a Session-Token (the attack reached the page)');
        await until('the late session to be ended', () => deletes!.held() >= 1);
        // Time for a client that does not wait for that DELETE to ask for a token meanwhile, with the login's
        // cookie (a slower machine asks later, never sooner: this can only make a broken client pass).
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        logins.release();
        deletes?.release();
      }
      const me = await page.evaluate(() => (window as any).me);
      assert.equal(me.user, null, `signed in as ${me.user}`);
      assert.notEqual(me.auth, `Bearer ${late}`);
    });
  });

  test("logout() with the network cut, then back: the next ready() does not land in the old session, which is ended first", async () => {
    await withSameOriginPage(async (page) => {
      const old = await page.evaluate(async (url) => {
        const s = start({ url, storage: 'localStorage' });
        await s.ready();
        const me = await (await s.fetch('/api/inc', { method: 'POST' })).json();
        return { token: session.token!, sid: me.sid as string };
      }, api.pages);
      api.cut(true);
      try {
        const out = await page.evaluate(() => session.logout().then(() => 'resolved', (e) => e.code));
        assert.equal(out, 'HS_ERR_NETWORK');
        // A reload, still cut off: the old session is not asked for a token; its DELETE is tried again.
        await page.reload();
        await waitForHarness(page);
        const at = api.tokenLog.length;
        const offline = await page.evaluate((url) => start({ url, storage: 'localStorage' }).ready().then((t) => `resolved ${t}`, (e) => e.code), api.pages);
        assert.equal(offline, 'HS_ERR_NETWORK');
        assert.deepEqual(new Set(api.tokenLog.slice(at)), new Set([`DELETE DPoP ${old.token}`]));
      } finally {
        api.cut(false);
      }
      const at = api.tokenLog.length;
      const r = await page.evaluate(async () => {
        const token = await session.ready();
        const me = await (await session.fetch('/api/me')).json();
        return { token, me };
      });
      assert.deepEqual(api.tokenLog.slice(at, at + 2), [`DELETE DPoP ${old.token}`, 'POST null'], 'the pending DELETE first, then a token for a new session');
      assert.notEqual(r.me.sid, old.sid);
      assert.equal(r.me.n, 0);
      assert.equal(r.me.auth, `DPoP ${r.token}`);
      assert.equal(await stored(api, old.sid), undefined, 'the old session is ended on the server');
    });
  });

  test('a Session-Token from another origin (after a redirect from the API, or from an attachTo origin) leaves the token unchanged', async () => {
    attackerToken = await mintToken(api);
    await withPage(async (page) => {
      const r = await page.evaluate(
        async ({ url, evil }) => {
          const s = start({ url, storage: 'memory', attachTo: [evil] });
          const token = await s.ready();
          const res = await s.fetch('/api/redirect?to=' + encodeURIComponent(evil + '/avatar.png'));
          const redirected = { url: res.url, header: res.headers.get('Session-Token'), kept: s.token };
          const attached = (await s.fetch(evil + '/files/1')).headers.get('Session-Token');
          const me = await (await s.fetch('/api/me')).json();
          return { token, redirected, attached, now: s.token, me };
        },
        { url: api.url, evil: attacker.url },
      );
      // The attack reached the page both ways: the header was there to take.
      assert.equal(r.redirected.url, attacker.url + '/avatar.png');
      assert.equal(r.redirected.header, attackerToken);
      assert.equal(r.attached, attackerToken);
      assert.equal(r.redirected.kept, r.token, 'not taken after the redirect');
      assert.equal(r.now, r.token, 'not taken from the attachTo origin');
      assert.equal(r.me.auth, `DPoP ${r.token}`);
      assert.equal(attacker.hits.at(-1)?.auth, `DPoP ${r.token}`, 'the attachTo origin got the token (it is trusted with it, not to replace it)');
    });
  });
});
