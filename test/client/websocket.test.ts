/**
 * session.websocket's give-up rule against a real ws server on loopback (the client in Node, with ws's WebSocket
 * class): the rule is the client's own count across reconnects, not reconnecting-websocket's retry counter, which
 * resets once a connection stayed up `minUptime`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { createSession, isHybridSessionError, type Session } from '../../src/client/index.ts';
import type { HybridSessionError } from '../../src/shared/errors.ts';
import { close, createServer, freePort, listen } from '../helpers/net.ts';
import { uniqueKey } from './support.ts';

/** Wait for `check`; the bound only keeps a broken client from hanging the run. */
async function until(what: string, check: () => boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('websocket give-up', { timeout: 120_000 }, () => {
  const server = createServer();
  const wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has('hybrid-session') ? 'hybrid-session' : false) });
  let url = '';
  const state = { posts: 0, upgrades: 0, endpoint: 'ok' as 'ok' | '503', closeAfter: 300 };
  let n = 0;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/session/token' || req.method !== 'POST') return void res.writeHead(404).end();
    state.posts++;
    if (state.endpoint === '503' && state.posts > 1) return void res.writeHead(503).end();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: `v1.ws${++n}`, expiresAt: Date.now() + 3_600_000, storage: 'memory', created: false }));
  });
  // Every connection is accepted, then refused after a while: longer than the client's minUptime below.
  wss.on('connection', (ws) => {
    state.upgrades++;
    setTimeout(() => ws.close(4401, 'refused'), state.closeAfter);
  });
  before(async () => {
    url = await listen(server);
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    await close(server);
  });

  const open = (s: Session) => s.websocket('/ws', undefined, { WebSocket: WebSocket as unknown as typeof globalThis.WebSocket, minUptime: 100, minReconnectionDelay: 20, maxReconnectionDelay: 50 });

  test('4401 after the connection stayed up past minUptime: renew once, then stop with `expired`', async () => {
    Object.assign(state, { posts: 0, upgrades: 0, endpoint: 'ok' });
    const s = createSession({ url, storage: 'memory', key: uniqueKey() });
    let expired = 0;
    s.on('expired', () => expired++);
    const ws = open(s);
    await until('expired', () => expired > 0);
    const upgrades = state.upgrades;
    // A looping client would make several more attempts in this time.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(state.upgrades, upgrades, 'no attempt after giving up');
    assert.ok(state.posts <= 3, `${state.posts} token requests`);
    assert.equal(expired, 1);
    assert.equal(ws.readyState, ws.CLOSED);
  });

  test('4401 while the token endpoint answers 503: the socket says so (error) and stops', async () => {
    Object.assign(state, { posts: 0, upgrades: 0, endpoint: '503' });
    const s = createSession({ url, storage: 'memory', key: uniqueKey() });
    const errors: HybridSessionError[] = [];
    s.on('error', (e) => errors.push(e));
    const ws = open(s);
    await until('an error', () => errors.length > 0);
    const upgrades = state.upgrades;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(state.upgrades, upgrades, 'no attempt after giving up');
    assert.ok(isHybridSessionError(errors[0]) && errors[0].status === 503, String(errors[0]));
    assert.match(errors[0].message, /\/ws/);
    assert.equal(ws.readyState, ws.CLOSED);
  });
});

describe('session.rpc while the socket is down', { timeout: 120_000 }, () => {
  test('a call that timed out is never sent; at most 100 calls wait; answers only for calls still waiting', async () => {
    // Node 20 has no global WebSocket: session.rpc opens its socket with the global class, as in a browser.
    const g = globalThis as { WebSocket?: unknown };
    const had = g.WebSocket;
    g.WebSocket = WebSocket;
    // The client's timers do not keep Node alive (unref): this does, while the test waits on them.
    const alive = setInterval(() => {}, 1000);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token: 'v1.rpc', expiresAt: Date.now() + 3_600_000, storage: 'memory', created: false }));
    });
    const wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has('hybrid-session') ? 'hybrid-session' : false) });
    const received: { id: number; method: string }[] = [];
    wss.on('connection', (ws) => ws.on('message', (data) => received.push(JSON.parse(String(data)))));
    let s: Session | undefined;
    let slow: Session | undefined;
    try {
      // Nothing listens yet: the session is offline.
      const fast = (s = createSession({ url, storage: 'memory', key: uniqueKey(), rpcTimeout: 200 }));
      fast.on('error', () => {});
      const timedOut = await Promise.allSettled(Array.from({ length: 5 }, () => fast.rpc('late.call')));
      assert.deepEqual(new Set(timedOut.map((r) => r.status === 'rejected' && (r.reason as HybridSessionError).code)), new Set(['HS_ERR_RPC_TIMEOUT']));
      const patient = (slow = createSession({ url, storage: 'memory', key: uniqueKey(), rpcTimeout: 60_000 }));
      patient.on('error', () => {});
      const calls = Array.from({ length: 150 }, () => patient.rpc('queued.call'));
      const early = await Promise.race([Promise.allSettled(calls.slice(100)), new Promise((r) => setTimeout(() => r('pending'), 5000))]);
      assert.notEqual(early, 'pending', 'calls past the bound fail at once');
      for (const r of early as PromiseSettledResult<unknown>[]) assert.equal(r.status === 'rejected' && (r.reason as HybridSessionError).code, 'HS_ERR_RPC');
      // The network back.
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      await until('the queued calls on the server', () => received.filter((m) => m.method === 'queued.call').length === 100);
      // Give a late send of the timed-out calls (the old client's queue) its chance before the check.
      await until('the first session connected too', () => wss.clients.size >= 2);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(received.filter((m) => m.method === 'late.call'), [], 'no timed-out call reached the server');
      // An answer for a call that is no longer waiting (or never was) is ignored, the waiting ones still answered.
      for (const c of wss.clients) c.send(JSON.stringify({ jsonrpc: '2.0', id: 999_999, result: 'stray' }));
      const [first] = received;
      for (const c of wss.clients) c.send(JSON.stringify({ jsonrpc: '2.0', id: first.id, result: 'answer' }));
      assert.equal(await calls[0], 'answer');
    } finally {
      // Their sockets closed before the global class goes.
      await Promise.allSettled([s?.logout(), slow?.logout()]);
      clearInterval(alive);
      g.WebSocket = had;
      for (const c of wss.clients) c.terminate();
      wss.close();
      await close(server);
    }
  });
});
