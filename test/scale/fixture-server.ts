/**
 * One server process of the scale-out tests (run as `node --import tsx test/scale/fixture-server.ts`): Express + ws +
 * hybridSession on a connect-redis store, with the revocation bus on the same node-redis client — the setup the README
 * gives for several processes. Env: REDIS_URL, SESSION_SECRET, KEY_PREFIX (default 'scale:'), ROTATION_GRACE (ms).
 * Prints `listening <port>` once it listens on 127.0.0.1:0; exits on SIGTERM, or when its parent goes (stdin ends).
 *
 * HTTP: GET /reuses → { reuses } (the hs 'reuse' events this process saw); GET /data → { data }; POST /set?fruit=… ; POST /incr (update) → { count }; POST /destroy; POST /regenerate.
 * Websocket messages {id, op: 'get' | 'incr' | 'set' | 'destroy', fruit?} → {id, ok, data?, count?, error?}.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { hybridSession, isHybridSessionError } from '../../src/server/index.ts';

const url = process.env.REDIS_URL;
const secret = process.env.SESSION_SECRET;
if (!url || !secret) throw new Error('fixture-server: REDIS_URL and SESSION_SECRET are required');

// disableOfflineQueue: while Redis is away a command fails at once (503) instead of waiting; a short constant
// reconnect delay so the tests see Redis come back quickly.
const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 100 } });
let lastError = '';
client.on('error', (error: Error) => {
  // Redis errors name the server, never a session: safe to print; printed once per distinct message.
  if (error.message !== lastError) process.stderr.write(`redis: ${error.message}\n`);
  lastError = error.message;
});
client.on('ready', () => (lastError = ''));
await client.connect();

const hs = hybridSession({
  secret,
  store: new RedisStore({ client, prefix: process.env.KEY_PREFIX ?? 'scale:' }),
  revocation: { redis: client },
  ...(process.env.ROTATION_GRACE ? { rotationGrace: Number(process.env.ROTATION_GRACE) } : {}),
});
const reuses: unknown[] = [];
hs.on('reuse', (event) => reuses.push(event));

type Data = Record<string, unknown>;
const dataOf = (s: Data) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'cookie' && !k.startsWith('__')));
const codeOf = (err: unknown) => (isHybridSessionError(err) ? err.code : 'ERROR');
const statusOf = (err: unknown) => (isHybridSessionError(err) && err.status) || 500;
const cb = (fn: (done: (err?: unknown) => void) => void) => new Promise<void>((ok, fail) => fn((err) => (err ? fail(err) : ok())));

const app = express();
app.get('/reuses', (_req, res) => void res.json({ reuses }));
app.use(hs.middleware);
const route = (handler: (req: any, res: any) => Promise<void>) => (req: any, res: any) =>
  handler(req, res).catch((err) => {
    if (!res.headersSent) res.status(statusOf(err)).json({ error: codeOf(err) });
  });
app.get('/data', route(async (req, res) => void res.json({ data: dataOf(req.session) })));
app.post('/set', route(async (req, res) => {
  req.session.fruit = String(req.query.fruit);
  await cb((done) => req.session.save(done));
  res.json({ data: dataOf(req.session) });
}));
app.post('/incr', route(async (req, res) => {
  const saved = await req.session.update((s: Data) => {
    s.count = ((s.count as number) ?? 0) + 1;
  });
  res.json({ count: saved.count });
}));
app.post('/destroy', route(async (req, res) => {
  await cb((done) => req.session.destroy(done));
  res.status(204).end();
}));
app.post('/regenerate', route(async (req, res) => {
  await cb((done) => req.session.regenerate(done));
  req.session.user = 'signed-in';
  res.json({ ok: true }); // the new token rides in Session-Token
}));
app.use((err: unknown, _req: any, res: any, _next: unknown) => res.status(statusOf(err)).json({ error: codeOf(err) }));

const server = createServer(app);
const wss = new WebSocketServer({ noServer: true });
hs.attach(server, wss);
wss.on('connection', (ws: WebSocket) => {
  const handle = hs.sessionOf(ws);
  ws.on('error', () => {});
  ws.on('message', async (raw) => {
    let msg: { id?: unknown; op?: unknown; fruit?: unknown };
    try {
      msg = JSON.parse(String(raw));
    } catch {
      return;
    }
    const reply = (body: object) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ id: msg.id, ...body }));
    try {
      if (msg.op === 'get') reply({ ok: true, data: dataOf(await handle.load()) });
      else if (msg.op === 'incr') {
        const saved = await handle.update((s) => {
          s.count = ((s.count as number) ?? 0) + 1;
        });
        reply({ ok: true, count: saved.count });
      } else if (msg.op === 'set') {
        const saved = await handle.update((s) => {
          s.fruit = msg.fruit;
        });
        reply({ ok: true, data: dataOf(saved) });
      } else if (msg.op === 'destroy') {
        reply({ ok: true });
        await handle.destroy();
      } else reply({ ok: false, error: 'UNKNOWN_OP' });
    } catch (err) {
      reply({ ok: false, error: codeOf(err) });
    }
  });
});

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 2000).unref();
  for (const ws of wss.clients) ws.terminate();
  server.closeAllConnections();
  server.close();
  await hs.close();
  client.destroy();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test runner died without stopping us: do not outlive it.
process.stdin.on('end', stop);
process.stdin.resume();
