/**
 * Slow and broken clients on the wire, with raw TCP sockets (no client library to tidy up after them):
 *   - slowloris on the upgrade: a partial upgrade request that stops (or drips a header now and then) never reaches
 *     hybrid-session at all — Node emits 'upgrade' only for complete heads — so the http server's `headersTimeout`
 *     governs it (Node's default 60 s, checked every `connectionsCheckingInterval`, 30 s): the app's server
 *     settings decide, the library adds no timer of its own;
 *   - a completed, authenticated upgrade whose peer then goes silent (half-open TCP): the heartbeat terminates it;
 *   - a body that never ends: the token endpoint reads no body, so it answers at once; the rest is bounded by the
 *     server's `requestTimeout`, and so is an app route behind hs.middleware that waits for a body.
 * Each case ends with no connection left (server.getConnections() back to 0) and the good client still served.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';
import { hybridSession, MemoryStore, type HybridSession } from '../../src/server/index.ts';
import { SECRET, ask } from '../server/helpers.ts';
import { close, listen } from '../helpers/net.ts';
import { connections, recordUnhandled, send, storeLength, waitFor, within } from './support.ts';

const HEADERS_TIMEOUT = 300;
const REQUEST_TIMEOUT = 600;
const CHECK_INTERVAL = 50;

interface Running {
  hs: HybridSession;
  server: Server;
  wss: WebSocketServer;
  store: MemoryStore;
  url: string;
  port: number;
  bodies: string[];
  stop(): Promise<void>;
}

/** Plain http + hs.middleware + hs.attach, with short server timeouts (the app's to choose). */
async function start(heartbeat = 150): Promise<Running> {
  const store = new MemoryStore();
  const hs = hybridSession({ secret: SECRET, store, heartbeat });
  const bodies: string[] = [];
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT, connectionsCheckingInterval: CHECK_INTERVAL }, (req, res) => {
    hs.middleware(req, res, () => {
      if (req.url === '/upload') {
        // An app route that waits for the whole body (as a body parser does).
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          bodies.push(body);
          res.end('got it');
        });
        return;
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ sid: (req as { sessionID?: string }).sessionID }));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('message', () => ws.send(JSON.stringify({ sid: hs.sessionOf(ws).sessionID })));
  });
  hs.attach(server, wss);
  const url = await listen(server);
  return {
    hs, server, wss, store, url, bodies,
    port: Number(new URL(url).port),
    async stop() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      hs.close();
      store.close();
      await close(server);
    },
  };
}

function raw(port: number): { socket: Socket; received: () => string; closed: Promise<number> } {
  const socket = createConnection({ port, host: '127.0.0.1' });
  let buf = '';
  socket.setEncoding('latin1');
  socket.on('data', (d) => (buf += d));
  socket.on('error', () => {});
  const opened = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  return { socket, received: () => buf, closed };
}

async function goodClient(app: Running): Promise<void> {
  const t = await send(app.url + '/session/token', { method: 'POST' });
  assert.equal(t.status, 200);
  const { token } = JSON.parse(t.body);
  const ws = new WebSocket(app.url.replace('http', 'ws'), ['hybrid-session', `hybrid-session.bearer.${token}`]);
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', (code) => reject(new Error(`good client closed ${code}`)));
  });
  assert.ok((await ask(ws, { op: 'sid' })).sid);
  ws.close();
  await new Promise((resolve) => ws.once('close', resolve));
}

