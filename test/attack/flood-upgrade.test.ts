/**
 * 10,000 websocket handshakes with no token and no cookie, 50 at a time, from the real `ws` client (in a worker
 * thread, so attacker and server each have a core). The contract
 * (DESIGN "No credentials on a websocket"): each upgrade completes and the server closes it at once with 4401 —
 * never a new session, never a store write. Meanwhile a good client keeps getting answers over HTTP and websocket,
 * and afterwards nothing is left: no socket, no connection, no session, heap back where it was (generous bound),
 * no unhandled rejection.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { MemoryStore } from '../../src/server/index.ts';
import { ask, countingStore, startApp } from '../server/helpers.ts';
import { connections, flood, heapAfterGc, recordUnhandled, send, setCookiePair, storeLength, waitFor } from './support.ts';

const HANDSHAKES = 10_000;
const CONCURRENCY = 50;
/** Heap may settle a little higher (JIT code, ws's buffers pools); a leak of 10,000 sockets would be far above. */
const HEAP_SLACK = 24 * 1024 * 1024;

function closeCodeOf(ws: WebSocket): Promise<number> {
  ws.on('error', () => {});
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

describe('attack: handshake flood without credentials', () => {
  test(`${HANDSHAKES} handshakes without token or cookie: every one closed 4401, the good client served, nothing left`, { timeout: 400_000 }, async () => {
    const unhandled = recordUnhandled();
    const store = countingStore(new MemoryStore());
    const app = await startApp({ store });
    try {
      const issued = await send(app.url + '/session/token', { method: 'POST' });
      const { token } = JSON.parse(issued.body);
      const cookie = setCookiePair(issued.headers)!;
      const goodSid = JSON.parse((await send(app.url + '/', { headers: { authorization: `Bearer ${token}` } })).body).sid;

      /** One round of a good client: an HTTP request with the bearer, a websocket with it, a message answered. */
      const goodRound = async () => {
        const http = await send(app.url + '/', { headers: { authorization: `Bearer ${token}` } });
        assert.equal(http.status, 200);
        assert.equal(JSON.parse(http.body).sid, goodSid);
        const byCookie = await send(app.url + '/', { headers: { cookie } });
        assert.equal(JSON.parse(byCookie.body).sid, goodSid);
        const ws = new WebSocket(app.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
        const closed = closeCodeOf(ws);
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('close', (code) => reject(new Error(`good client refused: ${code}`)));
        });
        assert.equal((await ask(ws, { op: 'sid' })).sid, goodSid);
        ws.close();
        await closed;
      };

      await goodRound(); // warm up (JIT, pools) before the baseline
      const storeBefore = await storeLength(store);
      const heapBefore = heapAfterGc();
      store.reset();

      let flooding = true;
      // Half the handshakes offer the hybrid-session subprotocol alone, half offer nothing at all.
      const attack = flood({ kind: 'ws', url: app.wsUrl, count: HANDSHAKES, concurrency: CONCURRENCY }).finally(() => (flooding = false));
      let goodRounds = 0;
      const good = (async () => {
        do {
          await goodRound();
          goodRounds++;
          // A user's pace, not a second flood: the question is whether it is still served.
          await new Promise((r) => setTimeout(r, 100));
        } while (flooding);
      })();
      const [result] = await Promise.all([attack, good]);
      const floodMs = result.ms;
      const codes = result.tally;

      assert.deepEqual(codes, { 4401: HANDSHAKES }, 'every handshake without credentials closes 4401');
      assert.ok(goodRounds >= 1);
      await goodRound(); // and after it

      await waitFor(() => app.wss.clients.size === 0, 60_000, 'no websocket left on the server');
      await waitFor(async () => (await connections(app.server)) === 0, 60_000, 'no TCP connection left');
      assert.equal(await storeLength(store), storeBefore, 'no session made by a handshake');
      assert.equal(store.calls.set, 0, 'no store write by a handshake');
      // Only the good client's reads: the flood itself costs no store traffic (no credential, nothing to look up).
      assert.ok(store.calls.get <= 3 * (goodRounds + 1), `store reads: ${store.calls.get} for ${goodRounds + 1} good rounds`);
      const heapAfter = heapAfterGc();
      console.log(`# handshake flood: ${HANDSHAKES} in ${floodMs} ms (${CONCURRENCY} at a time), ${goodRounds} good rounds during it; heap ${(heapBefore / 2 ** 20).toFixed(1)} MiB → ${(heapAfter / 2 ** 20).toFixed(1)} MiB; store ${storeBefore} → ${await storeLength(store)}`);
      assert.ok(heapAfter - heapBefore < HEAP_SLACK, `heap grew by ${((heapAfter - heapBefore) / 2 ** 20).toFixed(1)} MiB`);
    } finally {
      await app.stop();
      assert.deepEqual(unhandled.stop(), []);
    }
  });
});
