import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { hybridSession, MemoryStore } from '../../../src/server/index.ts';
import { close, listen } from '../../helpers/net.ts';
import { SECRET, ask, connect, countingStore, getToken, port, rawUpgrade, startApp } from '../helpers.ts';

describe('websocket handshake', () => {
  test('selects hybrid-session and never echoes the bearer (raw response headers)', async () => {
    const app = await startApp();
    try {
      const { token } = await getToken(app.url);
      const { head } = await rawUpgrade(port(app.server), { 'Sec-WebSocket-Protocol': `hybrid-session, hybrid-session.bearer.${token}` });
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.match(head, /\r\nSec-WebSocket-Protocol: hybrid-session(\r\n|$)/);
      assert.ok(!head.includes(token), 'token echoed');
      assert.ok(!head.includes('bearer'), 'bearer protocol echoed');
      // offered first, the bearer is still never selected
      const { head: first } = await rawUpgrade(port(app.server), { 'Sec-WebSocket-Protocol': `hybrid-session.bearer.${token}, hybrid-session` });
      assert.match(first, /\r\nSec-WebSocket-Protocol: hybrid-session(\r\n|$)/);
      // offered alone, nothing is selected rather than the bearer
      const { head: alone } = await rawUpgrade(port(app.server), { 'Sec-WebSocket-Protocol': `hybrid-session.bearer.${token}` });
      assert.match(alone, /^HTTP\/1\.1 101/);
      assert.doesNotMatch(alone, /Sec-WebSocket-Protocol/i);
      // with the real ws client
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
      await c.opened;
      assert.equal(c.protocol, 'hybrid-session');
      assert.equal(c.headers['sec-websocket-protocol'], 'hybrid-session');
      c.ws.close();
    } finally {
      await app.stop();
    }
  });

  test("the app's own protocol: its handleProtocols sees the offers without bearers", async () => {
    const hs = hybridSession({ secret: SECRET });
    const seen: string[][] = [];
    const wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (protocols) => {
        seen.push([...protocols]);
        return protocols.has('graphql-ws') ? 'graphql-ws' : false;
      },
    });
    const plain = new WebSocketServer({ noServer: true, path: '/plain' });
    const server = createServer((req, res) => hs.middleware(req, res, () => res.end()));
    hs.attach(server, plain);
    hs.attach(server, wss);
    const url = await listen(server);
    try {
      const { token } = await getToken(url);
      const c = connect(url.replace('http', 'ws') + '/gql', ['hybrid-session', `hybrid-session.bearer.${token}`, 'graphql-ws']);
      await c.opened;
      assert.equal(c.protocol, 'graphql-ws');
      assert.deepEqual(seen, [['hybrid-session', 'graphql-ws']]);
      c.ws.close();
      // without a hook of its own, the app's protocol offered first does not displace hybrid-session
      const p = connect(url.replace('http', 'ws') + '/plain', ['graphql-ws', 'hybrid-session', `hybrid-session.bearer.${token}`]);
      await p.opened;
      assert.equal(p.protocol, 'hybrid-session');
      p.ws.close();
    } finally {
      hs.close();
      for (const w of [wss, plain]) {
        for (const client of w.clients) client.terminate();
        w.close();
      }
      await close(server);
    }
  });

  test("'connection' carries the authenticated request (req.sessionID, req.session) and hs.sessionOf(ws)", async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      await fetch(app.url + '/set?name=zoe', { headers: { cookie: t.cookie! } });
      const got = new Promise<any>((resolve) => app.wss.once('connection', (ws, req: any) => resolve({ sid: req.sessionID, name: req.session.name, handle: app.hs.sessionOf(ws).sessionID })));
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      const info = await got;
      assert.equal(info.name, 'zoe');
      assert.equal(info.sid, info.handle);
      await c.opened;
      c.ws.close();
    } finally {
      await app.stop();
    }
  });
});