describe('attack: slow and broken clients', () => {
  test('slowloris on the upgrade (idle and dripping partial heads): closed by headersTimeout, never reaches the upgrade', async () => {
    const unhandled = recordUnhandled();
    const app = await start();
    let upgrades = 0;
    app.server.prependListener('upgrade', () => upgrades++);
    try {
      const partial = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n`;
      const idle = Array.from({ length: 10 }, () => raw(app.port));
      for (const c of idle) c.socket.write(partial);
      const dripping = Array.from({ length: 10 }, () => raw(app.port));
      for (const c of dripping) c.socket.write(partial);
      const drip = setInterval(() => {
        for (const c of dripping) if (!c.socket.destroyed) c.socket.write(`X-Drip-${randomBytes(2).toString('hex')}: 1\r\n`);
      }, 40);
      try {
        await waitFor(async () => (await connections(app.server)) >= 20, 5_000, 'the slow sockets are connected');
        await goodClient(app); // served while they hang
        const lived = await within(Promise.all([...idle, ...dripping].map((c) => c.closed)), 20 * HEADERS_TIMEOUT, 'slow heads closed');
        for (const c of [...idle, ...dripping]) assert.match(c.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
        // Not before the server's own bound (timers never fire early).
        assert.ok(Math.min(...lived) >= HEADERS_TIMEOUT - 10, `closed after ${Math.min(...lived)} ms`);
      } finally {
        clearInterval(drip);
      }
      assert.equal(upgrades, 1, 'only the good client reached the upgrade handler');
      await waitFor(async () => (await connections(app.server)) === 0, 5_000, 'no connection left');
      assert.equal(app.wss.clients.size, 0);
    } finally {
      await app.stop();
      assert.deepEqual(unhandled.stop(), []);
    }
  });

  test('a completed upgrade whose peer then goes silent (half-open): the heartbeat terminates it; refused ones close 4401', async () => {
    const unhandled = recordUnhandled();
    const app = await start(150);
    try {
      const { token } = JSON.parse((await send(app.url + '/session/token', { method: 'POST' })).body);
      const upgradeHead = (protocols: string) =>
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Protocol: ${protocols}\r\n\r\n`;
      // Authenticated, then never reads a frame or answers a ping: what a vanished phone looks like from here.
      const silent = Array.from({ length: 5 }, () => raw(app.port));
      for (const c of silent) c.socket.write(upgradeHead(`hybrid-session, hybrid-session.bearer.${token}`));
      await waitFor(() => silent.every((c) => c.received().startsWith('HTTP/1.1 101')), 5_000, 'upgrades accepted');
      await waitFor(() => app.wss.clients.size === 5, 5_000, 'server holds the sockets');
      const lived = await within(Promise.all(silent.map((c) => c.closed)), 40 * 150, 'silent peers terminated');
      assert.ok(Math.min(...lived) >= 150 - 10);
      for (const c of silent) {
        const frames = Buffer.from(c.received().slice(c.received().indexOf('\r\n\r\n') + 4), 'latin1');
        assert.equal(frames[0], 0x89, 'what it got was a ping, not a close (terminated, no closing handshake)');
      }
      await waitFor(() => app.wss.clients.size === 0, 5_000, 'server forgot them');

      // Without credentials: upgraded and closed 4401 at once (the close frame is the first thing sent).
      const refused = raw(app.port);
      refused.socket.write(upgradeHead('hybrid-session'));
      await waitFor(() => refused.received().includes('\r\n\r\n') && refused.received().length > refused.received().indexOf('\r\n\r\n') + 6, 5_000, 'close frame');
      const frame = Buffer.from(refused.received().slice(refused.received().indexOf('\r\n\r\n') + 4), 'latin1');
      assert.equal(frame[0], 0x88, 'a close frame');
      assert.equal(frame.readUInt16BE(2), 4401);
      refused.socket.destroy();
      await goodClient(app);
      await waitFor(async () => (await connections(app.server)) === 0, 5_000, 'no connection left');
    } finally {
      await app.stop();
      assert.deepEqual(unhandled.stop(), []);
    }
  });

  test('a body that never ends: the token endpoint answers without it; requestTimeout closes the rest', async () => {
    const unhandled = recordUnhandled();
    const app = await start();
    try {
      const before = await storeLength(app.store);
      const lengthBody = raw(app.port);
      lengthBody.socket.write(`POST /session/token HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"never":`);
      const chunked = raw(app.port);
      chunked.socket.write(`POST /session/token HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
      for (const c of [lengthBody, chunked]) {
        await waitFor(() => /\r\n\r\n\{.*\}$/s.test(c.received()), 5_000, 'the token response, before the body ended');
        assert.match(c.received(), /^HTTP\/1\.1 200 OK\r\n/);
        assert.ok(JSON.parse(c.received().slice(c.received().indexOf('\r\n\r\n') + 4)).token);
      }
      assert.equal(await storeLength(app.store), before + 2, 'one session each, as any cookie-less token request');
      const lived = await within(Promise.all([lengthBody.closed, chunked.closed]), 20 * REQUEST_TIMEOUT, 'unfinished bodies closed');
      assert.ok(Math.min(...lived) >= REQUEST_TIMEOUT - 10, `closed after ${Math.min(...lived)} ms`);
      await waitFor(async () => (await connections(app.server)) === 0, 5_000, 'no connection left');
    } finally {
      await app.stop();
      assert.deepEqual(unhandled.stop(), []);
    }
  });

  test('a route behind hs.middleware waiting for a body that never ends: bounded by requestTimeout, no session made', async () => {
    const unhandled = recordUnhandled();
    const app = await start();
    try {
      const before = await storeLength(app.store);
      const c = raw(app.port);
      c.socket.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nContent-Length: 100000\r\n\r\npart of it`);
      const drip = setInterval(() => !c.socket.destroyed && c.socket.write('x'), 50);
      try {
        await goodClient(app);
        const lived = await within(c.closed, 20 * REQUEST_TIMEOUT, 'unfinished upload closed');
        assert.ok(lived >= REQUEST_TIMEOUT - 10);
      } finally {
        clearInterval(drip);
      }
      assert.match(c.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.deepEqual(app.bodies, [], 'the route never saw a complete body');
      // The good client's session only: the hanging request wrote nothing.
      assert.equal(await storeLength(app.store), before + 1);
      await waitFor(async () => (await connections(app.server)) === 0, 5_000, 'no connection left');
    } finally {
      await app.stop();
      assert.deepEqual(unhandled.stop(), []);
    }
  });
});
