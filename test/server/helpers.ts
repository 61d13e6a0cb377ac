/** Shared by the server tests: a strong test secret, servers on 127.0.0.1:0, a store that counts its calls. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import session from 'express-session';
import { WebSocket, WebSocketServer } from 'ws';
import { close, listen } from '../helpers/net.ts';
import { hybridSession } from '../../src/server/index.ts';
import type { HybridSession, HybridSessionOptions } from '../../src/server/index.ts';

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop-QRSTUV';
export const OLD_SECRET = 'old-secret-zyxwvutsrqponm-9876543210-ABCDEFG';

/** Wraps any store so tests can count (and break) its calls. */
export function countingStore<S extends session.Store>(store: S): S & { calls: Record<string, number>; failGet?: Error | null; reset(): void } {
  const s = store as S & { calls: Record<string, number>; failGet?: Error | null; reset(): void };
  s.calls = { get: 0, set: 0, destroy: 0, touch: 0 };
  s.failGet = null;
  s.reset = () => {
    for (const k of Object.keys(s.calls)) s.calls[k] = 0;
  };
  for (const name of ['get', 'set', 'destroy', 'touch'] as const) {
    const orig = (store as unknown as Record<string, Function>)[name];
    if (typeof orig !== 'function') continue;
    (store as unknown as Record<string, Function>)[name] = function (this: unknown, ...args: unknown[]) {
      s.calls[name] = (s.calls[name] ?? 0) + 1;
      if (name === 'get' && s.failGet) {
        const cb = args[1] as (err: unknown) => void;
        const err = s.failGet;
        setImmediate(() => cb(err));
        return;
      }
      return orig.apply(this, args);
    };
  }
  return s;
}

export interface TestApp {
  hs: HybridSession;
  server: Server;
  wss: WebSocketServer;
  url: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/**
 * A plain http server running hs.middleware then `handler`, with hs.attach'ed websockets that answer
 * {"sid": …} to any message. `options.secret` defaults to SECRET.
 */
export async function startApp(
  options: Partial<HybridSessionOptions> = {},
  handler: (req: IncomingMessage & { session?: any; sessionID?: string }, res: ServerResponse) => void | Promise<void> = defaultHandler,
  serverOptions: { maxHeaderSize?: number } = {},
): Promise<TestApp> {
  const hs = hybridSession({ secret: SECRET, ...options } as HybridSessionOptions);
  const server = createServer(serverOptions, (req, res) => {
    hs.middleware(req, res, (err?: unknown) => {
      if (err) {
        const e = err as { status?: number; code?: string; message?: string };
        res.statusCode = e.status ?? 500;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ error: e.code, message: e.message }));
        return;
      }
      Promise.resolve(handler(req as never, res)).catch((e) => {
        res.statusCode = 500;
        res.end(String(e?.stack ?? e));
      });
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('message', async (data) => {
      try {
        const msg = JSON.parse(String(data));
        const handle = hs.sessionOf(ws);
        if (msg.op === 'get') {
          const s = await handle.load();
          ws.send(JSON.stringify({ sid: handle.sessionID, data: s }));
        } else if (msg.op === 'set') {
          const s = await handle.load();
          Object.assign(s, msg.data);
          await handle.save();
          ws.send(JSON.stringify({ ok: true }));
        } else if (msg.op === 'incr') {
          const s = await handle.update((s) => {
            s.count = ((s.count as number) ?? 0) + 1;
          });
          ws.send(JSON.stringify({ count: s.count }));
        } else if (msg.op === 'regenerate') {
          const r = await handle.regenerate();
          ws.send(JSON.stringify({ sid: r.sessionID, token: r.token }));
        } else {
          ws.send(JSON.stringify({ sid: handle.sessionID }));
        }
      } catch (e) {
        ws.send(JSON.stringify({ error: (e as { code?: string }).code ?? String(e) }));
      }
    });
  });
  hs.attach(server, wss);
  const url = await listen(server);
  return {
    hs,
    server,
    wss,
    url,
    wsUrl: url.replace('http', 'ws'),
    async stop() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      hs.close();
      await close(server);
    },
  };
}

