// Websocket handshakes per second: a `ws` server (noServer) behind hs.attach, the client offering
// ["hybrid-session", "hybrid-session.bearer.<token>"], against the same `ws` server upgrading everything with no
// authentication (same offer, so the bytes on the wire match). A handshake counts once the server's first message
// arrives: it is sent from 'connection', which hs.attach emits only after authentication. Clients run in a child
// process (4 at a time), each opening, reading that message and closing.
import { WebSocketServer } from 'ws';
import { randomBytes } from 'node:crypto';
import { compare } from './lib/measure.mjs';
import { startLoadgen } from './lib/load.mjs';
import { notRun, pick, report } from './lib/report.mjs';
import { close, listen, loadServer, newSession, redisStore } from './lib/server-setup.mjs';

const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
const N = pick(200, 20);
const CONCURRENCY = 4;

let mod;
try {
  mod = await loadServer();
} catch (err) {
  notRun('server.ws-handshake', err.message);
  notRun('server.ws-handshake-redis', err.message);
  process.exit(0);
}
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

const rate = (target, protocols) => async () => {
  const r = await loadgen.ws({ url: target.url, protocols, n: N, concurrency: CONCURRENCY });
  if (r.outcomes.ok !== N) throw new Error(`handshakes failed: ${JSON.stringify(r.outcomes)}`);
  return N / (r.ms / 1000);
};

try {
  const ours = await oursOn();
  const base = await plain();
  const r = await compare(rate(ours, ours.protocols), rate(base, ours.protocols), { sampled: true, unit: 'handshakes/s', warmup: 2, runs: pick(15, 3) });
  report({ id: 'server.ws-handshake', ...r, notes: `${N} handshakes per run, ${CONCURRENCY} clients at a time` });

  let red;
  try {
    red = await redisStore();
    const onRedis = await oursOn(red.store);
    const rr = await compare(rate(onRedis, onRedis.protocols), rate(ours, ours.protocols), { sampled: true, unit: 'handshakes/s', warmup: 1, runs: pick(7, 3) });
    report({ id: 'server.ws-handshake-redis', ...rr, notes: `redis-server pid ${red.pid}, connect-redis 9 + node-redis 6` });
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
