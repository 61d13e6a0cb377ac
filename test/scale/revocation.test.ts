/**
 * Revocation across processes (Redis pub/sub, option `revocation`): a session ended on process A — DELETE on the
 * token endpoint, req.session.destroy(), req.session.regenerate(), or destroy() over a websocket — closes its
 * websockets on process B with 4401 within a second of A's response (the bound: the bus, not B's next touch).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { noRedis } from '../helpers/env.ts';
import { bearer, newToken, useTwoProcesses, within, type Client, type ServerProcess } from './support.ts';

/** The "within a second"; measured from A's response, so process start-up and the handshake are not in it. */
const BOUND_MS = 1000;

describe('revocation across processes', { skip: noRedis }, () => {
  let a: ServerProcess;
  let b: ServerProcess;
  const { open } = useTwoProcesses({ subscribed: true }, (p) => ({ a, b } = p));

  /** A session made on A with two sockets on B and one on A. */
  async function sessionWithSockets() {
    const { token } = await newToken(a.url);
    const onB = [open(b, token), open(b, token)];
    const onA = open(a, token);
    await within(Promise.all([...onB, onA].map((c) => c.opened)), 5000, 'handshakes');
    return { token, onB, onA };
  }

  async function assertClosedWithin(sockets: Client[], since: number) {
    const closes = await within(Promise.all(sockets.map((c) => c.closed)), 5000, 'sockets closing');
    for (const { code, at } of closes) {
      assert.equal(code, 4401);
      assert.ok(at - since < BOUND_MS, `closed ${Math.round(at - since)} ms after the response (bound ${BOUND_MS} ms)`);
    }
  }

  test('DELETE /session/token on A closes the session\'s websockets on B (and A) with 4401', async () => {
    const { token, onB, onA } = await sessionWithSockets();
    const res = await fetch(`${a.url}/session/token`, { method: 'DELETE', headers: bearer(token) });
    const since = performance.now();
    assert.equal(res.status, 204);
    await assertClosedWithin([...onB, onA], since);
  });

  test('req.session.destroy() on A closes its websockets on B with 4401', async () => {
    const { token, onB } = await sessionWithSockets();
    const res = await fetch(`${a.url}/destroy`, { method: 'POST', headers: bearer(token) });
    const since = performance.now();
    assert.equal(res.status, 204);
    await assertClosedWithin(onB, since);
  });

  test('req.session.regenerate() on A closes the old session\'s websockets on B; the new token opens one on B', async () => {
    const { token, onB } = await sessionWithSockets();
    const res = await fetch(`${a.url}/regenerate`, { method: 'POST', headers: bearer(token) });
    const since = performance.now();
    assert.equal(res.status, 200);
    const fresh = res.headers.get('session-token');
    assert.ok(fresh && fresh !== token, 'the response carries the new token');
    await assertClosedWithin(onB, since);
    const again = open(b, fresh);
    await within(again.opened, 5000, 'handshake with the new token on B');
    assert.equal((await again.ask({ op: 'get' })).data.user, 'signed-in');
    again.ws.close();
  });

  test('destroy() over a websocket on B closes the session\'s websockets on A', async () => {
    const { onB, onA } = await sessionWithSockets();
    const reply = await onB[0]!.ask({ op: 'destroy' });
    const since = performance.now();
    assert.equal(reply.ok, true);
    await assertClosedWithin([onA, onB[1]!], since);
  });

  test('other sessions\' websockets stay open', async () => {
    const keep = await sessionWithSockets();
    const end = await sessionWithSockets();
    await fetch(`${a.url}/session/token`, { method: 'DELETE', headers: bearer(end.token) });
    await within(Promise.all(end.onB.map((c) => c.closed)), 5000, 'revoked sockets closing');
    for (const c of [...keep.onB, keep.onA]) {
      assert.equal(c.ws.readyState, c.ws.OPEN);
      assert.equal((await c.ask({ op: 'get' })).ok, true);
    }
  });
});