export async function defaultHandler(req: IncomingMessage & { session?: any; sessionID?: string }, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/set') {
    for (const [k, v] of url.searchParams) req.session[k] = v;
  } else if (url.pathname === '/regenerate') {
    await new Promise<void>((resolve, reject) => req.session.regenerate((err: unknown) => (err ? reject(err) : resolve())));
    req.session.user = url.searchParams.get('user') ?? 'someone';
  } else if (url.pathname === '/destroy') {
    await new Promise<void>((resolve, reject) => req.session.destroy((err: unknown) => (err ? reject(err) : resolve())));
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ destroyed: true }));
    return;
  } else if (url.pathname === '/incr') {
    await req.session.update((s: any) => {
      s.count = (s.count ?? 0) + 1;
    });
  }
  res.setHeader('Content-Type', 'application/json');
  const { cookie: _cookie, ...data } = req.session ?? {};
  res.end(JSON.stringify({ sid: req.sessionID, data }));
}

export function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** The `name=value` part of a Set-Cookie, for sending it back. */
export function cookiePair(res: Response, name = 'connect.sid'): string | undefined {
  const all = res.headers.getSetCookie();
  const c = all.find((v) => v.startsWith(name + '='));
  return c?.split(';')[0];
}

export async function getToken(url: string, init: RequestInit = {}): Promise<{ token: string; expiresAt: number; storage: string; created: boolean; cookie: string | undefined; res: Response }> {
  const res = await fetch(url + '/session/token', { method: 'POST', ...init });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { token: string; expiresAt: number; storage: string; created: boolean };
  return { ...body, cookie: cookiePair(res), res };
}

export interface WsResult {
  ws: WebSocket;
  protocol: string;
  headers: Record<string, string | string[] | undefined>;
  /** resolves with the close code */
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
}

/** Connects with the real ws client; records the raw handshake response headers. */
export function connect(url: string, protocols: string[] | undefined, options: ConstructorParameters<typeof WebSocket>[2] = {}): WsResult & { unexpected: Promise<number> } {
  const ws = new WebSocket(url, protocols, options);
  const result = { ws, protocol: '', headers: {} } as WsResult & { unexpected: Promise<number> };
  ws.on('upgrade', (res) => {
    result.headers = res.headers;
  });
  result.opened = new Promise((resolve, reject) => {
    ws.once('open', () => {
      result.protocol = ws.protocol;
      resolve();
    });
    ws.once('error', reject);
  });
  result.opened.catch(() => {});
  result.unexpected = new Promise((resolve) => ws.once('unexpected-response', (_req, res) => {
    resolve(res.statusCode ?? 0);
    res.resume();
  }));
  result.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  ws.on('error', () => {});
  return result;
}

/** Sends one JSON message and resolves with the next JSON reply. */
export function ask(ws: WebSocket, msg: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data))));
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
    ws.send(JSON.stringify(msg));
  });
}

/** The server side of the next websocket the app accepts. */
export function nextConnection(app: TestApp): Promise<WebSocket> {
  return new Promise((resolve) => app.wss.once('connection', (ws) => resolve(ws)));
}

/**
 * A raw upgrade request on a net socket (any bytes, no client-side validation). Resolves with the response head
 * exactly as the server wrote it and, after a 101 with `awaitClose`, the code of the server's first close frame.
 */
export function rawUpgrade(portNumber: number, headers: Record<string, string>, path = '/', awaitClose = false): Promise<{ head: string; status: number; closeCode: number | null }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port: portNumber, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      let closeCode: number | null = null;
      if (end !== -1) {
        const frame = buf.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
        if (frame.length >= 4 && (frame[0]! & 0x0f) === 0x8) closeCode = frame.readUInt16BE(2);
      }
      resolve({ head, status, closeCode });
    };
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${portNumber}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.setTimeout(10_000, () => {
      socket.destroy();
      if (!settled) reject(new Error('no answer'));
    });
    socket.on('error', (err) => (buf.length ? finish() : reject(err)));
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!text.startsWith('HTTP/1.1 101')) {
        // a refusal: wait for the body (Content-Length) or the close
        const len = Number(/\r\nContent-Length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? NaN);
        if (!Number.isNaN(len) && buf.length >= Buffer.byteLength(text.slice(0, end + 4), 'latin1') + len) finish();
        return;
      }
      if (!awaitClose || buf.length >= Buffer.byteLength(text.slice(0, end + 4), 'latin1') + 4) finish();
    });
    socket.on('close', finish);
    socket.write(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
  });
}
