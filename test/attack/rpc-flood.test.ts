/**
 * One socket floods RPC calls at an action that awaits I/O (issue 11, vector 5: 200,000 such calls used to run a
 * 256 MB heap out of memory). DESIGN "Bounds": per socket at most rpc.maxInFlight (default 64) calls run at once;
 * the rest wait unread (back-pressure) or are answered -32000 "too many requests". What must hold at any speed:
 * the action never sees more than maxInFlight calls at once, every call is answered, another client is served
 * meanwhile, and the server's heap after gc comes back near where it started.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { send } from './support.ts';
import { startTarget, type Target } from './target-process.ts';

const HEAP_SLACK = 24 * 1024 * 1024;

async function openSocket(t: Target): Promise<WebSocket> {
  const r = await send(t.url + '/session/token', { method: 'POST' });
  const { token } = JSON.parse(r.body);
  const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, ['hybrid-session', `hybrid-session.bearer.${token}`]);
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
  return ws;
}

/** Sends `count` calls of app.wait at once (plus `notifications` without an id); resolves with the answers' tally. */
async function floodCalls(t: Target, ws: WebSocket, count: number, notifications: number): Promise<{ results: number; refused: number; other: string[] }> {
  let results = 0;
  let refused = 0;
  const other: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not every call answered within 150 s (${results + refused}/${count}); server exited: ${t.exited()}`)), 150_000);
    ws.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`socket closed ${code} after ${results + refused} answers; server exited: ${t.exited()}`));
    });
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if ('result' in m) results++;
      else if (m.error?.code === -32000 && m.error.message === 'too many requests') refused++;
      else other.push(String(data).slice(0, 200));
      if (results + refused + other.length === count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (let i = 0; i < count; i++) {
    ws.send(`{"jsonrpc":"2.0","id":${i},"method":"app.wait","params":[5]}`);
    if (i < notifications) ws.send('{"jsonrpc":"2.0","method":"app.wait","params":[5]}');
  }
  await done;
  return { results, refused, other };
}

describe('attack: an RPC flood on one socket (facade)', () => {
  const targets: Target[] = [];
  after(() => Promise.all(targets.map((t) => t.stop())));

  test('20,000 calls (and 2,000 notifications) at an awaiting action: never more than 64 running, all answered, heap back', { timeout: 240_000 }, async () => {
    const t = await startTarget('facade');
    targets.push(t);
    const ws = await openSocket(t);
    const before = await t.stats();
    const flooding = floodCalls(t, ws, 20_000, 2_000);
    // Another client during the flood: its token request is answered.
    const other = await send(t.url + '/session/token', { method: 'POST' });
    assert.equal(other.status, 200);
    const tally = await flooding;
    ws.close();
    assert.deepEqual(tally.other, [], 'no other kind of answer');
    assert.equal(tally.results + tally.refused, 20_000);
    const stats = await t.stats();
    assert.ok(stats.maxRunning <= 64, `at most 64 calls ran at once in the action, saw ${stats.maxRunning}`);
    assert.ok(stats.maxRunning >= 1);
    assert.equal(stats.running, 0);
    assert.ok(stats.heap <= before.heap + HEAP_SLACK, `heap after gc ${(stats.heap / 2 ** 20).toFixed(1)} MiB, started at ${(before.heap / 2 ** 20).toFixed(1)} MiB`);
    assert.equal(t.exited(), null);
  });

  test("ss.set('*', {rpc: {maxInFlight: 4}}): never more than 4 running", { timeout: 240_000 }, async () => {
    const t = await startTarget('facade', { options: { rpc: { maxInFlight: 4 } } });
    targets.push(t);
    const ws = await openSocket(t);
    const tally = await floodCalls(t, ws, 2_000, 200);
    ws.close();
    assert.deepEqual(tally.other, []);
    assert.equal(tally.results + tally.refused, 2_000);
    const stats = await t.stats();
    assert.ok(stats.maxRunning <= 4, `at most 4 calls ran at once, saw ${stats.maxRunning}`);
  });
});
