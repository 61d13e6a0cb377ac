#!/usr/bin/env node
// Profiles authenticated websocket handshakes the way websocket.benchmark.mjs's server.ws-handshake row drives them
// (memory store, 4 `ws` clients at a time in a child process, subprotocols ["hybrid-session",
// "hybrid-session.bearer.<token>"]), so the server's own CPU is all that is in the profile. Not a bench row:
// The profile covers the measured batch only (node:inspector, started after the warm-up), not start-up:
//   node bench/profile-handshake.mjs [ours|bare|floor] [n] [out.cpuprofile | -]
//   node bench/lib/cpuprofile-top.mjs out.cpuprofile
// `floor` is bare `ws` plus only what the issue calls necessary: one HMAC-SHA256 over the token's payload and one
// asynchronous JSON.parse of a stored session (the memory store's read), then the upgrade. Its rate against `bare`
// is the best the handshake row can reach while verifying the token and reading the store once; `ours` against
// `floor` is what our own code adds. With out '-' and many alternations the per-CPU-s figures compare (each batch
// moves ±20% on a shared VM, so alternate them: a single pair says little).
import { WebSocketServer } from 'ws';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { profileDuring, startLoadgen } from './lib/load.mjs';
import { close, listen, loadServer, newSession } from './lib/server-setup.mjs';

const which = process.argv[2] ?? 'ours';
const n = Number(process.argv[3] ?? 4000);
const out = process.argv[4] ?? `/tmp/handshake-${which}.cpuprofile`;
const { hybridSession, SUBPROTOCOL = 'hybrid-session' } = await loadServer();
const notFound = (req, res) => {
  res.statusCode = 404;
  res.end();
};
const hs = hybridSession({ secret: 'profile-' + randomBytes(24).toString('hex') });
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws) => ws.send('ok'));
// Both serve the token endpoint (the bare side needs a token to offer the same bytes); only the upgrade differs.
const { server, url } = await listen((req, res) => hs.middleware(req, res, () => notFound(req, res)));
const { token } = await newSession(hs, url);
const upgrade = (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
if (which === 'bare') server.on('upgrade', upgrade);
else if (which === 'floor') {
  const key = createSecretKey(randomBytes(32));
  // The token's second segment is its session id (base64url): the stored session the handshake would read.
  const sid = Buffer.from(token.split('.')[1], 'base64url').toString();
  const stored = await new Promise((resolve, reject) => hs.store.get(sid, (err, sess) => (err || !sess ? reject(err ?? new Error('no session')) : resolve(JSON.stringify(sess)))));
  const payload = token.slice(0, token.lastIndexOf('.'));
  server.on('upgrade', (req, socket, head) => {
    createHmac('sha256', key).update(payload).digest();
    new Promise((resolve) => setImmediate(() => resolve(JSON.parse(stored)))).then(() => upgrade(req, socket, head));
  });
} else hs.attach(server, wss);
const loadgen = startLoadgen();
const target = { url: url.replace('http', 'ws') + '/ws', protocols: [SUBPROTOCOL, `hybrid-session.bearer.${token}`], concurrency: 4 };
await loadgen.ws({ ...target, n: Number(process.env.WARMUP ?? 1000) }); // warm-up: JIT, pools
const { cpuUs, result } = await profileDuring(out, () => loadgen.ws({ ...target, n }));
console.log(`${which}: ${n} handshakes, ${JSON.stringify(result.outcomes)}, ${(n / (cpuUs / 1e6)).toFixed(0)} per server CPU-s, ${(cpuUs / n).toFixed(0)} µs each${out === '-' ? '' : ' (profiled)'}; ${out}`);
await loadgen.stop();
hs.close();
await close(server);
