/**
 * Parent side of fixtures/target.ts: start it in its own process, ask it for figures over IPC, count its file
 * descriptors, raw TCP clients that reset mid-handshake, and a stop that tells a crash from a clean exit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const FIXTURE = new URL('./fixtures/target.ts', import.meta.url).pathname;

export interface TargetStats {
  heap: number;
  running: number;
  maxRunning: number;
  started: number;
  appErrors: string[];
  /** TCP connections the http.Server holds (websockets included). */
  connections: number;
}

export interface Target {
  port: number;
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the child wrote to stdout and stderr. */
  output(): string;
  /** null while the process lives; its exit code or signal once it has gone. */
  exited(): string | null;
  stats(): Promise<TargetStats>;
  command(cmd: string): Promise<unknown>;
  fds(): number;
  stop(): Promise<void>;
}

export async function startTarget(mode: 'attach' | 'plain' | 'facade', env: { store?: 'failing'; options?: Record<string, unknown>; heapMb?: number } = {}): Promise<Target> {
  const child = fork(FIXTURE, [], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...(env.heapMb ? [`--max-old-space-size=${env.heapMb}`] : [])],
    env: {
      ...process.env,
      NODE_ENV: 'test',
      TARGET_MODE: mode,
      TARGET_STORE: env.store ?? '',
      TARGET_OPTIONS: JSON.stringify(env.options ?? {}),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d) => (out += d));
  let exit: string | null = null;
  child.once('exit', (code, signal) => (exit = signal ?? String(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`target not ready within 60 s:\n${out}`)), 60_000);
    const onData = () => {
      const m = /READY (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`target exited before it listened (${exit}):\n${out}`));
    });
  });
  const ask = <T>(cmd: string) =>
    new Promise<T>((resolve, reject) => {
      if (exit !== null) return reject(new Error(`target has exited (${exit}):\n${out.slice(-4000)}`));
      const onExit = () => reject(new Error(`target exited (${exit}):\n${out.slice(-4000)}`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as T);
      });
      child.send({ cmd });
    });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    child,
    output: () => out,
    exited: () => exit,
    stats: () => ask<TargetStats>('stats'),
    command: (cmd) => ask(cmd),
    fds: () => readdirSync(`/proc/${child.pid}/fd`).length,
    async stop() {
      if (exit !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

export function upgradeRequest(path: string, headers: Record<string, string> = {}): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * A raw client that sends `payload`, then resets the connection (RST, not FIN) after `resetAfter`: 'write' at once,
 * 'first-byte' once the server starts answering. Resolves once the socket is closed, with what it received.
 */
export function resetClient(port: number, payload: string | Buffer, resetAfter: 'write' | 'first-byte'): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
    socket.on('connect', () => {
      socket.write(payload);
      if (resetAfter === 'write') socket.resetAndDestroy();
    });
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (resetAfter === 'first-byte' && !socket.destroyed) socket.resetAndDestroy();
    });
  });
}

/** A raw client that sends `payload` and waits (bounded by `ms`) for the server to answer and close. */
export function rawExchange(port: number, payload: string | Buffer, ms = 30_000): Promise<{ got: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('error', () => {});
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('end', () => (closedByServer = true));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ got, closedByServer });
    });
    socket.on('connect', () => socket.write(payload));
  });
}
