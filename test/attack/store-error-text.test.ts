/**
 * Store error text reaching clients (issue 11, vector 7: a 503 body and an RPC error carried
 * `connect ECONNREFUSED 10.20.30.40:6379`). DESIGN "Bounds": error responses and close reasons carry the code and a
 * short message; the store's text (addresses, paths) goes to the app's error handler. Against a store that fails
 * every call with a real outage's text, every byte a client can see (status lines, headers, bodies, close reasons,
 * RPC errors) is collected, over HTTP, the token endpoint, a handshake and RPC; none of it may name the store.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { send, type Reply } from './support.ts';
import { startTarget, type Target } from './target-process.ts';

const NEEDLES = ['ECONNREFUSED', '10.20.30.40', '6379', 'connect '];

function bytesOf(r: Reply): string {
  return `${r.status}\n${JSON.stringify(r.headers)}\n${r.body}`;
}

function handshake(url: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, ['hybrid-session', `hybrid-session.bearer.${token}`]);
    let seen = '';
    ws.on('error', (e) => (seen += ` error:${e.message}`));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${JSON.stringify(res.headers)} ${body}`));
    });
    ws.on('message', (d) => (seen += ` message:${String(d)}`));
    ws.on('close', (code, reason) => resolve(`${seen} close:${code} ${String(reason)}`));
  });
}

function rpc(ws: WebSocket, id: number, method: string): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (d: Buffer) => {
      const text = String(d);
      if (JSON.parse(text).id === id) {
        ws.off('message', onMessage);
        resolve(text);
      }
    };
    ws.on('message', onMessage);
    ws.once('close', (code, reason) => resolve(`close:${code} ${String(reason)}`));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: [] }));
  });
}

function assertClean(seen: string[], t: Target): void {
  const all = seen.join('\n');
  for (const needle of NEEDLES) assert.ok(!all.includes(needle), `"${needle}" reached a client:\n${seen.filter((s) => s.includes(needle)).join('\n').slice(0, 2000)}`);
  assert.equal(t.exited(), null);
}

describe('attack: store error text never reaches a client', () => {
  const targets: Target[] = [];
  after(() => Promise.all(targets.map((t) => t.stop())));

  for (const mode of ['attach', 'plain', 'facade'] as const) {
    test(`${mode}: HTTP, token endpoint, handshake${mode === 'facade' ? ', RPC' : ''} during an outage`, { timeout: 120_000 }, async () => {
      const t = await startTarget(mode, { store: 'failing' });
      targets.push(t);
      const issued = await send(t.url + '/session/token', { method: 'POST' });
      const { token } = JSON.parse(issued.body);
      const bearer = { authorization: `Bearer ${token}` };
      const wsUrl = `ws://127.0.0.1:${t.port}/ws`;
      const open = new WebSocket(wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
      open.on('error', () => {});
      await new Promise((resolve) => open.once('open', resolve));

      await t.command('fail');
      const seen: string[] = [];
      const route = mode === 'facade' ? '/me' : '/';
      seen.push(bytesOf(await send(t.url + route, { headers: bearer })));
      seen.push(bytesOf(await send(t.url + '/session/token', { method: 'POST' })));
      seen.push(bytesOf(await send(t.url + '/session/token', { method: 'POST', headers: bearer })));
      seen.push(bytesOf(await send(t.url + '/session/token', { method: 'DELETE', headers: bearer })));
      if (mode === 'attach') seen.push(bytesOf(await send(t.url + '/modify', { method: 'POST', headers: bearer })));
      seen.push(await handshake(wsUrl, token));
      if (mode === 'facade') {
        seen.push(await rpc(open, 1, 'app.echo'));
        seen.push(await rpc(open, 2, 'app.touch'));
      }
      // Each answer says something went wrong with the store, in a code the client can act on.
      assert.ok(seen.every((s) => /(^|\D)(5\d\d|1011|-32000)(\D|$)/.test(s)), `every answer is a store failure:\n${seen.join('\n').slice(0, 3000)}`);
      assertClean(seen, t);
      // The detail is the app's: its error handler (attach) or the facade's log (warn) has it.
      const stats = await t.stats();
      const toApp = stats.appErrors.join('\n') + t.output();
      assert.ok(toApp.includes('10.20.30.40'), `the app heard the store's text:\n${toApp.slice(-2000)}`);
      open.terminate();
    });
  }
});
