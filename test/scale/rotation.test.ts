/**
 * Token rotation across processes on a real redis-server (DESIGN "Token rotation and reuse detection"): two server
 * processes sharing connect-redis and the revocation bus. Concurrent renewals split over both end with one
 * generation (the Lua compare-and-set); reuse found on B ends the session's sockets on A (4401) and the session
 * in Redis; the grace is 1 s here (ROTATION_GRACE), and "past the grace" is waited for explicitly, never raced.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { noRedis } from '../helpers/env.ts';
import { bearer, newToken, useTwoProcesses, within, type ServerProcess } from './support.ts';

const GRACE_MS = 1000;
const generationOf = (token: string) => Number(token.split('.')[3]);

async function renew(server: ServerProcess, token: string) {
  const res = await fetch(`${server.url}/session/token`, { method: 'POST', headers: bearer(token) });
  return { status: res.status, body: (await res.json()) as any, challenge: res.headers.get('www-authenticate') };
}

async function data(server: ServerProcess, token: string) {
  const res = await fetch(`${server.url}/data`, { headers: bearer(token) });
  await res.arrayBuffer();
  return res.status;
}

describe('token rotation across processes (connect-redis)', { skip: noRedis }, () => {
  let a: ServerProcess;
  let b: ServerProcess;
  const { open } = useTwoProcesses({ env: { ROTATION_GRACE: String(GRACE_MS) }, subscribed: true }, (p) => ({ a, b } = p));

  test('20 concurrent renewals of one token, split over A and B: one new generation, all answered with it', async () => {
    const { token } = await newToken(a.url);
    assert.equal(await data(b, token), 200);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => renew(i % 2 ? a : b, token)));
    assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
    const tokens = new Set(answers.map((r) => r.body.token as string));
    assert.equal(tokens.size, 1);
    assert.equal(generationOf([...tokens][0]!), 1);
    assert.equal(generationOf((await renew(b, [...tokens][0]!)).body.token), 2, 'the next renewal: generation 2, not 21');
  });

  test('lost answer on A, retried on B: the same token again, no rotation', async () => {
    const { token } = await newToken(a.url);
    await data(a, token);
    const lost = await renew(a, token);
    const again = await renew(b, token);
    assert.equal(again.status, 200);
    assert.equal(again.body.token, lost.body.token);
  });

  test('reuse found on B ends the session: its sockets on A close 4401, Redis forgets it, 401 HS_ERR_TOKEN_REUSED, B tells the app', async () => {
    const stolen = (await newToken(a.url)).token;
    assert.equal(await data(a, stolen), 200);
    const current = (await renew(a, stolen)).body.token as string;
    assert.equal(await data(a, current), 200, 'the legitimate client used the new generation');
    const sockets = [open(a, current), open(a, current)];
    await within(Promise.all(sockets.map((s) => s.opened)), 5000, 'handshakes on A');
    await sleep(GRACE_MS + 50); // past the grace, by construction (not racing anything)

    const thief = await renew(b, stolen);
    assert.equal(thief.status, 401);
    assert.equal(thief.challenge, 'Bearer error="invalid_token"');
    assert.deepEqual([thief.body.error, thief.body.code], ['invalid_token', 'HS_ERR_TOKEN_REUSED']);
    for (const { code } of await within(Promise.all(sockets.map((s) => s.closed)), 10_000, 'sockets on A closing')) assert.equal(code, 4401);
    assert.equal(await data(a, current), 401, 'the current generation is gone with the session');
    const reusesB = (await (await fetch(`${b.url}/reuses`)).json()) as { reuses: { via: string; generation: number; currentGeneration: number }[] };
    assert.equal(reusesB.reuses.length, 1);
    assert.deepEqual([reusesB.reuses[0]!.via, reusesB.reuses[0]!.generation, reusesB.reuses[0]!.currentGeneration], ['bearer', 0, 1]);
    const reusesA = (await (await fetch(`${a.url}/reuses`)).json()) as { reuses: unknown[] };
    assert.equal(reusesA.reuses.length, 0, 'the event fires on the process that found the reuse');
  });

  test('the previous generation works on A within the grace after B rotated, and is refused after it (no reuse)', async () => {
    const g0 = (await newToken(a.url)).token;
    await data(a, g0);
    const g1 = (await renew(b, g0)).body.token as string;
    const res = await fetch(`${a.url}/data`, { headers: bearer(g0) });
    await res.arrayBuffer();
    assert.equal(res.status, 200, 'within the grace');
    assert.equal(res.headers.get('session-token'), g1, 'carrying the current token');
    await sleep(GRACE_MS + 50);
    assert.equal(await data(a, g0), 401);
    assert.equal(await data(a, g1), 200, 'the session lives on');
  });
});
