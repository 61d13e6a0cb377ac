// The load generator: a child process (so its CPU is not the server's) that runs one batch per IPC message and
// answers with how long it took. Started and driven by load.mjs.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const agents = new Map();
function agentFor(key, concurrency) {
  if (!agents.has(key)) agents.set(key, new http.Agent({ keepAlive: true, maxSockets: concurrency }));
  return agents.get(key);
}

function request(url, { method = 'GET', headers = {}, agent }) {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Per-request headers handed over before a batch (`stash`), so a batch whose requests each need their own header
 * (a DPoP proof is good once) costs the server process no IPC inside the timed window.
 */
const stashed = new Map();

/** n requests over `concurrency` keep-alive connections, each connection sequential; request i adds `stashed[each][i]`. */
async function httpBatch({ url, headers, method, n, concurrency = 1, each }) {
  const extra = each ? stashed.get(each) : null;
  if (each) stashed.delete(each);
  let i = 0;
  const agent = agentFor(`${url}|${concurrency}`, concurrency);
  const statuses = {};
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        const s = await request(url, { method, headers: extra ? { ...headers, ...extra[i++] } : headers, agent });
        statuses[s] = (statuses[s] ?? 0) + 1;
      }
    }),
  );
  return { ms: performance.now() - t0, statuses };
}

/** One handshake: open, wait for the server's first message (sent once it accepted the connection), close. */
function handshake(url, protocols, headers) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
    let outcome = 'no-message';
    ws.once('message', () => {
      outcome = 'ok';
      ws.close();
    });
    ws.once('error', () => (outcome = 'error'));
    ws.once('close', (code) => resolve(outcome === 'ok' ? 'ok' : `${outcome}:${code}`));
  });
}

async function wsBatch({ url, protocols, headers, n, concurrency = 4 }) {
  const outcomes = {};
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        const o = await handshake(url, protocols, headers);
        outcomes[o] = (outcomes[o] ?? 0) + 1;
      }
    }),
  );
  return { ms: performance.now() - t0, outcomes };
}

process.on('message', async (msg) => {
  try {
    if (msg.type === 'stash') stashed.set(msg.name, msg.headers);
    const result = msg.type === 'http' ? await httpBatch(msg) : msg.type === 'ws' ? await wsBatch(msg) : null;
    process.send({ id: msg.id, result });
  } catch (err) {
    process.send({ id: msg.id, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
