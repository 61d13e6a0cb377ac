/**
 * Token leakage in logs: the demo server (Express 5, `node demo/server.mjs`) and a SocketStream-facade app, each
 * run as a child process with every log switch there is on — DEBUG=* (express, router, body-parser, send,
 * finalhandler) and NODE_DEBUG=http,net — driven through a whole flow: a token issued, used over HTTP and a
 * websocket, rotated at sign-in, forged, from another secret, refused (401 / 4401), an error route, logout and a
 * replay after it. Every byte the child writes to stdout and stderr is kept; no token, no part of one (session id,
 * MAC), no session cookie value and no session id may appear in it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { signToken } from '../../src/server/credentials/token.ts';
import { deriveTokenKey } from '../../src/server/options.ts';
import { OLD_SECRET } from '../server/helpers.ts';
import { send, setCookiePair, type Reply } from './support.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const LOG_ENV = { DEBUG: '*', DEBUG_COLORS: 'no', NODE_DEBUG: 'http,net', NODE_ENV: 'development', REDIS_URL: '' };

interface Child {
  child: ChildProcess;
  output: () => string;
}

async function run(args: string[], env: Record<string, string>, ready: RegExp): Promise<Child & { match: RegExpMatchArray }> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...LOG_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d) => (out += d));
  const deadline = Date.now() + 90_000;
  let match: RegExpMatchArray | null;
  while (!(match = out.match(ready))) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}:\n${out.slice(-4000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${args.join(' ')} not ready within 90 s:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => out, match };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Everything secret the flow saw: tokens, cookie values, session ids. */
class Secrets {
  readonly tokens = new Set<string>();
  readonly cookies = new Set<string>();
  take(r: Reply): Reply {
    const header = r.headers['session-token'];
    if (typeof header === 'string' && header) this.tokens.add(header);
    const cookie = setCookiePair(r.headers);
    if (cookie) this.cookies.add(cookie.slice(cookie.indexOf('=') + 1));
    try {
      const body = JSON.parse(r.body);
      if (typeof body?.token === 'string') this.tokens.add(body.token);
    } catch {
      // not JSON
    }
    return r;
  }
  /** The strings that must not be in a log, each with what it is. */
  needles(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const token of this.tokens) {
      const [, sid, , mac] = token.split('.');
      out.push([token, 'a token'], [sid!, 'the session id part of a token'], [mac!, 'the MAC of a token'], [Buffer.from(sid!, 'base64url').toString(), 'a session id (from a token)']);
    }
    for (const value of this.cookies) {
      const decoded = decodeURIComponent(value); // s:<sid>.<signature>
      const [sid, signature] = [decoded.slice(2, decoded.lastIndexOf('.')), decoded.slice(decoded.lastIndexOf('.') + 1)];
      if (!value) continue;
      out.push([value, 'a session cookie value'], [decoded, 'a decoded session cookie'], [sid, 'a session id (from a cookie)'], [signature, 'a cookie signature']);
    }
    return out.filter(([s]) => s.length >= 16);
  }
}

function forge(token: string): string {
  const parts = token.split('.');
  const mac = parts[3]!;
  parts[3] = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
  return parts.join('.');
}

/**
 * Opens a websocket with `token`; resolves with the messages received and the close code (after `script`). `next()`
 * reads messages in order from an inbox filled from the start: a server that sends on 'connection' can have its
 * first message in the same TCP read as the handshake response, emitted before any listener added after 'open'.
 */
