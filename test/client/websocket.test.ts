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
import { close, createServer, listen } from '../helpers/net.ts';
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
