// Redis round trips per operation (issue 17): the server's connect-redis store (node-redis client) talks to a real
// redis-server through a counting proxy (lib/redis-counter.mjs), and each scenario is run alone, counting what went
// over the wire for it: the common cases (a bearer request, a handshake, both on a session in use) and the ones that
// write (a new session, the first use of a provisional one, a renewal at the endpoint, a rotation past half-life, a
// websocket's throttled touch). Counts, not timings: the figures do not depend on the machine.
import express from 'express';
import WebSocket, { WebSocketServer } from 'ws';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { notRun, report } from './lib/report.mjs';
import { close, listen, serverOrNotRun } from './lib/server-setup.mjs';
import { startRedisCounter } from './lib/redis-counter.mjs';

const ROW = 'server.redis-round-trips';
const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
const REPEAT = 20;

const mod = await serverOrNotRun([ROW]);
let redis;
try {
  const { noRedis } = await import('../test/helpers/env.ts');
  if (noRedis) throw new Error(noRedis);
  const { startRedis } = await import('../test/helpers/redis-server.ts');
  redis = await startRedis();
} catch (err) {
  notRun(ROW, err.message.split('\n')[0]);
  process.exit(0);
}
const { hybridSession, SUBPROTOCOL = 'hybrid-session' } = mod;
const { createClient } = await import('redis');
const { RedisStore } = await import('connect-redis');
const counter = await startRedisCounter({ port: redis.port });
const cleanup = [];

/** One app (Express + hs.middleware + hs.attach) on a connect-redis store whose client goes through the counter. */
async function app(options = {}) {
  const client = createClient({ url: counter.url });
  client.on('error', () => {});
  await client.connect();
  const hs = hybridSession({ secret: SECRET, store: new RedisStore({ client, prefix: 'rt:' }), ...options });
  const e = express();
  e.use(hs.middleware);
  e.get('/n', (req, res) => res.end(String(req.session?.n ?? 'none')));
  const { server, url } = await listen(e);
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('message', () => ws.send('pong'));
    ws.send('ok');
  });
  hs.attach(server, wss);
  cleanup.push(async () => {
    hs.close();
    await close(server);
    await client.quit().catch(() => client.disconnect?.());
  });
  return { hs, url };
}

/** Waits for the store's traffic of what just happened to settle (a touch after a message is not awaited by anyone). */
async function settle() {
  await sleep(150);
}

/** Runs `fn` `times` times; the round trips and commands per run, and the commands' names. */
async function count(fn, times = 1) {
  await settle();
  counter.snapshot();
  for (let i = 0; i < times; i++) await fn(i);
  await settle();
  const s = counter.snapshot();
  return { roundTrips: s.roundTrips / times, commands: s.commands / times, byName: Object.fromEntries(Object.entries(s.byName).map(([k, v]) => [k, v / times])) };
}

async function newToken(url) {
  const res = await fetch(url + '/session/token', { method: 'POST' });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
  return (await res.json()).token;
}

async function request(url, token) {
  const res = await fetch(url + '/n', { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /n answered ${res.status}: ${body}`);
  return res.headers.get('session-token');
}

function open(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('http', 'ws') + '/ws', [SUBPROTOCOL, `hybrid-session.bearer.${token}`]);
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code} before the first message`)));
  });
}

async function handshake(url, token) {
  const ws = await open(url, token);
  await new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close();
  });
}

const rows = {};
try {
  const a = await app();
  rows['new session (POST tokenPath, no credentials)'] = await count(() => newToken(a.url));
  let token = await newToken(a.url);
  rows['first bearer request of a provisional session'] = await count(() => request(a.url, token));
  rows['bearer request, common case'] = await count(() => request(a.url, token), REPEAT);
  token = await newToken(a.url);
  rows['first handshake of a provisional session'] = await count(() => handshake(a.url, token));
  rows['handshake, common case'] = await count(() => handshake(a.url, token), REPEAT);
  rows['renewal at the endpoint (POST tokenPath with the bearer, not near expiry)'] = await count(async () => {
    const res = await fetch(a.url + '/session/token', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await res.text();
  });

  // Rotation: a 6 s token is past half its life after 3 s; the first request then rotates, and the old token is
  // still unexpired (and within the grace) for the scenario after.
  const r = await app({ tokenMaxAge: 6000 });
  const short = await newToken(r.url);
  await request(r.url, short);
  await sleep(3100);
  let renewed;
  rows['rotation (bearer request past the token\'s half-life)'] = await count(async () => {
    renewed = await request(r.url, short);
  });
  if (!renewed) throw new Error('no Session-Token after half-life: the rotation scenario did not rotate');
  rows['the old token within the rotation grace'] = await count(() => request(r.url, short));
  rows['first request with the rotated token'] = await count(() => request(r.url, renewed));

  // A websocket's throttled touch: maxAge 4 s → touchInterval 1 s; a message after that touches once.
  const t = await app({ maxAge: 4000 });
  const tt = await newToken(t.url);
  const ws = await open(t.url, tt);
  rows['websocket message within touchInterval'] = await count(async () => {
    ws.send('ping');
    await new Promise((resolve) => ws.once('message', resolve));
  });
  await sleep(1100);
  rows['websocket message after touchInterval (throttled touch)'] = await count(async () => {
    ws.send('ping');
    await new Promise((resolve) => ws.once('message', resolve));
  });
  ws.close();

  const request1 = rows['bearer request, common case'].roundTrips;
  const handshake1 = rows['handshake, common case'].roundTrips;
  const names = (row) => Object.entries(row.byName).map(([k, v]) => (v === 1 ? k : `${v}× ${k}`)).join(' + ') || 'none';
  report({
    id: ROW,
    value: Math.max(request1, handshake1),
    met: request1 <= 1 && handshake1 <= 1,
    display: {
      ours: `bearer request ${request1} (${names(rows['bearer request, common case'])}), handshake ${handshake1} (${names(rows['handshake, common case'])})`,
      baseline: '—',
      ratio: '—',
      short: `${request1} per bearer request, ${handshake1} per handshake`,
    },
    notes: Object.entries(rows)
      .filter(([k]) => !k.endsWith('common case'))
      .map(([k, v]) => `${k}: ${v.roundTrips} (${names(v)})`)
      .join('; '),
    extra: rows,
  });
  for (const [k, v] of Object.entries(rows)) console.error(`    ${k}: ${v.roundTrips} round trip(s), ${names(v)}`);
} catch (err) {
  console.error(err);
  notRun(ROW, err.message.split('\n')[0]);
} finally {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await counter.close();
  await redis.stop();
}
