#!/usr/bin/env node
// scale-out.redis: N server processes (default 2) on one real redis-server (started here, stopped by pid), M websocket
// clients (default 50) on loopback, spread over the processes. Two phases:
//   1. handshakes: every client opens and closes its websocket H times (bearer subprotocol, answered after auth);
//   2. renew + write: K times, the two clients of a pair (one session, the two on different processes) renew at once
//      with the session's token (POST /session/token with the bearer, HTTP: one rotation, both get its token), then
//      both write the session (update(), over their websockets), so renewals and writes of one session race across
//      processes.
// Reports handshakes/s, requests/s (renewals + updates) and lost writes (each session must end at 2·K; must be 0).
// Not a test: rates depend on the machine. Servers use the built dist/server (run `npm run build` first).
//
//   node --import tsx bench/scale-out.mjs            (npm run bench runs it through bench/run.mjs)
//   SCALE_N=3 SCALE_M=100 SCALE_K=20 node --import tsx bench/scale-out.mjs
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { notRun, pick, report } from './lib/report.mjs';
import { loadServer } from './lib/server-setup.mjs';

const ID = 'scale-out.redis';
const self = fileURLToPath(import.meta.url);

if (process.env.SCALE_OUT_ROLE === 'server') await serve();
else await main();

// ---- one server process ----

async function serve() {
  const { hybridSession } = await loadServer();
  const { createClient } = await import('redis');
  const { RedisStore } = await import('connect-redis');
  const client = createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true });
  client.on('error', (error) => process.stderr.write(`redis: ${error.message}\n`));
  await client.connect();
  const hs = hybridSession({
    secret: process.env.SESSION_SECRET,
    store: new RedisStore({ client, prefix: 'bench-scale:' }),
    revocation: { redis: client },
  });
  const server = createServer((req, res) =>
    hs.middleware(req, res, (err) => {
      if (err) {
        res.statusCode = err.status ?? 500;
        return res.end();
      }
      if (req.url === '/count') return res.end(JSON.stringify({ count: req.session.count ?? 0 }));
      res.statusCode = 404;
      res.end();
    }),
  );
  const wss = new WebSocketServer({ noServer: true });
  hs.attach(server, wss);
  wss.on('connection', (ws) => {
    const handle = hs.sessionOf(ws);
    ws.on('error', () => {});
    ws.on('message', (data) => {
      if (String(data) !== 'incr') return;
      handle.update((s) => void (s.count = (s.count ?? 0) + 1)).then(
        (saved) => ws.send(`ok ${saved.count}`),
        (error) => ws.send(`error ${error.code ?? error.message}`),
      );
    });
    ws.send('ready'); // after authentication: the handshake is complete when this arrives
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`listening ${server.address().port}\n`);
  const stop = async () => {
    for (const ws of wss.clients) ws.terminate();
    server.closeAllConnections();
    server.close();
    await hs.close();
    client.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

// ---- the bench ----

function startServer(redisUrl, secret) {
  const child = spawn(process.execPath, [self], {
    env: { ...process.env, SCALE_OUT_ROLE: 'server', REDIS_URL: redisUrl, SESSION_SECRET: secret, BENCH_ROWS: '' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('a server process did not listen within 20 s')), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${m[1]}`, wsUrl: `ws://127.0.0.1:${m[1]}/` });
      }
    });
    child.once('exit', (code) => reject(new Error(`a server process exited (${code})`)));
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(child.pid, 'SIGTERM');
    setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid, 'SIGKILL'), 3000).unref();
  });
}

/** Opens a websocket with the token and waits for the server's first message (sent once authenticated). */
function open(wsUrl, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, ['hybrid-session', `hybrid-session.bearer.${token}`]);
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('handshake: no answer within 10 s'))), 10_000);
    ws.once('message', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`handshake closed ${code}`));
    });
    ws.on('error', () => {});
  });
}

function ask(ws, text) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer within 30 s')), 30_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(String(data));
    });
    ws.send(text);
  });
}

function closeWs(ws) {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
    setTimeout(() => (ws.terminate(), resolve()), 2000).unref();
  });
}

