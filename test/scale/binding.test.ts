/**
 * Two server processes (real children) on one redis-server: a session bound on one is bound on the other (the
 * thumbprint travels with the session under __hs), over HTTP and websockets; the other process refuses the token as a
 * plain Bearer too. The nonce is derived from the shared secret, so one process's challenge is good on the other.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { noRedis } from '../helpers/env.ts';
import { makeProof, newProofKey } from '../helpers/dpop.ts';
import { bearer, useTwoProcesses, type ServerProcess } from './support.ts';

describe('two processes, one Redis: the binding travels with the session', { skip: noRedis }, () => {
  let a: ServerProcess;
  let b: ServerProcess;
  useTwoProcesses({}, (p) => ({ a, b } = p));
  const key = newProofKey();

  test('bound on A: B wants the same key\'s proofs, refuses Bearer and other keys, accepts a handshake with a proof', async () => {
    const res = await fetch(`${a.url}/session/token`, { method: 'POST', headers: { dpop: makeProof(key, { htm: 'POST', htu: `${a.url}/session/token` }) } });
    const { token, bound } = (await res.json()) as { token: string; bound: boolean };
    assert.equal(bound, true);

    const viaB = (k = key) => fetch(`${b.url}/data`, { headers: { authorization: `DPoP ${token}`, dpop: makeProof(k, { htm: 'GET', htu: `${b.url}/data`, token }) } });
    assert.equal((await viaB()).status, 200);
    assert.equal((await viaB(newProofKey())).status, 401);
    const plain = await fetch(`${b.url}/data`, { headers: bearer(token) });
    assert.equal(plain.status, 401);
    assert.match(plain.headers.get('www-authenticate') ?? '', /^DPoP /);

    // A's nonce is B's nonce.
    const challenged = await fetch(`${a.url}/data`, { headers: { authorization: `DPoP ${token}`, dpop: makeProof(key, { htm: 'GET', htu: `${a.url}/data`, token, iat: 1 }) } });
    assert.equal(challenged.status, 401);
    const nonce = challenged.headers.get('dpop-nonce')!;
    const withNonce = await fetch(`${b.url}/data`, { headers: { authorization: `DPoP ${token}`, dpop: makeProof(key, { htm: 'GET', htu: `${b.url}/data`, token, iat: 1, nonce }) } });
    assert.equal(withNonce.status, 200);

    const htu = b.wsUrl.replace(/\/$/, '/');
    const proof = makeProof(key, { htm: 'GET', htu, token });
    const opened = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(b.wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`, `hybrid-session.dpop.${proof}`]);
      ws.on('open', () => {
        ws.send(JSON.stringify({ id: 1, op: 'get' }));
      });
      ws.on('message', () => {
        resolve(true);
        ws.close();
      });
      ws.on('close', () => resolve(false));
      ws.on('error', () => resolve(false));
    });
    assert.equal(opened, true);
  });
});
