/**
 * The attacker of the flood tests, run in a worker thread so the flood and the server under test each get a core
 * (the server's event loop is what is measured; the client's own work would otherwise queue behind it).
 * workerData: { kind: 'ws' | 'http', url, count, concurrency, protocols?, method?, headers?, deadlineMs? }
 * (deadlineMs: an HTTP flood sends no new request after it — the bench's bound on a loaded machine; tests omit it).
 * Posts { tally: { [close code or HTTP status]: n }, sessions: [distinct created sids count], ms }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from 'node:net';
import { WebSocket } from 'ws';

const { kind, url, count, concurrency } = workerData;
const deadline = workerData.deadlineMs ? performance.now() + workerData.deadlineMs : Infinity;
const tally = {};
const bump = (key) => (tally[key] = (tally[key] ?? 0) + 1);
let created = 0;
const cookies = new Set();

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

/**
 * The HTTP flood on raw keep-alive connections, one request in flight on each (as `concurrency` browser
 * connections would hold): the request's bytes are built once, an answer is framed by its Content-Length (or
 * chunks), and only its status, first Set-Cookie and body are looked at. Node's http client costs about as much CPU
 * per request as the server's whole token endpoint; on a shared 2-core machine that halved the flood's rate.
 */
function httpConnection() {
  const target = new URL(url);
  const headers = { host: target.host, 'content-length': '0', ...(workerData.headers ?? {}) };
  const request = Buffer.from(
    `${workerData.method ?? 'POST'} ${target.pathname}${target.search} HTTP/1.1\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
      '\r\n',
    'latin1',
  );
  return new Promise((resolve) => {
    let socket;
    let buffer = Buffer.alloc(0);
    let inFlight = false;
    const sendNext = () => {
      if (next >= count || performance.now() > deadline) {
        socket.end();
        return;
      }
      next++;
      inFlight = true;
      socket.write(request);
    };
    const answered = (status, headerText, body) => {
      inFlight = false;
      bump(status);
      if (status === 200) {
        try {
          if (JSON.parse(body).created === true) created++;
        } catch {
          bump('bad-json');
        }
        const c = /^set-cookie:\s*([^;\r\n]*)/im.exec(headerText)?.[1];
        if (c) cookies.add(c);
      }
    };
    // One complete answer at the front of `buffer`: its length, or 0 while incomplete.
    const frame = () => {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return 0;
      const headerText = buffer.toString('latin1', 0, end);
      const status = Number(headerText.slice(9, 12));
      const length = /^content-length:\s*(\d+)/im.exec(headerText);
      let bodyStart = end + 4;
      if (length) {
        const total = bodyStart + Number(length[1]);
        if (buffer.length < total) return 0;
        answered(status, headerText, buffer.toString('utf8', bodyStart, total));
        return total;
      }
      if (!/^transfer-encoding:\s*chunked/im.test(headerText)) {
        bump('unframed');
        socket.destroy();
        return 0;
      }
      let body = '';
      for (;;) {
        const lineEnd = buffer.indexOf('\r\n', bodyStart);
        if (lineEnd < 0) return 0;
        const size = parseInt(buffer.toString('latin1', bodyStart, lineEnd), 16);
        if (buffer.length < lineEnd + 2 + size + 2) return 0;
        body += buffer.toString('utf8', lineEnd + 2, lineEnd + 2 + size);
        bodyStart = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      answered(status, headerText, body);
      return bodyStart;
    };
    const open = () => {
      buffer = Buffer.alloc(0);
      socket = connect(Number(target.port), target.hostname);
      socket.setNoDelay(true);
      socket.on('connect', sendNext);
      socket.on('data', (d) => {
        buffer = buffer.length ? Buffer.concat([buffer, d]) : d;
        for (let used = frame(); used > 0; used = frame()) {
          buffer = buffer.subarray(used);
          sendNext();
        }
      });
      let connected = false;
      socket.once('connect', () => (connected = true));
      socket.on('error', (err) => {
        // A connection that never opened costs one request, so a dead server ends the flood instead of spinning.
        if (!connected && next < count) next++;
        if (inFlight || !connected) bump(`error ${err.code ?? err.message}`);
        inFlight = false;
      });
      socket.on('close', () => {
        if (inFlight) bump('error closed');
        inFlight = false;
        // The server may close a keep-alive connection (Connection: close, a timeout): go on on a new one.
        if (next < count && performance.now() <= deadline) open();
        else resolve();
      });
    };
    open();
  });
}

const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, count) }, async () => {
    if (kind !== 'ws') return httpConnection();
    while (next < count) await handshake(next++);
  }),
);
parentPort.postMessage({ tally, created, distinctCookies: cookies.size, ms: Math.round(performance.now() - started) });