async function tokenFor(url, token) {
  const res = await fetch(`${url}/session/token`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
  return (await res.json()).token;
}

async function main() {
  const N = Number(process.env.SCALE_N ?? 2);
  const M = Number(process.env.SCALE_M ?? pick(50, 6));
  const K = Number(process.env.SCALE_K ?? pick(20, 2));
  const H = Number(process.env.SCALE_H ?? pick(10, 2));
  let startRedis;
  try {
    const { noRedis } = await import('../test/helpers/env.ts');
    if (noRedis) return notRun(ID, noRedis);
    await loadServer();
    ({ startRedis } = await import('../test/helpers/redis-server.ts'));
    await import('redis');
    await import('connect-redis');
  } catch (error) {
    return notRun(ID, error.message);
  }

  const redis = await startRedis();
  const servers = [];
  try {
    const secret = randomBytes(32).toString('base64url');
    servers.push(...(await Promise.all(Array.from({ length: N }, () => startServer(redis.url, secret)))));
    // Client i is on process i mod N and shares session ⌊i/2⌋ with its pair, on another process when N > 1.
    const sessions = Math.ceil(M / 2);
    const sessionTokens = await Promise.all(Array.from({ length: sessions }, (_, s) => tokenFor(servers[s % N].url)));
    const clients = Array.from({ length: M }, (_, i) => ({ server: servers[i % N], token: sessionTokens[Math.floor(i / 2)], session: Math.floor(i / 2) }));

    // Warm-up: one handshake and one write per process.
    for (const server of servers) {
      const ws = await open(server.wsUrl, sessionTokens[0]);
      await closeWs(ws);
    }

    // Phase 1: handshakes.
    let t0 = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        for (let h = 0; h < H; h++) await closeWs(await open(c.server.wsUrl, c.token));
      }),
    );
    const handshakeSec = (performance.now() - t0) / 1000;
    const handshakes = M * H;

    // Phase 2: renew + write, K times per client, every client at once.
    const errors = [];
    const sockets = await Promise.all(clients.map((c) => open(c.server.wsUrl, c.token)));
    t0 = performance.now();
    // The two clients of a pair renew at once with the session's current token, as two tabs of one device behind
    // two processes do: one renewal rotates, the other gets the same new generation (DESIGN "Token rotation": the
    // lost-answer rule), and both go on with it. (Two clients renewing one session each on its own chain would be
    // the copied-token case, and end the session as reuse.)
    const pairs = Array.from({ length: sessions }, (_, s) => ({ token: sessionTokens[s], members: clients.map((c, i) => ({ c, i })).filter(({ c }) => c.session === s) }));
    await Promise.all(
      pairs.map(async (pair) => {
        for (let k = 0; k < K; k++) {
          try {
            const renewed = await Promise.all(pair.members.map(({ c }) => tokenFor(c.server.url, pair.token)));
            if (new Set(renewed).size !== 1) errors.push(`one renewal, ${new Set(renewed).size} tokens`);
            pair.token = renewed[0];
            for (const { c } of pair.members) c.token = pair.token;
            const answers = await Promise.all(pair.members.map(({ i }) => ask(sockets[i], 'incr')));
            errors.push(...answers.filter((a) => !a.startsWith('ok')));
          } catch (error) {
            errors.push(error.message);
          }
        }
      }),
    );
    const writeSec = (performance.now() - t0) / 1000;
    await Promise.all(sockets.map(closeWs));
    const requests = M * K * 2;

    // Lost writes: every session must hold exactly (clients in it) × K, read back through another process.
    let lost = 0;
    let doubled = 0;
    for (let s = 0; s < sessions; s++) {
      const members = clients.filter((c) => c.session === s);
      const reader = servers[(s + 1) % N];
      const res = await fetch(`${reader.url}/count`, { headers: { authorization: `Bearer ${members[0].token}` } });
      const { count } = await res.json();
      lost += Math.max(0, members.length * K - count);
      doubled += Math.max(0, count - members.length * K);
    }

    const handshakeRate = handshakes / handshakeSec;
    const requestRate = requests / writeSec;
    const writes = M * K;
    report({
      id: ID,
      met: lost === 0 && doubled === 0 && errors.length === 0,
      display: {
        ours: `${N} processes × ${M} clients: ${Math.round(handshakeRate).toLocaleString('en-US')} handshakes/s, ${Math.round(requestRate).toLocaleString('en-US')} requests/s (renew + update), ${lost} of ${writes.toLocaleString('en-US')} writes lost`,
        baseline: '—',
        ratio: '—',
        short: `${Math.round(handshakeRate)} hs/s, ${Math.round(requestRate)} req/s, ${lost} lost`,
      },
      notes: [errors.length ? `${errors.length} failed calls, first: ${errors[0]}` : '', doubled ? `${doubled} writes applied twice` : ''].filter(Boolean).join('; ') || undefined,
      extra: { processes: N, clients: M, handshakesPerClient: H, writesPerClient: K, handshakes, handshakeSec, requests, writeSec, writes, lost, doubled, errors: errors.length },
    });
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
    await redis.stop();
  }
}
