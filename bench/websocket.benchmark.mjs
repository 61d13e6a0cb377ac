// Websocket handshakes per second: a `ws` server (noServer) behind hs.attach, the client offering
// ["hybrid-session", "hybrid-session.bearer.<token>"], against the same `ws` server upgrading everything with no
// authentication (same offer, so the bytes on the wire match). A handshake counts once the server's first message
// arrives: it is sent from 'connection', which hs.attach emits only after authentication. Clients run in a child
// process (4 at a time), each opening, reading that message and closing. The figure is handshakes per second of
// server CPU (see `rate`); the wall-clock rate is in the notes.
import { WebSocketServer } from 'ws';
import { randomBytes } from 'node:crypto';
import { compare } from './lib/measure.mjs';
import { cpuDuring, startLoadgen } from './lib/load.mjs';
import { summarize } from './lib/stats.mjs';
import { notRun, pick, report } from './lib/report.mjs';
import { close, listen, serverOrNotRun, newSession, redisStore } from './lib/server-setup.mjs';

const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
// 500 per sample: at 200 one major GC or a stolen time slice moved a sample by up to ~30% (the committed range was 0.51–0.99×).
const N = pick(500, 20);
const CONCURRENCY = 4;

const mod = await serverOrNotRun(['server.ws-handshake', 'server.ws-handshake-redis']);
const { hybridSession, SUBPROTOCOL = 'hybrid-session' } = mod;
const loadgen = startLoadgen();
const servers = [];

const notFound = (req, res) => {
  res.statusCode = 404;
  res.end();
};

async function oursOn(store) {
  const hs = hybridSession({ secret: SECRET, ...(store ? { store } : {}) });
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.send('ok'));
  const { server, url } = await listen((req, res) => hs.middleware(req, res, () => notFound(req, res)));
  hs.attach(server, wss);
  servers.push(server);
  const { token } = await newSession(hs, url);
  return { hs, wss, url: url.replace('http', 'ws') + '/ws', protocols: [SUBPROTOCOL, `hybrid-session.bearer.${token}`] };
}

async function plain() {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.send('ok'));
  const { server, url } = await listen(notFound);
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  servers.push(server);
  return { wss, url: url.replace('http', 'ws') + '/ws' };
}

/**
 * One batch of N handshakes. Returns handshakes per second of this (server) process's CPU time, the rate a
 * saturated server sustains, which another process's burst on this shared machine does not distort; the wall-clock
 * rate goes to `wall`. With `clock: 'wall'` the wall rate is the figure (the Redis row: the server waits on redis).
 */
const rate = (target, protocols, wall, clock = 'cpu') => async () => {
  const { cpuUs, result: r } = await cpuDuring(() => loadgen.ws({ url: target.url, protocols, n: N, concurrency: CONCURRENCY }));
  if (r.outcomes.ok !== N) throw new Error(`handshakes failed: ${JSON.stringify(r.outcomes)}`);
  const wallRate = N / (r.ms / 1000);
  wall.push(wallRate);
  return clock === 'cpu' ? N / (cpuUs / 1e6) : wallRate;
};

try {
  const ours = await oursOn();
  const base = await plain();
  const wallOurs = [];
  const wallBase = [];
  const r = await compare(rate(ours, ours.protocols, wallOurs), rate(base, ours.protocols, wallBase), {
    sampled: true,
    unit: 'handshakes/CPU-s',
    warmup: 2,
    runs: pick(21, 3),
  });
  // Warm-up batches are the first two of each.
  const wo = summarize(wallOurs.slice(2), 'handshakes/s');
  const wb = summarize(wallBase.slice(2), 'handshakes/s');
  const wr = summarize(wo.samples.map((x, i) => x / wb.samples[i]), '×');
  report({
    id: 'server.ws-handshake',
    ...r,
    notes: `wall clock ${wo.median.toFixed(0)} vs ${wb.median.toFixed(0)} handshakes/s (${wr.median.toFixed(2)}×); ${N} per run, ${CONCURRENCY} clients at a time`,
    extra: { wallOurs: wo, wallBaseline: wb, wallRatio: wr },
  });

  let red;
  try {
    red = await redisStore();
    const onRedis = await oursOn(red.store);
    const rr = await compare(rate(onRedis, onRedis.protocols, [], 'wall'), rate(ours, ours.protocols, [], 'wall'), {
      sampled: true,
      unit: 'handshakes/s',
      warmup: 1,
      runs: pick(9, 3),
    });
    report({ id: 'server.ws-handshake-redis', ...rr, notes: `wall clock; redis-server pid ${red.pid}, connect-redis 9 + node-redis 6` });
    onRedis.hs.close?.();
  } catch (err) {
    notRun('server.ws-handshake-redis', err.message.split('\n')[0]);
  } finally {
    await red?.stop();
  }
  ours.hs.close?.();
} finally {
  await loadgen.stop();
  for (const s of servers) await close(s);
}
