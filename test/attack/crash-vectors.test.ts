/**
 * Input that used to end the server process (issue 11, "What an outside attack found" 1–4), each against a server
 * in its own process (fixtures/target.ts), so a crash is an exit, not a failed assertion in a dead runner:
 *   - an upgrade refused before the upgrade (foreign Origin → 403; a path nobody serves → 404), then a TCP reset:
 *     the refusal used to be written on a raw socket with no 'error' listener (`write ECONNRESET`, uncaught);
 *   - an RPC answer JSON cannot encode (100,000-deep nesting, a BigInt, a cycle) → -32603, not an unhandled rejection;
 *   - a facade route calling res.end(1) → 500;
 *   - upgrades for a path no WebSocketServer claims → 404 and destroyed: 300 of them leave no descriptor behind.
 */
import { describe, test, before, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { send } from './support.ts';
import { rawExchange, resetClient, startTarget, upgradeRequest, type Target } from './target-process.ts';
import { waitFor } from './support.ts';

const ROUNDS = 40;
/** A few descriptors may come and go (the IPC pipe's reads, tsx's cache); 300 leaked ones cannot hide in this. */
const FD_SLACK = 8;

async function alive(t: Target, what: string): Promise<void> {
  assert.equal(t.exited(), null, `${what}: the server process exited (${t.exited()}):\n${t.output().slice(-3000)}`);
  const r = await send(t.url + '/session/token', { method: 'POST' });
  assert.equal(r.status, 200, `${what}: a good client is still served`);
  assert.equal(t.exited(), null);
}

/** Waits until the server has let go of every socket of a round (its descriptors back near `base`). */
async function settled(t: Target, base: number, what: string): Promise<void> {
  await waitFor(() => {
    if (t.exited() !== null) return true;
    return t.fds() <= base + FD_SLACK;
  }, 60_000, `${what}: descriptors back near ${base} (now ${t.exited() === null ? t.fds() : 'exited'})`);
}

async function token(t: Target): Promise<string> {
  const r = await send(t.url + '/session/token', { method: 'POST' });
  assert.equal(r.status, 200);
  return JSON.parse(r.body).token as string;
}

for (const mode of ['attach', 'facade'] as const) {
  describe(`attack: refused upgrades and a client reset (${mode})`, () => {
    let t: Target;
    before(async () => {
      t = await startTarget(mode);
    });
    // A vector that ended the process must not hide the next one: each test gets a live server.
    beforeEach(async () => {
      if (t.exited() !== null) t = await startTarget(mode);
    });
    after(() => t.stop());

    const variants: Array<[string, string, Record<string, string>, string]> = [
      ['foreign Origin', '/ws', { Origin: 'http://evil.example' }, '403'],
      ['a path nobody serves', '/other', {}, '404'],
    ];
    for (const [name, path, headers, status] of variants) {
      for (const resetAfter of ['write', 'first-byte'] as const) {
        test(`${name} (${status}), reset after ${resetAfter === 'write' ? 'the request' : 'the first byte of the answer'}: ${ROUNDS} times, the process lives`, { timeout: 120_000 }, async () => {
          const base = t.fds();
          for (let i = 0; i < ROUNDS; i++) await resetClient(t.port, upgradeRequest(path, headers), resetAfter);
          await settled(t, base, name);
          await alive(t, name);
        });
      }
      test(`${name}: answered ${status} and closed`, { timeout: 60_000 }, async () => {
        const { got, closedByServer } = await rawExchange(t.port, upgradeRequest(path, headers));
        assert.match(got, new RegExp(`^HTTP/1\\.1 ${status} `));
        assert.ok(closedByServer, 'the server closed the connection');
      });
    }

    test('300 upgrades for a path no WebSocketServer claims: each 404, no descriptor kept', { timeout: 180_000 }, async () => {
      const base = t.fds();
      const answers: string[] = [];
      for (let i = 0; i < 300; i++) {
        // connect, request, close our side: what a scanner does. The server must not keep its end.
        const { got } = await rawExchange(t.port, upgradeRequest(`/scan/${i}`), 10_000);
        answers.push(got.slice(0, 12));
      }
      assert.deepEqual(new Set(answers), new Set(['HTTP/1.1 404']), 'every stray upgrade answered 404');
      await settled(t, base, '300 stray upgrades');
      await alive(t, 'stray upgrades');
    });
  });
}

describe('attack: RPC answers JSON cannot encode (facade)', () => {
  let t: Target;
  before(async () => {
    t = await startTarget('facade');
  });
  after(() => t.stop());

  async function call(ws: WebSocket, id: number, method: string, params: string): Promise<any> {
    const answer = new Promise<any>((resolve, reject) => {
      ws.once('close', (code) => reject(new Error(`the socket closed (${code}) before answer ${id}; server exited: ${t.exited()}`)));
      const onMessage = (data: Buffer) => {
        const m = JSON.parse(String(data));
        if (m.id === id) {
          ws.off('message', onMessage);
          resolve(m);
        }
      };
      ws.on('message', onMessage);
    });
    ws.send(`{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`);
    return answer;
  }

  test('100,000-deep nesting, a BigInt, a cycle: each answered -32603, the socket and the process go on', { timeout: 120_000 }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, ['hybrid-session', `hybrid-session.bearer.${await token(t)}`]);
    ws.on('error', () => {});
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('close', (code) => reject(new Error(`closed ${code}`)));
    });
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const cases: Array<[string, string]> = [['app.echo', `[${deep}]`], ['app.bigint', '[]'], ['app.cycle', '[]']];
    let id = 1;
    for (const [method, params] of cases) {
      const answer = await call(ws, id, method, params);
      assert.equal(answer.error?.code, -32603, `${method}: ${JSON.stringify(answer).slice(0, 200)}`);
      assert.equal(answer.id, id);
      id++;
    }
    assert.deepEqual((await call(ws, id, 'app.echo', '["still here"]')).result, 'still here');
    ws.close();
    await alive(t, 'unencodable answers');
  });
});

describe('attack: a facade route calling res.end(1)', () => {
  let t: Target;
  before(async () => {
    t = await startTarget('facade');
  });
  after(() => t.stop());

  test('answered 500, the process lives', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 3; i++) {
      const r = await send(t.url + '/end-number');
      assert.equal(r.status, 500);
    }
    await alive(t, 'res.end(1)');
  });
});
