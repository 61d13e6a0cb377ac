/**
 * The chaos soak (issue 11): CHAOS_SECONDS (default 30) of random hostile input against `hs.attach` + Express and
 * against the SocketStream facade, each in its own process (--expose-gc), driven by chaos.ts. The seed is printed;
 * CHAOS_SEED=<n> replays the same sequence of actions. What must hold at any machine speed:
 *   - the server process never exits;
 *   - every round trip of the good client (HTTP with its token, a message on its open websocket, now and then a
 *     fresh handshake, the first round included) succeeded, each bounded by a generous 60 s, at least one of each kind;
 *   - nothing the chaos sent was answered 5xx or closed 1011 (bad input is a 4xx / 4401 / 1008–1009, never the
 *     server's fault);
 *   - once the chaos stopped and the server holds no socket but the good client's again, its descriptors are back
 *     to their start (+ FD_SLACK) and its heap after gc is within the larger of +10 MiB and 1.5× its start.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { recordUnhandled } from './support.ts';
import { startTarget, type Target } from './target-process.ts';
import { FD_SLACK, heapBound, mib, serverFault, soak, type Mode } from './chaos.ts';

const SECONDS = Number(process.env.CHAOS_SECONDS ?? 30);
const SEED = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : randomInt(2 ** 31);

describe(`attack: chaos soak, ${SECONDS} s each, seed ${SEED} (CHAOS_SEED=${SEED} replays it)`, () => {
  const targets: Target[] = [];
  after(() => Promise.all(targets.map((t) => t.stop())));

  for (const mode of ['attach', 'facade'] as const satisfies readonly Mode[]) {
    test(`${mode}: the process lives, the good client is served throughout, heap and descriptors come back`, { timeout: SECONDS * 1000 + 420_000 }, async () => {
      const unhandled = recordUnhandled();
      const t = await startTarget(mode);
      targets.push(t);
      // A server that dies during the warm-up fails the soak's set-up requests: say that it died, and of what.
      const r = await soak(t, mode, { seed: SEED, seconds: SECONDS, log: (line) => console.log(line) }).catch((err: Error) => {
        throw new Error(`${err.message}; the server process ${t.exited() === null ? 'lives' : `exited (${t.exited()})`}, seed ${SEED}:\n${t.output().slice(-4000)}`);
      });
      const bad = Object.entries(r.outcomes).filter(([k]) => serverFault(k));
      console.log(`# chaos soak (${mode}): good round trips ${r.good.http} HTTP, ${r.good.ws} websocket, ${r.good.handshakes} handshakes; heap ${mib(r.before.heap)} → ${mib(r.after.heap)} MiB, fds ${r.before.fds} → ${r.after.fds}; outcomes ${JSON.stringify(r.outcomes)}`);

      assert.equal(r.exited, null, `the server process exited (${r.exited}), seed ${SEED}:\n${t.output().slice(-4000)}`);
      assert.deepEqual(r.good.failures, [], `every good round trip succeeded (seed ${SEED})`);
      assert.ok(r.good.http >= 1 && r.good.ws >= 1 && r.good.handshakes >= 1, 'the good client made round trips');
      assert.deepEqual(r.chaosErrors, [], `every chaos exchange the server had to answer was answered (seed ${SEED})`);
      assert.deepEqual(bad, [], 'no chaos input was answered 5xx or 1011');
      assert.ok(r.after.connections <= r.before.connections, `the server holds ${r.after.connections} connections, ${r.before.connections} before`);
      assert.ok(r.after.fds <= r.before.fds + FD_SLACK, `descriptors ${r.before.fds} → ${r.after.fds}`);
      const bound = heapBound(r.before.heap);
      assert.ok(r.after.heap <= bound, `heap after gc ${mib(r.after.heap)} MiB, ${mib(r.before.heap)} MiB before (bound ${mib(bound)})`);
      assert.equal(t.exited(), null);
      assert.deepEqual(unhandled.stop(), [], 'the chaos itself left no unhandled rejection');
    });
  }
});
