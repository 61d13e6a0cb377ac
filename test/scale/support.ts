/**
 * Shared by the scale-out tests: server processes (fixture-server.ts) started as real children and stopped by pid,
 * a websocket client that asks and waits for its answer, a bounded poll, a loopback TCP relay that can make
 * Redis "go away" for the servers while redis-server keeps its data, and the opening of a suite on two processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { createClient } from 'redis';
import { after, before } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';

const FIXTURE = new URL('./fixture-server.ts', import.meta.url).pathname;

export const newSecret = () => randomBytes(32).toString('base64url');

export interface ServerProcess {
  url: string;
  wsUrl: string;
  pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try {
      process.kill(child.pid!, 'SIGTERM');
    } catch {
      return resolve();
    }
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }, 3000).unref();
  });
}

/** Starts fixture-server.ts in its own Node process; resolves once it listens (60 s bound: tsx compiles it first, slow on a loaded machine). */
export async function startServer(redisUrl: string, secret: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, REDIS_URL: redisUrl, SESSION_SECRET: secret, NODE_ENV: 'test', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('server process did not listen within 60 s')), 60_000);
    let failed = false;
    // The first reason is the one reported: stopping the child after a timeout fires 'exit' too.
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      stopChild(child).then(() => reject(new Error(`${err.message}\n${out}`)));
    };
    const onData = () => {
      const m = /listening (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => fail(new Error(`server process exited early (${signal ?? code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    pid: child.pid!,
    output: () => out,
    stop: () => stopChild(child),
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function newToken(url: string, headers: Record<string, string> = {}): Promise<{ token: string; created: boolean }> {
  const res = await fetch(`${url}/session/token`, { method: 'POST', headers });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
  return (await res.json()) as { token: string; created: boolean };
}

export interface Client {
  ws: WebSocket;
  opened: Promise<void>;
  /** Close code, and when it arrived (performance.now()). */
  closed: Promise<{ code: number; at: number }>;
  ask(msg: object, timeoutMs?: number): Promise<any>;
}

/** A websocket offering the token as the bearer subprotocol (as the client library does). */
export function connect(wsUrl: string, token: string | null): Client {
  const protocols = token ? ['hybrid-session', `hybrid-session.bearer.${token}`] : ['hybrid-session'];
  const ws = new WebSocket(wsUrl, protocols);
  const pending = new Map<number, (m: any) => void>();
  let next = 0;
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw));
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; at: number }>((resolve) => ws.once('close', (code) => resolve({ code, at: performance.now() })));
  ws.on('error', () => {});
  return {
    ws,
    opened,
    closed,
    ask(msg, timeoutMs = 10_000) {
      const id = ++next;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(msg)} within ${timeoutMs} ms`)), timeoutMs);
        pending.set(id, (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        ws.send(JSON.stringify({ ...msg, id }));
      });
    },
  };
}

/** The websockets a suite opens, so its `after` can terminate every one (`closeAll`). */
export function clientPool(): { open(server: ServerProcess, token: string | null): Client; closeAll(): void } {
  const clients: Client[] = [];
  return {
    open(server, token) {
      const c = connect(server.wsUrl, token);
      clients.push(c);
      return c;
    },
    closeAll() {
      for (const c of clients.splice(0)) c.ws.terminate();
    },
  };
}

/** Resolves with the close, or rejects after `ms`: every wait in these tests is bounded. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it returns true (every 50 ms, `ms` at most). */
export async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A node-redis client of the test's own, to look at Redis (PUBSUB NUMSUB, key counts) from outside the servers. */
export async function inspector(redisUrl: string) {
  const client = createClient({ url: redisUrl, socket: { reconnectStrategy: () => 100 } });
  client.on('error', () => {});
  await client.connect();
  return {
    client,
    async subscribers(channel = 'hybrid-session:revoked'): Promise<number> {
      const reply = (await client.sendCommand(['PUBSUB', 'NUMSUB', channel])) as unknown[];
      return Number(reply[1]);
    },
    async keys(prefix = 'scale:'): Promise<number> {
      return ((await client.keys(`${prefix}*`)) as string[]).length;
    },
    close: () => client.destroy(),
  };
}

/**
 * A TCP relay in front of redis-server: `down()` drops every connection and refuses new ones (Redis unreachable,
 * its data kept), `up()` listens on the same port again.
 */
export async function relay(targetPort: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((inbound) => {
        const outbound = createConnection({ port: targetPort, host: '127.0.0.1' });
        for (const s of [inbound, outbound]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => {
            sockets.delete(s);
            inbound.destroy();
            outbound.destroy();
          });
        }
        inbound.pipe(outbound).pipe(inbound);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    async down() {
      const s = server!;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    up: listen,
    close() {
      for (const socket of sockets) socket.destroy();
      server?.close();
    },
  };
}

/**
 * A two-process suite's opening: its own redis-server, processes A and B on it with one secret (and `env`), and with
 * `subscribed` only once both revocation buses listen; `got` receives them in `before`. `after` terminates the sockets
 * `open` made, then stops A, B and Redis.
 */
export function useTwoProcesses(
  { env = {}, subscribed = false }: { env?: Record<string, string>; subscribed?: boolean },
  got: (processes: { a: ServerProcess; b: ServerProcess }) => void,
): { open(server: ServerProcess, token: string | null): Client } {
  let redis: RedisServer | undefined;
  let started: ServerProcess[] = [];
  const secret = newSecret();
  const { open, closeAll } = clientPool();
  before(async () => {
    redis = await startRedis();
    // allSettled: a process that started is stopped in `after` even when the other one failed to.
    const starting = await Promise.allSettled([startServer(redis.url, secret, env), startServer(redis.url, secret, env)]);
    started = starting.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    for (const s of starting) if (s.status === 'rejected') throw s.reason;
    if (subscribed) {
      const look = await inspector(redis.url);
      try {
        await until(async () => (await look.subscribers()) === 2, 10_000, 'both buses subscribed');
      } finally {
        look.close();
      }
    }
    got({ a: started[0]!, b: started[1]! });
  });
  after(async () => {
    closeAll();
    await Promise.all(started.map((p) => p.stop()));
    await redis?.stop();
  });
  return { open };
}
