#!/usr/bin/env node
// scale.sockets: what an open authenticated websocket costs the server, against the same socket on bare `ws`.
//
// One server process per side (Express + http.Server, a `ws` WebSocketServer in noServer mode; ours behind
// hs.attach, one session per socket in the default memory store; bare: handleUpgrade for everything), run with
// --expose-gc. Client child processes open sockets up to 1,000, then 5,000, then 10,000 and keep them open; at each
// size the server collects garbage and reports process.memoryUsage(): heap and RSS per socket = (now − before the
// first socket) / sockets. The sessions are made before that "before", so the per-socket figure is the socket's own
// cost (registry, heartbeat, what the handshake left behind); the stored session's cost is reported apart.
// At 10,000 the heartbeat's CPU per interval: server CPU over a window divided by the beats in it (pings sent /
// sockets), ours (option `heartbeat`) against ws's documented ping/pong pattern on the bare side.
//
//   node --expose-gc --import tsx bench/scale-sockets.benchmark.mjs     (npm run bench runs it through run.mjs)
//   SCALE_SIZES=1000,5000,10000 SCALE_CLIENTS=4 …
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { notRun, pick, report } from './lib/report.mjs';
import { summarize } from './lib/stats.mjs';

const ID = 'scale.sockets';
const HB_ID = 'scale.heartbeat';
const self = fileURLToPath(import.meta.url);
const SIZES = (process.env.SCALE_SIZES ?? pick('1000,5000,10000', '200,400')).split(',').map(Number);
const CLIENTS = Number(process.env.SCALE_CLIENTS ?? 4);
/** Heartbeat interval on both sides while measuring, and how long the CPU window is. */
const HEARTBEAT_MS = 5_000;
const HB_WINDOW_MS = pick(15_000, 5_000);

// ---- the server process ----

async function serve(mode) {
  const { WebSocketServer, WebSocket } = await import('ws');
  const { default: express } = await import('express');
  const { createServer } = await import('node:http');
  const { fakeRequest, fakeResponse } = await import('./lib/fake-request.mjs');
  // Every ping either side sends, so the heartbeat window knows how many beats it saw.
  let pings = 0;
  const ping = WebSocket.prototype.ping;
  WebSocket.prototype.ping = function countedPing(...args) {
    pings++;
    return ping.apply(this, args);
  };

  const app = express();
  const server = createServer(app);
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.send('ready'); // after authentication: the client counts the socket open when this arrives
  });
  let hs;
  if (mode === 'ours') {
    const { hybridSession } = await import('../dist/server/index.js');
    hs = hybridSession({ secret: process.env.SESSION_SECRET, heartbeat: HEARTBEAT_MS });
    app.use(hs.middleware);
    hs.attach(server, wss);
  } else {
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
    // ws's README "How to detect and close broken connections", the same interval.
    const alive = new WeakMap();
    wss.on('connection', (ws) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
    });
    setInterval(() => {
      for (const ws of wss.clients) {
        if (alive.get(ws) === false) {
          ws.terminate();
          continue;
        }
        alive.set(ws, false);
        ws.ping();
      }
    }, HEARTBEAT_MS).unref();
  }
  app.get('/', (req, res) => res.end('ok'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  const settle = () => new Promise((resolve) => setImmediate(resolve));
  async function memory() {
    for (let i = 0; i < 4; i++) {
      global.gc();
      await settle();
    }
    const m = process.memoryUsage();
    return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, sockets: wss.clients.size };
  }

  /** n sessions through the token endpoint (fake requests, no sockets: the HTTP side is not what is measured). */
  async function sessions(n) {
    const tokens = [];
    for (let done = 0; done < n; done += 500) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(500, n - done) }, async () => {
          const req = fakeRequest({ method: 'POST', url: hs.options.tokenPath });
          const { res, done: end } = fakeResponse(req);
          hs.middleware(req, res, (err) => {
            throw err ?? new Error('token endpoint fell through');
          });
          req.push(null);
          const out = await end;
          if (out.status !== 200) throw new Error(`token endpoint answered ${out.status}`);
          return JSON.parse(out.body).token;
        }),
      );
      tokens.push(...batch);
    }
    return tokens;
  }

  async function heartbeat(windowMs) {
    const p0 = pings;
    const c0 = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const c = process.cpuUsage(c0);
    const beats = (pings - p0) / Math.max(1, wss.clients.size);
    return { cpuUs: c.user + c.system, beats, sockets: wss.clients.size, cpuUsPerBeat: beats > 0 ? (c.user + c.system) / beats : null };
  }

  process.on('message', async (msg) => {
    try {
      let result;
      if (msg.cmd === 'memory') result = await memory();
      else if (msg.cmd === 'sessions') result = await sessions(msg.n);
      else if (msg.cmd === 'heartbeat') result = await heartbeat(msg.windowMs);
      process.send({ id: msg.id, result });
    } catch (err) {
      process.send({ id: msg.id, error: String(err?.stack ?? err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ listening: server.address().port });
}

// ---- a client process: opens sockets and keeps them open ----

function client() {
  const sockets = [];
  process.on('message', async (msg) => {
    if (msg.cmd !== 'open') return;
    const { WebSocket } = await import('ws');
    const failures = {};
    let next = 0;
    const openOne = (protocols) =>
      new Promise((resolve) => {
        const ws = new WebSocket(msg.url, protocols, { perMessageDeflate: false });
        let ok = false;
        ws.once('message', () => {
          ok = true;
          sockets.push(ws);
          resolve();
        });
        ws.on('error', () => {});
        ws.once('close', (code) => {
          if (ok) return;
          failures[code] = (failures[code] ?? 0) + 1;
          resolve();
        });
      });
    // A bounded number of handshakes in flight: thousands at once would only queue in the kernel's backlog.
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < msg.protocols.length) await openOne(msg.protocols[next++]);
      }),
    );
    process.send({ id: msg.id, result: { open: sockets.length, failures } });
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- the bench ----

/** A child with an fd limit raised to the hard limit (each socket is a descriptor on both ends). */
function child(env, execArgv = []) {
  const node = process.execPath;
  const args = [...execArgv, '--import', 'tsx', self];
  const c = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', node, ...args], {
    env: { ...process.env, ...env, BENCH_ROWS: '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let seq = 0;
  let onListening;
  const listening = new Promise((resolve, reject) => {
    onListening = resolve;
    c.once('exit', (code, signal) => reject(new Error(`a ${env.SCALE_SOCKETS_ROLE} process exited (${signal ?? code})`)));
  });
  listening.catch(() => {});
  c.on('message', (m) => {
    if (m.listening) return onListening(m.listening);
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p?.reject(new Error(m.error));
    else p?.resolve(m.result);
  });
  c.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`child exited (${signal ?? code})`));
    pending.clear();
  });
  return {
    listening,
    ask: (msg) =>
      new Promise((resolve, reject) => {
        const id = ++seq;
        pending.set(id, { resolve, reject });
        c.send({ ...msg, id });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.disconnect();
        setTimeout(() => c.exitCode === null && c.signalCode === null && process.kill(c.pid, 'SIGKILL'), 5000).unref();
      }),
  };
}

