/**
 * Redis going away and coming back, under two server processes (real children):
 * - unreachable (a relay in front of redis-server drops every connection and refuses new ones; the data stays):
 *   requests that need the store get 503 HS_ERR_STORE_UNAVAILABLE, no session is minted, a new handshake closes
 *   1011, open websockets stay open (a store call over them fails, the socket does not); when Redis answers again
 *   everything resumes by itself with nothing lost, and the buses resubscribe (revocation works again);
 * - restarted empty (redis-server stopped and started on its port, no persistence): old tokens are 401, sockets of
 *   the lost sessions close 4401 once their process is back on Redis, new sessions work, revocation works.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { noRedis } from '../helpers/env.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { bearer, clientPool, inspector, newSecret, newToken, relay, startServer, until, within, type ServerProcess } from './support.ts';

describe('Redis outage under two processes', { skip: noRedis }, () => {
  let redis: RedisServer;
  let link: Awaited<ReturnType<typeof relay>>;
  let look: Awaited<ReturnType<typeof inspector>>;
  let a: ServerProcess;
  let b: ServerProcess;
  const secret = newSecret();
  const { open, closeAll } = clientPool();
  const status = async (url: string, init?: RequestInit) => {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    return res.status;
  };
  const bothBusesSubscribed = () => until(async () => (await look.subscribers()) === 2, 10_000, 'both buses subscribed');

  /** DELETE on A closes a socket of that session on B with 4401, within a second of the response. */
  async function revocationWorks() {
    const { token } = await newToken(a.url);
    const onB = open(b, token);
    await within(onB.opened, 5000, 'handshake on B');
    assert.equal(await status(`${a.url}/session/token`, { method: 'DELETE', headers: bearer(token) }), 204);
    const since = performance.now();
    const { code, at } = await within(onB.closed, 5000, 'revoked socket on B');
    assert.equal(code, 4401);
    assert.ok(at - since < 1000, `closed ${Math.round(at - since)} ms after the response`);
  }

  before(async () => {
    redis = await startRedis();
    link = await relay(redis.port);
    look = await inspector(redis.url);
    [a, b] = await Promise.all([startServer(link.url, secret), startServer(link.url, secret)]);
    await bothBusesSubscribed();
  });
  after(async () => {
    closeAll();
    await Promise.all([a?.stop(), b?.stop()]);
    look?.close();
    link?.close();
    await redis?.stop();
  });

  test('unreachable: 503, nothing minted, handshakes 1011, open sockets stay open; back: resumes with nothing lost', async () => {
    const { token } = await newToken(a.url);
    assert.equal(await status(`${a.url}/set?fruit=fig`, { method: 'POST', headers: bearer(token) }), 200);
    assert.equal(await status(`${b.url}/incr`, { method: 'POST', headers: bearer(token) }), 200);
    const onB = open(b, token);
    await within(onB.opened, 5000, 'handshake on B');
    const keysBefore = await look.keys();

    await link.down();
    const down = await fetch(`${a.url}/data`, { headers: bearer(token) });
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { error: string }).error, 'HS_ERR_STORE_UNAVAILABLE');
    assert.equal(await status(`${b.url}/incr`, { method: 'POST', headers: bearer(token) }), 503);
    // No session silently minted: neither for a newcomer nor for a known token.
    assert.equal(await status(`${b.url}/session/token`, { method: 'POST' }), 503);
    assert.equal(await status(`${a.url}/session/token`, { method: 'POST', headers: bearer(token) }), 503);
    const refused = open(a, token);
    assert.equal((await within(refused.closed, 5000, 'handshake during the outage')).code, 1011);
    // The open socket stays open; what it asks of the store fails and says why.
    const asked = await onB.ask({ op: 'incr' });
    assert.deepEqual([asked.ok, asked.error], [false, 'HS_ERR_STORE_UNAVAILABLE']);
    assert.equal(onB.ws.readyState, onB.ws.OPEN);

    await link.up();
    await until(async () => (await status(`${a.url}/data`, { headers: bearer(token) })) === 200, 10_000, 'A serving again');
    await until(async () => (await status(`${b.url}/data`, { headers: bearer(token) })) === 200, 10_000, 'B serving again');
    const back = (await (await fetch(`${b.url}/data`, { headers: bearer(token) })).json()) as any;
    assert.deepEqual(back.data, { fruit: 'fig', count: 1 });
    assert.equal(await look.keys(), keysBefore);
    assert.equal(onB.ws.readyState, onB.ws.OPEN, 'the socket of a session that survived stays open');
    assert.equal((await onB.ask({ op: 'incr' })).count, 2);

    await bothBusesSubscribed();
    await revocationWorks();
    onB.ws.close();
  });

  test('restarted empty: old tokens 401, their open sockets close 4401, new sessions and revocation work', async () => {
    const { token } = await newToken(a.url);
    const onB = open(b, token);
    await within(onB.opened, 5000, 'handshake on B');

    await redis.restart();
    await until(async () => (await status(`${a.url}/session/token`, { method: 'POST' })) === 200, 10_000, 'A minting again');
    await until(async () => (await status(`${b.url}/session/token`, { method: 'POST' })) === 200, 10_000, 'B minting again');
    assert.equal(await status(`${a.url}/data`, { headers: bearer(token) }), 401);
    // B checks its sessions once its bus is back: this one is gone with Redis's data.
    assert.equal((await within(onB.closed, 10_000, 'socket of a lost session')).code, 4401);

    await bothBusesSubscribed();
    await revocationWorks();
  });
});
