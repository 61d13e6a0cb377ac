/**
 * A JSON-RPC client on the real `ws` package, speaking to the facade the way the browser client does: the token
 * from POST /session/token offered as the bearer subprotocol.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { BEARER_PREFIX, SUBPROTOCOL, TOKEN_PATH, type TokenResponse } from '../../src/shared/protocol.ts';

export function baseUrl(server: Server): string {
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export async function getToken(base: string, init: RequestInit = {}): Promise<TokenResponse & { setCookie: string | null }> {
  const r = await fetch(`${base}${TOKEN_PATH}`, { method: 'POST', ...init });
  if (r.status !== 200) throw new Error(`POST ${TOKEN_PATH}: ${r.status} ${await r.text()}`);
  return { ...((await r.json()) as TokenResponse), setCookie: r.headers.get('set-cookie') };
}

export interface RpcResponse {
  jsonrpc: '2.0';
  id: number | string | null;
  result?: unknown;
  error?: { code: number; message: string; data?: { code: string | number } };
}

export interface RpcNotification {
  jsonrpc: '2.0';
  method: string;
  params: unknown[];
}

export class RpcClient {
  readonly ws: WebSocket;
  readonly notifications: RpcNotification[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;
  #pending = new Map<number | string | null, (r: RpcResponse) => void>();
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if ('method' in msg && !('id' in msg)) {
        this.notifications.push(msg);
        for (const w of this.#waiters.splice(0)) w();
        return;
      }
      const resolve = this.#pending.get(msg.id);
      if (resolve) {
        this.#pending.delete(msg.id);
        resolve(msg);
      } else if (msg.id === null) {
        this.#pending.get('raw')?.(msg);
        this.#pending.delete('raw');
      }
    });
  }

  static open(base: string, token: string | null, path = '/ws', headers: Record<string, string> = {}): Promise<RpcClient> {
    const protocols = token ? [SUBPROTOCOL, BEARER_PREFIX + token] : [SUBPROTOCOL];
    const ws = new WebSocket(base.replace(/^http/, 'ws') + path, protocols, { headers });
    const client = new RpcClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  call(method: string, params?: unknown[]): Promise<RpcResponse> {
    const id = this.#nextId++;
    return this.send({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }, id);
  }

  /** Sends anything (for malformed-request tests); resolves with the answer carrying `id` (or id null). */
  send(message: unknown, id: number | string | null = null): Promise<RpcResponse> {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    return new Promise((resolve, reject) => {
      this.#pending.set(id === null ? 'raw' : id, resolve);
      this.ws.send(text, (err) => err && reject(err));
      this.closed.then(({ code }) => reject(new Error(`socket closed (${code}) before an answer to ${text}`)));
    });
  }

  /** Resolves once a notification with `method` has arrived; rejects if the socket closes first. */
  async notification(method: string): Promise<RpcNotification> {
    let closed: { code: number } | undefined;
    void this.closed.then((c) => {
      closed = c;
      for (const w of this.#waiters.splice(0)) w();
    });
    for (;;) {
      const found = this.notifications.find((n) => n.method === method);
      if (found) return found;
      if (closed) throw new Error(`socket closed (${closed.code}) before a ${method} notification`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  close(): Promise<unknown> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    this.ws.close();
    return this.closed;
  }
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
