/**
 * One token, many sockets (issue 11, vector 6: one token opened 1,000 sockets, +22 MiB). DESIGN "Bounds": at most
 * maxSocketsPerSession (default 32) open websockets per session; a new one past the bound closes the session's
 * oldest with 4408 ("too many connections"). Other sessions are not touched.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { send } from './support.ts';
import { startTarget, type Target } from './target-process.ts';

interface Opened {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
}

async function open(url: string, token: string): Promise<Opened> {
  const ws = new WebSocket(url, ['hybrid-session', `hybrid-session.bearer.${token}`]);
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    void closed.then(({ code }) => reject(new Error(`closed ${code} before open`)));
  });
  return { ws, closed };
}

async function tokenOf(t: Target): Promise<string> {
  const r = await send(t.url + '/session/token', { method: 'POST' });
  assert.equal(r.status, 200);
  return JSON.parse(r.body).token as string;
}

describe('attack: sockets per session', () => {
  const targets: Target[] = [];
  after(() => Promise.all(targets.map((t) => t.stop())));

  test('default 32: 40 sockets on one token → the 8 oldest closed 4408, 32 open; the next closes the 9th', { timeout: 120_000 }, async () => {
    const t = await startTarget('attach');
    targets.push(t);
    const url = `ws://127.0.0.1:${t.port}/ws`;
    const token = await tokenOf(t);
    const other = await open(url, await tokenOf(t));
    const sockets: Opened[] = [];
    for (let i = 0; i < 40; i++) sockets.push(await open(url, token));
    for (let i = 0; i < 8; i++) assert.deepEqual(await sockets[i]!.closed, { code: 4408, reason: 'too many connections' }, `socket ${i}`);
    // The closes above were sent before the 40th open completed; the ones still open are the 32 newest.
    for (let i = 8; i < 40; i++) assert.equal(sockets[i]!.ws.readyState, WebSocket.OPEN, `socket ${i} is open`);
    sockets.push(await open(url, token));
    assert.equal((await sockets[8]!.closed).code, 4408);
    for (let i = 9; i < 41; i++) assert.equal(sockets[i]!.ws.readyState, WebSocket.OPEN, `socket ${i} is open`);
    assert.equal(other.ws.readyState, WebSocket.OPEN, "another session's socket is untouched");
    for (const s of [...sockets, other]) s.ws.close();
    assert.equal(t.exited(), null);
  });

  test("facade: ss.set('*', {maxSocketsPerSession: 2}) → the third socket closes the first with 4408", { timeout: 120_000 }, async () => {
    const t = await startTarget('facade', { options: { maxSocketsPerSession: 2 } });
    targets.push(t);
    const url = `ws://127.0.0.1:${t.port}/ws`;
    const token = await tokenOf(t);
    const a = await open(url, token);
    const b = await open(url, token);
    const c = await open(url, token);
    assert.equal((await a.closed).code, 4408);
    assert.equal(b.ws.readyState, WebSocket.OPEN);
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    b.ws.close();
    c.ws.close();
  });
});
