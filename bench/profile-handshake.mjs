#!/usr/bin/env node
// Profiles authenticated websocket handshakes the way websocket.benchmark.mjs's server.ws-handshake row drives them
// (memory store, 4 `ws` clients at a time in a child process, subprotocols ["hybrid-session",
// "hybrid-session.bearer.<token>"]), so the server's own CPU is all that is in the profile. Not a bench row:
// The profile covers the measured batch only (node:inspector, started after the warm-up), not start-up:
//   node bench/profile-handshake.mjs [ours|bare] [n] [out.cpuprofile]
//   node bench/lib/cpuprofile-top.mjs out.cpuprofile
import { WebSocketServer } from 'ws';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpuDuring, startLoadgen } from './lib/load.mjs';
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
if (which === 'bare') server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
else hs.attach(server, wss);
const { token } = await newSession(hs, url);
const loadgen = startLoadgen();
const target = { url: url.replace('http', 'ws') + '/ws', protocols: [SUBPROTOCOL, `hybrid-session.bearer.${token}`], concurrency: 4 };
await loadgen.ws({ ...target, n: Number(process.env.WARMUP ?? 1000) }); // warm-up: JIT, pools
// out '-': no profile (e.g. under `valgrind --tool=callgrind`, whose instruction counts do not depend on the load).
const inspector = out === '-' ? undefined : new Session();
if (inspector) {
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 100 });
  await inspector.post('Profiler.start');
}
const { cpuUs, result } = await cpuDuring(() => loadgen.ws({ ...target, n }));
if (inspector) {
  const { profile } = await inspector.post('Profiler.stop');
  writeFileSync(out, JSON.stringify(profile));
  inspector.disconnect();
}
console.log(`${which}: ${n} handshakes, ${JSON.stringify(result.outcomes)}, ${(n / (cpuUs / 1e6)).toFixed(0)} per server CPU-s, ${(cpuUs / n).toFixed(0)} µs each (profiled); ${out}`);
await loadgen.stop();
hs.close();
await close(server);
