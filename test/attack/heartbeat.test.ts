/**
 * A websocket that connects and never sends: the heartbeat (option `heartbeat`, ms) pings every socket and
 * terminates one that has not answered the previous ping. A live client (ws, like every browser, answers pings by
 * itself) stays open however long it is silent; a dead peer (here a `ws` client with `autoPong: false`, which is
 * what a half-open TCP connection looks like from the server) is dropped within two intervals, and nothing of it
 * stays behind: not in the WebSocketServer, not in the session registry, not as a TCP connection.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { hybridSession } from '../../src/server/index.ts';
import { normalizeServerOptions, DEFAULT_HEARTBEAT } from '../../src/server/options.ts';
import { SECRET, nextConnection, startApp } from '../server/helpers.ts';
import { connections, recordUnhandled, send, waitFor, within } from './support.ts';

const INTERVAL = 150;

async function tokenOf(url: string): Promise<string> {
  const r = await send(url + '/session/token', { method: 'POST' });
  assert.equal(r.status, 200);
  return JSON.parse(r.body).token;
}

function open(url: string, token: string, options: { autoPong?: boolean } = {}) {
  const ws = new WebSocket(url, ['hybrid-session', `hybrid-session.bearer.${token}`], options);
  let pings = 0;
  ws.on('ping', () => pings++);
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; at: number }>((resolve) => ws.once('close', (code) => resolve({ code, at: Date.now() })));
  const opened = new Promise<number>((resolve, reject) => {
    ws.once('open', () => resolve(Date.now()));
    ws.once('error', reject);
  });
  return { ws, opened, closed, pings: () => pings };
}

describe('attack: silent and dead websockets (heartbeat)', () => {
  test('the option: default 30 s, 0 disables, anything else but a positive number is refused', () => {
    assert.equal(DEFAULT_HEARTBEAT, 30_000);
    assert.equal(normalizeServerOptions({ secret: SECRET }).heartbeat, 30_000);
    assert.equal(normalizeServerOptions({ secret: SECRET, heartbeat: 0 }).heartbeat, 0);
    assert.equal(normalizeServerOptions({ secret: SECRET, heartbeat: 5_000 }).heartbeat, 5_000);
    // setInterval fires every 1 ms above 2^31-1: clamped rather than dropping every socket at once
    assert.equal(normalizeServerOptions({ secret: SECRET, heartbeat: 1e12 }).heartbeat, 2 ** 31 - 1);
    for (const bad of [-1, Number.NaN, Infinity, '30000', true, null]) {
      assert.throws(() => hybridSession({ secret: SECRET, heartbeat: bad as never }), { code: 'HS_ERR_INVALID_OPTIONS' }, String(bad));
    }
  });

  test('a client that answers pings but never sends stays open; one that does not answer is terminated and freed', async () => {
    const unhandled = recordUnhandled();
    const app = await startApp({ heartbeat: INTERVAL });
    try {
      const token = await tokenOf(app.url);

      const liveServerSide = nextConnection(app);
      const live = open(app.wsUrl, token);
      await live.opened;
      const liveServer = await liveServerSide;

      const deadServerSide = nextConnection(app);
      const dead = open(app.wsUrl, token, { autoPong: false });
      const deadOpenedAt = await dead.opened;
      const deadServer = await deadServerSide;
      assert.equal(app.wss.clients.size, 2);
      assert.equal(await connections(app.server), 2);

      const { code, at } = await within(dead.closed, 40 * INTERVAL, 'the dead peer dropped');
      assert.equal(code, 1006, 'terminated (no closing handshake with a peer that does not answer)');
      // It was given a full interval to answer, not dropped at the first beat after it joined (the client's 'open' comes
      // a little after the server registered it, hence half an interval of slack).
      assert.ok(at - deadOpenedAt >= INTERVAL / 2, `dropped after ${at - deadOpenedAt} ms, before one interval`);
      assert.ok(dead.pings() >= 1, 'it was pinged');

      await waitFor(() => app.wss.clients.size === 1, 5_000, 'the WebSocketServer forgets the dead socket');
      assert.ok(app.wss.clients.has(liveServer) && !app.wss.clients.has(deadServer));
      // Gone from the session registry too: sessionOf() no longer knows it (no handle was made for it before).
      assert.throws(() => app.hs.sessionOf(deadServer), { code: 'HS_ERR_NO_CREDENTIALS' });
      await waitFor(async () => (await connections(app.server)) === 1, 5_000, 'its TCP connection is closed');

      // The live one, silent all along, survives several more intervals and answers every ping.
      const pingsBefore = live.pings();
      await new Promise((r) => setTimeout(r, 6 * INTERVAL));
      assert.equal(live.ws.readyState, WebSocket.OPEN);
      assert.ok(live.pings() > pingsBefore, 'still pinged');
      assert.equal(app.hs.sessionOf(liveServer).sessionID.length > 0, true);
      assert.equal((await app.hs.sessionOf(liveServer).load()).id, app.hs.sessionOf(liveServer).sessionID);

      live.ws.close();
      await live.closed;
      await waitFor(() => app.wss.clients.size === 0, 5_000, 'every socket gone');
      await waitFor(async () => (await connections(app.server)) === 0, 5_000, 'no TCP connection left');
    } finally {
      await app.stop();
      assert.deepEqual(unhandled.stop(), []);
    }
  });

  test('heartbeat: 0 sends no pings and leaves a silent non-answering socket alone', async () => {
    const app = await startApp({ heartbeat: 0 });
    try {
      const token = await tokenOf(app.url);
      const quiet = open(app.wsUrl, token, { autoPong: false });
      await quiet.opened;
      await new Promise((r) => setTimeout(r, 4 * INTERVAL));
      assert.equal(quiet.pings(), 0);
      assert.equal(quiet.ws.readyState, WebSocket.OPEN);
      quiet.ws.close();
      await quiet.closed;
    } finally {
      await app.stop();
    }
  });

  test('a socket revoked (logout) while the heartbeat runs closes 4401 and leaves no connection behind', async () => {
    const app = await startApp({ heartbeat: INTERVAL });
    try {
      const token = await tokenOf(app.url);
      const c = open(app.wsUrl, token);
      await c.opened;
      const del = await send(app.url + '/session/token', { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      assert.equal(del.status, 204);
      assert.equal((await c.closed).code, 4401);
      await waitFor(() => app.wss.clients.size === 0, 5_000, 'socket gone after logout');
      await waitFor(async () => (await connections(app.server)) === 0, 5_000, 'no TCP connection left');
    } finally {
      await app.stop();
    }
  });
});
