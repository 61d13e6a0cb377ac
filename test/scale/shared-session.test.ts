/**
 * Two server processes (real children) on one redis-server: a token of one is a session on both, over HTTP and
 * websockets; concurrent update()s from 40 clients spread over both land exactly (compare-and-set in Redis);
 * a token logged out on one process is dead on the other.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { noRedis } from '../helpers/env.ts';
import { bearer, newToken, useTwoProcesses, within, type Client, type ServerProcess } from './support.ts';

describe('two processes, one Redis: one session', { skip: noRedis }, () => {
  let a: ServerProcess;
  let b: ServerProcess;
  const { open } = useTwoProcesses({}, (p) => ({ a, b } = p));

  test('a token issued by A is accepted by B, over HTTP and on the websocket handshake', async () => {
    const { token } = await newToken(a.url);
    const viaB = await fetch(`${b.url}/data`, { headers: bearer(token) });
    assert.equal(viaB.status, 200);
    const ws = open(b, token);
    await within(ws.opened, 5000, 'handshake on B');
    assert.equal((await ws.ask({ op: 'get' })).ok, true);
    // and B renews it: the renewed token works on A
    const renewed = await newToken(b.url, bearer(token));
    assert.equal(renewed.created, false);
    assert.equal((await fetch(`${a.url}/data`, { headers: bearer(renewed.token) })).status, 200);
    ws.ws.close();
  });

  test('HTTP on A and a websocket on B read and write the same session data', async () => {
    const { token } = await newToken(a.url);
    assert.equal((await fetch(`${a.url}/set?fruit=pear`, { method: 'POST', headers: bearer(token) })).status, 200);
    const ws = open(b, token);
    await within(ws.opened, 5000, 'handshake on B');
    assert.equal((await ws.ask({ op: 'get' })).data.fruit, 'pear');
    assert.equal((await ws.ask({ op: 'set', fruit: 'quince' })).ok, true);
    const back = (await (await fetch(`${a.url}/data`, { headers: bearer(token) })).json()) as any;
    assert.equal(back.data.fruit, 'quince');
    ws.ws.close();
  });

  test('20 websockets + 20 HTTP clients of one session, over both processes, 50 update()s each at once → exactly 2,000', async () => {
    const { token } = await newToken(a.url);
    const sockets = Array.from({ length: 20 }, (_, i) => open(i % 2 ? b : a, token));
    await within(Promise.all(sockets.map((c) => c.opened)), 10_000, '20 handshakes');
    const failures: string[] = [];
    const viaSocket = async (c: Client) => {
      for (let i = 0; i < 50; i++) {
        const r = await c.ask({ op: 'incr' }, 30_000);
        if (!r.ok) failures.push(r.error);
      }
    };
    const viaHttp = async (server: ServerProcess) => {
      for (let i = 0; i < 50; i++) {
        const r = await fetch(`${server.url}/incr`, { method: 'POST', headers: bearer(token) });
        if (r.status !== 200) failures.push(`HTTP ${r.status}`);
        await r.arrayBuffer();
      }
    };
    await within(
      Promise.all([...sockets.map(viaSocket), ...Array.from({ length: 20 }, (_, i) => viaHttp(i % 2 ? a : b))]),
      60_000,
      '2,000 increments',
    );
    assert.deepEqual(failures, []);
    const viaA = (await (await fetch(`${a.url}/data`, { headers: bearer(token) })).json()) as any;
    assert.equal(viaA.data.count, 2000);
    assert.equal((await sockets[1]!.ask({ op: 'get' })).data.count, 2000); // read on B
    for (const c of sockets) c.ws.close();
  });

  test('replay after logout on another process: DELETE on A, then the old token is 401 on B and 4401 on its handshake', async () => {
    const { token } = await newToken(a.url);
    assert.equal((await fetch(`${b.url}/data`, { headers: bearer(token) })).status, 200);
    assert.equal((await fetch(`${a.url}/session/token`, { method: 'DELETE', headers: bearer(token) })).status, 204);
    const replay = await fetch(`${b.url}/data`, { headers: bearer(token) });
    assert.equal(replay.status, 401);
    assert.match(replay.headers.get('www-authenticate') ?? '', /invalid_token/);
    const ws = open(b, token);
    assert.equal((await within(ws.closed, 5000, 'handshake refused on B')).code, 4401);
    // POST with the dead bearer makes a new session (never the old one back)
    assert.equal((await newToken(b.url, bearer(token))).created, true);
  });

  test('nothing the servers print carries a token or a session id', async () => {
    const { token } = await newToken(a.url);
    await fetch(`${b.url}/data`, { headers: bearer(token) });
    const ws = open(b, token);
    await within(ws.opened, 5000, 'handshake on B');
    await fetch(`${a.url}/session/token`, { method: 'DELETE', headers: bearer(token) });
    await within(ws.closed, 5000, 'revoked socket');
    // v1.<sid>.<expiry>.<generation>.<mac>: the id and the MAC are the secret parts (the generation is a small number).
    const parts = token.split('.');
    const sidPart = parts[1]!;
    const mac = parts[parts.length - 1]!;
    assert.ok(parts.length === 5 && sidPart && mac, 'token shape: v1.<sid>.<expiry>.<generation>.<mac>');
    for (const server of [a, b]) {
      for (const secretBit of [token, sidPart, mac, Buffer.from(sidPart, 'base64url').toString()]) {
        assert.ok(!server.output().includes(secretBit), 'a server printed part of a token');
      }
    }
  });
});
