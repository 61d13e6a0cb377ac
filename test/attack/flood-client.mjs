/**
 * The attacker of the flood tests, run in a worker thread so the flood and the server under test each get a core
 * (the server's event loop is what is measured; the client's own work would otherwise queue behind it).
 * workerData: { kind: 'ws' | 'http', url, count, concurrency, protocols?, method?, headers? }.
 * Posts { tally: { [close code or HTTP status]: n }, sessions: [distinct created sids count], ms }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'node:http';
import { WebSocket } from 'ws';

const { kind, url, count, concurrency } = workerData;
const tally = {};
const bump = (key) => (tally[key] = (tally[key] ?? 0) + 1);
let created = 0;
const cookies = new Set();

// One client: a keep-alive pool of `concurrency` connections, as a browser or a script would hold.
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function handshake(i) {
  return new Promise((resolve) => {
    const protocols = workerData.protocols ?? (i % 2 ? ['hybrid-session'] : []);
    // perMessageDeflate off: an attacker takes the cheapest handshake.
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('close', (code) => {
      bump(code);
      resolve();
    });
  });
}

function post() {
  return new Promise((resolve) => {
    const req = request(url, { method: workerData.method ?? 'POST', headers: workerData.headers ?? {}, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        bump(res.statusCode);
        if (res.statusCode === 200) {
          try {
            if (JSON.parse(body).created === true) created++;
          } catch {
            bump('bad-json');
          }
          const c = res.headers['set-cookie']?.[0]?.split(';')[0];
          if (c) cookies.add(c);
        }
        resolve();
      });
    });
    req.on('error', (err) => {
      bump(`error ${err.code ?? err.message}`);
      resolve();
    });
    req.end();
  });
}

const started = performance.now();
let next = 0;
const task = kind === 'ws' ? handshake : post;
await Promise.all(
  Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++);
  }),
);
agent.destroy();
parentPort.postMessage({ tally, created, distinctCookies: cookies.size, ms: Math.round(performance.now() - started) });
