// req.session.setUserId(id): a new session id and token (no fixation); only the caller moves (DESIGN "Login moves
// only the caller"): every other socket of the pre-login session closes 4401 and never hears the new token;
// setUserId(null) signs out. Over RPC and over HTTP, against a real server and real `ws` clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import { createSocketStream } from '../../src/socketstream/index.ts';
import { HEADERS, RPC_TOKEN_NOTIFICATION, isWellFormedToken } from '../../src/shared/protocol.ts';
import { close } from '../helpers/net.ts';
import { baseUrl, bearer, getToken, RpcClient } from './support.ts';

interface TokenParams {
  token: string;
  expiresAt: number;
}

describe('setUserId', () => {
  const ss = createSocketStream({ secret: crypto.randomBytes(32).toString('hex') });
  let server: Server;
  let base: string;
  const open: RpcClient[] = [];

  ss.rpc.actions('auth', function (req: any, res: any) {
    req.use('session');
    return {
      signIn(user: string) {
        req.session.setUserId(user, (err: unknown) => {
          if (err) return res(err);
          res({ userId: req.session.userId, sessionId: req.sessionId });
        });
      },
      async signOut() {
        await req.session.setUserId(null);
        res({ userId: req.session.userId ?? null, cart: req.session.cart ?? null });
      },
      fill() {
        req.session.cart = { items: 3 };
        req.session.save(() => res(true));
      },
      whoami() {
        res({ userId: req.session.userId ?? null, cart: req.session.cart ?? null });
      },
    };
  });
  ss.http.route('/login', async function (req: any, res: any) {
    await req.session.setUserId('bob');
    res.end(JSON.stringify({ userId: req.session.userId }));
  });
  ss.http.route('/whoami', function (req: any, res: any) {
    res.end(JSON.stringify({ userId: req.session.userId ?? null, cart: req.session.cart ?? null }));
  });

  async function connect(token: string): Promise<RpcClient> {
    const c = await RpcClient.open(base, token);
    open.push(c);
    return c;
  }

  before(async () => {
    server = await ss.start({ port: 0, host: '127.0.0.1' });
    base = baseUrl(server);
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await ss.stop();
    await close(server);
  });

  test('over RPC: new id and token, data kept, the old token refused; another socket of the pre-login session closes 4401 and never hears the token', async () => {
    const { token: oldToken } = await getToken(base);
    const caller = await connect(oldToken);
    const otherTab = await connect(oldToken);
    assert.equal((await caller.call('auth.fill')).result, true);
    const before = (await caller.call('auth.whoami')).result;
    assert.deepEqual(before, { userId: null, cart: { items: 3 } });

    const answer = await caller.call('auth.signIn', ['alice']);
    assert.equal((answer.result as any).userId, 'alice');

    const note = await caller.notification(RPC_TOKEN_NOTIFICATION);
    const { token: newToken, expiresAt } = note.params[0] as TokenParams;
    assert.ok(isWellFormedToken(newToken));
    assert.notEqual(newToken, oldToken);
    assert.ok(expiresAt > Date.now());

    // The old token names a session that no longer exists (no fixation).
    const stale = await fetch(`${base}/whoami`, { headers: bearer(oldToken) });
    assert.equal(stale.status, 401);
    const fresh = await fetch(`${base}/whoami`, { headers: bearer(newToken) });
    assert.deepEqual(await fresh.json(), { userId: 'alice', cart: { items: 3 } });

    // The other socket (another tab, or an attacker who planted the pre-login session) is closed, never told.
    assert.equal((await otherTab.closed).code, 4401);
    assert.deepEqual(otherTab.notifications.filter((n) => n.method === RPC_TOKEN_NOTIFICATION), []);
    assert.deepEqual((await caller.call('auth.whoami')).result, { userId: 'alice', cart: { items: 3 } });
  });

  test('setUserId(null) signs out: another new id, an empty session, the signed-in token refused', async () => {
    const { token } = await getToken(base);
    const c = await connect(token);
    await c.call('auth.fill');
    await c.call('auth.signIn', ['carol']);
    const signedIn = ((await c.notification(RPC_TOKEN_NOTIFICATION)).params[0] as TokenParams).token;
    c.notifications.length = 0;

    const out = await c.call('auth.signOut');
    assert.deepEqual(out.result, { userId: null, cart: null });
    const signedOut = ((await c.notification(RPC_TOKEN_NOTIFICATION)).params[0] as TokenParams).token;
    assert.notEqual(signedOut, signedIn);
    assert.equal((await fetch(`${base}/whoami`, { headers: bearer(signedIn) })).status, 401);
    const r = await fetch(`${base}/whoami`, { headers: bearer(signedOut) });
    assert.deepEqual(await r.json(), { userId: null, cart: null });
    assert.deepEqual((await c.call('auth.whoami')).result, { userId: null, cart: null });
  });

  test('over HTTP: Session-Token carries the new token, the cookie moves; the pre-login session\'s sockets close 4401 untold', async () => {
    const { token: oldToken, setCookie } = await getToken(base);
    const oldCookie = setCookie!.split(';')[0]!;
    const socket = await connect(oldToken);
    await socket.call('auth.fill');

    const r = await fetch(`${base}/login`, { headers: bearer(oldToken) });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { userId: 'bob' });
    const newToken = r.headers.get(HEADERS.sessionToken);
    assert.ok(newToken && isWellFormedToken(newToken) && newToken !== oldToken);
    const newCookie = r.headers.get('set-cookie')?.split(';')[0];
    assert.ok(newCookie && newCookie !== oldCookie, 'the cookie names the new session');

    assert.equal((await fetch(`${base}/whoami`, { headers: bearer(oldToken) })).status, 401);
    assert.deepEqual(await (await fetch(`${base}/whoami`, { headers: bearer(newToken) })).json(), { userId: 'bob', cart: { items: 3 } });
    // The old cookie is not the signed-in session any more.
    assert.deepEqual(await (await fetch(`${base}/whoami`, { headers: { cookie: oldCookie } })).json(), { userId: null, cart: null });
    assert.deepEqual(await (await fetch(`${base}/whoami`, { headers: { cookie: newCookie } })).json(), { userId: 'bob', cart: { items: 3 } });

    assert.equal((await socket.closed).code, 4401);
    assert.deepEqual(socket.notifications.filter((n) => n.method === RPC_TOKEN_NOTIFICATION), []);
  });

  test('setUserId refuses ids that are neither strings nor numbers', async () => {
    ss.rpc.actions('bad', function (req: any, res: any) {
      req.use('session');
      return {
        objectId() {
          req.session.setUserId({ admin: true }).then(() => res('accepted'), (e: Error) => res(e));
        },
      };
    });
    const c = await connect((await getToken(base)).token);
    const a = await c.call('bad.objectId');
    assert.equal(a.error?.code, -32000);
    assert.match(a.error!.message, /string, a number or null/);
  });
});