async function side(mode, secret) {
  const server = child({ SCALE_SOCKETS_ROLE: 'server', SCALE_SOCKETS_MODE: mode, SESSION_SECRET: secret }, ['--expose-gc']);
  const clients = Array.from({ length: CLIENTS }, () => child({ SCALE_SOCKETS_ROLE: 'client' }));
  try {
    const port = await server.listening;
    const url = `ws://127.0.0.1:${port}/ws`;
    const max = Math.max(...SIZES);
    const empty = await server.ask({ cmd: 'memory' });
    let offers;
    let session = null;
    if (mode === 'ours') {
      const tokens = await server.ask({ cmd: 'sessions', n: max });
      offers = tokens.map((t) => ['hybrid-session', `hybrid-session.bearer.${t}`]);
    } else {
      offers = Array.from({ length: max }, () => ['hybrid-session']);
    }
    console.error(`  ${mode}: server listening${mode === 'ours' ? `, ${max} sessions made` : ''}`);
    const before = await server.ask({ cmd: 'memory' });
    if (mode === 'ours') session = { heap: (before.heapUsed - empty.heapUsed) / max, rss: (before.rss - empty.rss) / max };
    const points = [];
    let opened = 0;
    const t0 = Date.now();
    for (const size of SIZES) {
      const batch = offers.slice(opened, size);
      const parts = clients.map((_, i) => batch.filter((_, j) => j % clients.length === i));
      const results = await Promise.all(clients.map((c, i) => c.ask({ cmd: 'open', url, protocols: parts[i] })));
      const failed = results.flatMap((r) => Object.entries(r.failures));
      if (failed.length) throw new Error(`${mode}: sockets refused: ${JSON.stringify(failed)}`);
      opened = size;
      console.error(`  ${mode}: ${size} sockets open after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const m = await server.ask({ cmd: 'memory' });
      if (m.sockets !== size) throw new Error(`${mode}: ${m.sockets} sockets open on the server, expected ${size}`);
      points.push({ sockets: size, heapPerSocket: (m.heapUsed - before.heapUsed) / size, rssPerSocket: (m.rss - before.rss) / size, heapUsed: m.heapUsed, rss: m.rss });
    }
    const openSec = (Date.now() - t0) / 1000;
    const hb = await server.ask({ cmd: 'heartbeat', windowMs: HB_WINDOW_MS });
    return { mode, points, session, heartbeat: hb, openSec };
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await server.stop();
  }
}

function kb(b) {
  return `${(b / 1024).toFixed(2)} KB`;
}

async function main() {
  try {
    const { loadServer } = await import('./lib/server-setup.mjs');
    await loadServer();
  } catch (err) {
    notRun(ID, err.message);
    notRun(HB_ID, err.message);
    return;
  }
  const secret = randomBytes(32).toString('base64url');
  let bare;
  let ours;
  try {
    // Bare first: its sockets' TIME_WAITs are on another server port, so they never collide with ours.
    bare = await side('bare', secret);
    ours = await side('ours', secret);
  } catch (err) {
    notRun(ID, err.message.split('\n')[0]);
    notRun(HB_ID, err.message.split('\n')[0]);
    return;
  }
  const ratios = ours.points.map((p, i) => p.heapPerSocket / bare.points[i].heapPerSocket);
  const rssRatios = ours.points.map((p, i) => p.rssPerSocket / bare.points[i].rssPerSocket);
  const per = (side, key) => side.points.map((p) => `${p.sockets.toLocaleString('en-US')}: ${kb(p[key])}`).join(', ');
  const ratioText = ratios.map((r, i) => `${ours.points[i].sockets.toLocaleString('en-US')}: ${r.toFixed(2)}×`).join(', ');
  const worst = Math.max(...ratios);
  report({
    id: ID,
    ours: summarize(ours.points.map((p) => p.heapPerSocket / 1024), 'KB heap/socket'),
    baseline: summarize(bare.points.map((p) => p.heapPerSocket / 1024), 'KB heap/socket'),
    ratio: summarize(ratios, '×'),
    met: worst <= 1.3,
    display: {
      ours: `heap/socket ${per(ours, 'heapPerSocket')}; RSS/socket ${per(ours, 'rssPerSocket')}; + ${kb(ours.session.heap)} heap per stored session`,
      baseline: `heap/socket ${per(bare, 'heapPerSocket')}; RSS/socket ${per(bare, 'rssPerSocket')}`,
      ratio: `heap ${ratioText}; RSS ${rssRatios.map((r) => `${r.toFixed(2)}×`).join(', ')}`,
      short: `heap ${ratioText}`,
    },
    notes: `sockets open in ${ours.openSec.toFixed(1)} s (ours) / ${bare.openSec.toFixed(1)} s (bare), ${CLIENTS} client processes; after gc()`,
    extra: { sizes: SIZES, ours: ours.points, baseline: bare.points, heapRatios: ratios, rssRatios, sessionCost: ours.session },
  });
  const hbOurs = ours.heartbeat;
  const hbBare = bare.heartbeat;
  const ms = (us) => `${(us / 1000).toFixed(1)} ms`;
  report({
    id: HB_ID,
    ours: summarize([hbOurs.cpuUsPerBeat / 1000], 'ms CPU/interval'),
    baseline: summarize([hbBare.cpuUsPerBeat / 1000], 'ms CPU/interval'),
    ratio: summarize([hbOurs.cpuUsPerBeat / hbBare.cpuUsPerBeat], '×'),
    display: {
      ours: `${ms(hbOurs.cpuUsPerBeat)} CPU per interval at ${hbOurs.sockets.toLocaleString('en-US')} sockets (${(hbOurs.cpuUsPerBeat / hbOurs.sockets).toFixed(2)} µs/socket)`,
      baseline: `${ms(hbBare.cpuUsPerBeat)} (${(hbBare.cpuUsPerBeat / hbBare.sockets).toFixed(2)} µs/socket)`,
      ratio: `${(hbOurs.cpuUsPerBeat / hbBare.cpuUsPerBeat).toFixed(2)}×`,
      short: `${ms(hbOurs.cpuUsPerBeat)} vs ${ms(hbBare.cpuUsPerBeat)} per beat`,
    },
    notes: `server CPU over ${HB_WINDOW_MS / 1000} s ÷ beats in it (pings ÷ sockets); pongs included; interval ${HEARTBEAT_MS} ms`,
    extra: { ours: hbOurs, baseline: hbBare },
  });
}

const role = process.env.SCALE_SOCKETS_ROLE;
if (role === 'server') await serve(process.env.SCALE_SOCKETS_MODE);
else if (role === 'client') client();
else await main();
