/**
 * hs.socketsOf(sid): this process's open sockets of a session, from the registry hybrid-session keeps anyway (indexed
 * by session id), so the SocketStream facade and the demo push to "every view of a session" without registries of
 * their own. A real server and the real `ws` client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { connect, getToken, nextConnection, startApp, type TestApp } from '../helpers.ts';

async function open(app: TestApp, token: string): Promise<{ client: ReturnType<typeof connect>; server: WebSocket }> {
  const server = nextConnection(app);
  const client = connect(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
  await client.opened;
  return { client, server: await server };
}

test('hs.socketsOf(sid) lists the session\'s open sockets, and only them; closed and ended ones leave', { timeout: 60_000 }, async () => {
  const app = await startApp();
  try {
    const a = await getToken(app.url);
    const b = await getToken(app.url);
    const a1 = await open(app, a.token);
    const a2 = await open(app, a.token);
    const b1 = await open(app, b.token);
    const sidA = app.hs.sessionOf(a1.server).sessionID;
    const sidB = app.hs.sessionOf(b1.server).sessionID;
    assert.deepEqual(new Set(app.hs.socketsOf(sidA)), new Set([a1.server, a2.server]));
    assert.deepEqual(app.hs.socketsOf(sidB), [b1.server]);
    assert.deepEqual(app.hs.socketsOf('no-such-session'), []);
    const list = app.hs.socketsOf(sidA);
    list.length = 0;
    assert.equal(app.hs.socketsOf(sidA).length, 2, 'a new array each time: the caller cannot edit the registry');

    const gone = new Promise((r) => a2.server.once('close', r));
    a2.client.ws.close();
    await gone;
    assert.deepEqual(app.hs.socketsOf(sidA), [a1.server]);

    assert.equal((await fetch(app.url + '/session/token', { method: 'DELETE', headers: { authorization: `Bearer ${a.token}` } })).status, 204);
    assert.equal((await a1.client.closed).code, 4401);
    assert.deepEqual(app.hs.socketsOf(sidA), []);
    assert.deepEqual(app.hs.socketsOf(sidB), [b1.server], 'another session keeps its sockets');
    b1.client.ws.close();
  } finally {
    await app.stop();
  }
});