async function socket(
  wsUrl: string,
  token: string,
  script: (ws: WebSocket, next: () => Promise<string>) => Promise<void> = async () => {},
): Promise<{ code: number; messages: string[] }> {
  const ws = new WebSocket(wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
  const messages: string[] = [];
  let read = 0;
  const waiting: Array<() => void> = [];
  ws.on('message', (d) => {
    messages.push(String(d));
    waiting.shift()?.();
  });
  const next = async (): Promise<string> => {
    while (read >= messages.length) await new Promise<void>((resolve) => waiting.push(resolve));
    return messages[read++]!;
  };
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const opened = await Promise.race([once(ws, 'open').then(() => true), closed.then(() => false)]);
  if (opened) {
    await script(ws, next);
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  }
  return { code: await closed, messages };
}

function assertNoLeak(output: string, secrets: Secrets, what: string): void {
  const needles = secrets.needles();
  assert.ok(secrets.tokens.size >= 2 && secrets.cookies.size >= 1, `the flow saw tokens and cookies (${secrets.tokens.size}, ${secrets.cookies.size})`);
  for (const [needle, kind] of needles) {
    const at = output.indexOf(needle);
    assert.equal(at, -1, `${what}: ${kind} appears in the logs: …${output.slice(Math.max(0, at - 200), at + needle.length + 50)}…`);
  }
}

const otherSecretToken = () => signToken('a-session-of-another-server-xyz', Date.now() + 60_000, [deriveTokenKey(OLD_SECRET)]);

describe('attack: no token or session id in the logs', () => {
  test('the demo server (Express 5), DEBUG=* NODE_DEBUG=http,net, through a whole flow', { timeout: 150_000 }, async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'hs-leak-demo-'));
    const demo = await run(['demo/server.mjs'], { PORT: '0', STATIC_PORT: '0', DEMO_OUT_DIR: outDir }, /API \+ SPA[^:]*:\s+(http:\/\/127\.0\.0\.1:\d+)\//);
    const api = demo.match[1]!;
    const wsUrl = api.replace('http', 'ws');
    const secrets = new Secrets();
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    try {
      const issued = secrets.take(await send(api + '/session/token', { method: 'POST' }));
      assert.equal(issued.status, 200);
      const t1 = JSON.parse(issued.body).token as string;
      const cookie = setCookiePair(issued.headers)!;
      assert.equal(secrets.take(await send(api + '/api/me', { headers: bearer(t1) })).status, 200);
      assert.equal(secrets.take(await send(api + '/api/me', { headers: { cookie } })).status, 200);

      const login = secrets.take(await send(api + '/api/login', { method: 'POST', headers: { ...bearer(t1), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice' }) }));
      assert.equal(login.status, 200);
      const t2 = login.headers['session-token'] as string;
      assert.ok(t2 && t2 !== t1, 'sign-in rotated the token');
      assert.equal(secrets.take(await send(api + '/api/count', { method: 'POST', headers: bearer(t2) })).status, 200);
      const bad = secrets.take(await send(api + '/api/login', { method: 'POST', headers: { ...bearer(t2), 'content-type': 'application/json' }, body: '{"name": tru' }));
      assert.equal(bad.status, 400);

      const live = await socket(wsUrl, t2, async (ws, next) => {
        assert.match(await next(), /"type":"state"/);
        ws.send('inc');
        assert.match(await next(), /"type":"count"/);
      });
      assert.equal(live.code, 1000);

      // Refusals: the pre-login token (its session was regenerated away), a forged one, another server's.
      assert.equal((await send(api + '/api/me', { headers: bearer(t1) })).status, 401);
      assert.equal((await send(api + '/api/me', { headers: bearer(forge(t2)) })).status, 401);
      assert.equal((await send(api + '/api/me', { headers: bearer(otherSecretToken()) })).status, 401);
      assert.equal((await socket(wsUrl, forge(t2))).code, 4401);
      assert.equal((await socket(wsUrl, t1)).code, 4401);
      const renewed = secrets.take(await send(api + '/session/token', { method: 'POST', headers: bearer(t2) }));
      assert.equal(JSON.parse(renewed.body).created, false);

      const out = secrets.take(await send(api + '/session/token', { method: 'DELETE', headers: bearer(t2) }));
      assert.equal(out.status, 204);
      assert.equal((await send(api + '/api/me', { headers: bearer(t2) })).status, 401, 'replay after logout');
      assert.equal((await socket(wsUrl, t2)).code, 4401, 'replay after logout (websocket)');
    } finally {
      await stop(demo.child);
      await rm(outDir, { recursive: true, force: true });
    }
    const output = demo.output();
    // The switches were on: otherwise this test would pass on an empty log.
    assert.match(output, /express:router|router /, 'DEBUG=* output present');
    assert.match(output, /HTTP \d+: /, 'NODE_DEBUG=http output present');
    assert.match(output, /NET \d+: /, 'NODE_DEBUG=net output present');
    assertNoLeak(output, secrets, 'demo server');
    console.log(`# demo: ${output.length} bytes of logs searched for ${secrets.needles().length} secrets (${secrets.tokens.size} tokens, ${secrets.cookies.size} cookies)`);
  });

  test('a SocketStream-facade app, DEBUG=* NODE_DEBUG=http,net, through a whole flow (RPC, setUserId, a throwing route and action)', { timeout: 90_000 }, async () => {
    const app = await run(['test/attack/leak-facade.mjs'], {}, /READY (\d+)/);
    const base = `http://127.0.0.1:${app.match[1]}`;
    const wsUrl = base.replace('http', 'ws') + '/ws';
    const secrets = new Secrets();
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    try {
      const issued = secrets.take(await send(base + '/session/token', { method: 'POST' }));
      const t1 = JSON.parse(issued.body).token as string;
      const cookie = setCookiePair(issued.headers)!;
      assert.equal(secrets.take(await send(base + '/me', { headers: bearer(t1) })).status, 200);
      assert.equal(secrets.take(await send(base + '/me', { headers: { cookie } })).status, 200);
      const login = secrets.take(await send(base + '/login', { headers: bearer(t1) }));
      assert.equal(login.status, 200);
      const t2 = login.headers['session-token'] as string;
      assert.ok(t2 && t2 !== t1, 'setUserId rotated the token');
      assert.equal(secrets.take(await send(base + '/boom', { headers: bearer(t2) })).status, 500);

      const rpc = await socket(wsUrl, t2, async (ws, next) => {
        for (const [id, method] of [[1, 'app.incr'], [2, 'app.boom'], [3, 'app.nope']] as const) {
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: [] }));
          const msg = JSON.parse(await next());
          assert.equal(msg.id, id);
        }
        ws.send('{not json');
        assert.match(await next(), /-32700/);
      });
      assert.equal(rpc.code, 1000);

      assert.equal((await send(base + '/me', { headers: bearer(forge(t2)) })).status, 401);
      assert.equal((await send(base + '/me', { headers: bearer(otherSecretToken()) })).status, 401);
      assert.equal((await socket(wsUrl, forge(t2))).code, 4401);
      assert.equal(secrets.take(await send(base + '/session/token', { method: 'DELETE', headers: bearer(t2) })).status, 204);
      assert.equal((await send(base + '/me', { headers: bearer(t2) })).status, 401, 'replay after logout');
      assert.equal((await socket(wsUrl, t2)).code, 4401, 'replay after logout (websocket)');
    } finally {
      await stop(app.child);
    }
    const output = app.output();
    assert.match(output, /HTTP \d+: /, 'NODE_DEBUG=http output present');
    assert.match(output, /route failed on purpose/, 'the failing route was logged (so errors do reach the log)');
    assertNoLeak(output, secrets, 'facade app');
    console.log(`# facade: ${output.length} bytes of logs searched for ${secrets.needles().length} secrets`);
  });
});