describe('websocket credentials', () => {
  test('invalid, expired or missing credentials: the upgrade completes, then 4401', async () => {
    const app = await startApp({ tokenMaxAge: 200 });
    try {
      const { token } = await getToken(app.url);
      const cases: [string, string[]][] = [
        ['tampered', ['hybrid-session', `hybrid-session.bearer.${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`]],
        ['garbage', ['hybrid-session', 'hybrid-session.bearer.garbage']],
        ['empty bearer', ['hybrid-session', 'hybrid-session.bearer.']],
        ['no credentials', ['hybrid-session']],
        ['several bearers', ['hybrid-session', `hybrid-session.bearer.${token}`, 'hybrid-session.bearer.v1.other']],
      ];
      for (const [name, protocols] of cases) {
        const c = connect(app.wsUrl, protocols);
        await c.opened;
        assert.equal(c.protocol, 'hybrid-session', name);
        assert.equal((await c.closed).code, 4401, name);
      }
      await new Promise((r) => setTimeout(r, 250));
      const expired = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
      assert.equal((await expired.closed).code, 4401);
    } finally {
      await app.stop();
    }
  });

  test('an invalid bearer is 4401 even beside a valid cookie', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const c = connect(app.wsUrl, ['hybrid-session', 'hybrid-session.bearer.v1.bad'], { headers: { cookie: t.cookie! } });
      assert.equal((await c.closed).code, 4401);
    } finally {
      await app.stop();
    }
  });

  test('a foreign Origin is refused with 403 before the upgrade, with no store lookup', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store, allowedOrigins: ['https://app.example'] });
    try {
      const { token, cookie } = await getToken(app.url);
      store.reset();
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`], { origin: 'https://evil.example', headers: { cookie: cookie! } });
      assert.equal(await c.unexpected, 403);
      const { head } = await rawUpgrade(port(app.server), { Origin: 'null', 'Sec-WebSocket-Protocol': `hybrid-session, hybrid-session.bearer.${token}` });
      assert.match(head, /^HTTP\/1\.1 403 Forbidden/);
      assert.equal(store.calls.get, 0);
      const ok = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`], { origin: 'https://app.example' });
      await ok.opened;
      ok.ws.close();
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('the cookie works for same-origin, listed-origin and Origin-less clients', async () => {
    const app = await startApp({ allowedOrigins: ['https://app.example'] });
    try {
      const t = await getToken(app.url);
      for (const origin of [app.url, 'https://app.example', undefined]) {
        const c = connect(app.wsUrl, ['hybrid-session'], { headers: { cookie: t.cookie! }, ...(origin ? { origin } : {}) });
        await c.opened;
        assert.ok((await ask(c.ws, { op: 'sid' })).sid, String(origin));
        c.ws.close();
      }
    } finally {
      await app.stop();
    }
  });

  test('native clients may use Authorization: Bearer on the upgrade', async () => {
    const app = await startApp();
    try {
      const t = await getToken(app.url);
      const c = connect(app.wsUrl, undefined, { headers: { authorization: `Bearer ${t.token}` } });
      await c.opened;
      assert.ok((await ask(c.ws, { op: 'sid' })).sid);
      c.ws.close();
    } finally {
      await app.stop();
    }
  });

  test('?session_token= is refused by default and accepted with allowQueryToken', async () => {
    const refusing = await startApp();
    const accepting = await startApp({ allowQueryToken: true });
    try {
      const a = await getToken(refusing.url);
      const r = connect(`${refusing.wsUrl}/?session_token=${a.token}`, ['hybrid-session']);
      assert.equal((await r.closed).code, 4401);
      const b = await getToken(accepting.url);
      const ok = connect(`${accepting.wsUrl}/?session_token=${b.token}`, ['hybrid-session']);
      await ok.opened;
      assert.ok((await ask(ok.ws, { op: 'sid' })).sid);
      ok.ws.close();
      const twice = connect(`${accepting.wsUrl}/?session_token=${b.token}&session_token=v1.x`, ['hybrid-session']);
      assert.equal((await twice.closed).code, 4401);
    } finally {
      await refusing.stop();
      await accepting.stop();
    }
  });

  test('a store failure during the handshake closes with 1011, not 4401', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const t = await getToken(app.url);
      store.failGet = new Error('store down');
      const c = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      assert.equal((await c.closed).code, 1011);
      // Disconnected (its calls still failing, as a network store's do): 1011 without asking it.
      store.emit('disconnect');
      const d = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${t.token}`]);
      assert.equal((await d.closed).code, 1011);
    } finally {
      await app.stop();
      store.close();
    }
  });

  test('a malformed Sec-WebSocket-Protocol header is a 400, with no store lookup', async () => {
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      store.reset();
      for (const value of ['hybrid-session,,x', 'hybrid-session, hybrid-session', 'a b', 'hybrid-session.bearer.é', ',']) {
        const { head } = await rawUpgrade(port(app.server), { 'Sec-WebSocket-Protocol': value });
        assert.match(head, /^HTTP\/1\.1 400/, value);
      }
      assert.equal(store.calls.get, 0);
    } finally {
      await app.stop();
      store.close();
    }
  });
});

describe('attach()', () => {
  test('refuses a WebSocketServer that answers upgrades itself (not noServer)', async () => {
    const hs = hybridSession({ secret: SECRET });
    const server = createServer();
    const wss = new WebSocketServer({ server });
    try {
      assert.throws(() => hs.attach(server, wss), { code: 'HS_ERR_INVALID_OPTIONS' });
    } finally {
      wss.close();
      hs.close();
    }
  });

  test('the detach function and hs.close() stop authenticating upgrades', async () => {
    const hs = hybridSession({ secret: SECRET });
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    const detach = hs.attach(server, wss);
    assert.equal(server.listenerCount('upgrade'), 1);
    detach();
    assert.equal(server.listenerCount('upgrade'), 0);
    hs.attach(server, wss);
    hs.close();
    assert.equal(server.listenerCount('upgrade'), 0);
    wss.close();
  });
});
